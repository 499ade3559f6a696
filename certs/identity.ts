/**
 * Issuing an identity in-process (key, CSR, signature): for the CA's own serving certificate
 * and for `waymesh certs issue`. Remote workloads use the CA service instead.
 */
import { TrustBundle } from './bundle.ts';
import type { CertificateAuthority, IssuedCertificate } from './ca.ts';
import { createCsr } from './csr.ts';
import { generateKey, privateKeyToPem, type KeyKind } from './keys.ts';
import type { TlsIdentity } from './tls.ts';

/** A locally issued identity with its private key. */
export interface LocalIdentity extends TlsIdentity {
  readonly issued: IssuedCertificate;
}

/** Generates a key, builds a CSR for `spiffeId` and has `ca` sign it. */
export function issueLocalIdentity(
  ca: CertificateAuthority,
  spiffeId: string,
  options: { ttlSeconds?: number; keyKind?: KeyKind } = {},
): LocalIdentity {
  const key = generateKey(options.keyKind ?? 'ec-p256');
  const issued = ca.issue(createCsr(key, spiffeId), options.ttlSeconds);
  return {
    keyPem: privateKeyToPem(key),
    certChainPem: issued.certChainPem,
    bundle: new TrustBundle(ca.trustDomain, ca.material.roots),
    issued,
  };
}
