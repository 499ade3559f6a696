/** Human-facing facts about a certificate, for `waymesh certs inspect` and admin pages. */
import { X509Certificate } from 'node:crypto';
import { MeshError } from '../common/errors.ts';
import { certsFromPem } from './pem.ts';

/** What `certs inspect` shows for one certificate. */
export interface CertificateSummary {
  readonly subject: string;
  readonly issuer: string;
  readonly spiffeId: string | null;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly serial: string;
  readonly fingerprintSha256: string;
  readonly isCa: boolean;
  readonly keyUsage: readonly string[];
  readonly extKeyUsage: readonly string[];
}

/** Summarises every certificate in a PEM text (leaf first, as stored). */
export function inspectPem(pem: string, what: string): CertificateSummary[] {
  return certsFromPem(pem, what).map((c, i) => {
    let x: X509Certificate;
    try {
      x = new X509Certificate(c.der);
    } catch (err) {
      throw new MeshError(
        'CERT_MALFORMED',
        `${what}: OpenSSL cannot read certificate ${i + 1}: ${(err as Error).message}`,
      );
    }
    return {
      // Node reports an empty subject (usual for workload certificates) as undefined.
      subject: (x.subject as string | undefined)?.replaceAll('\n', ', ') ?? '',
      issuer: (x.issuer as string | undefined)?.replaceAll('\n', ', ') ?? '',
      spiffeId: c.uris.find((u) => u.startsWith('spiffe://')) ?? null,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      serial: c.serialHex,
      fingerprintSha256: x.fingerprint256,
      isCa: c.isCa,
      keyUsage: [...(c.keyUsage ?? [])],
      extKeyUsage: [...(c.extKeyUsage ?? [])],
    };
  });
}
