/**
 * PKI fixtures for tests: CA certificates signed under a given issuer, with the knobs tests need
 * to build broken chains (not a CA, missing keyCertSign, expired, not yet valid).
 */
import type { KeyObject } from 'node:crypto';
import { nameDer } from '../../certs/asn1.ts';
import {
  authorityKeyIdentifier,
  basicConstraints,
  keyUsage,
  subjectKeyIdentifier,
  type KeyUsageName,
} from '../../certs/extensions.ts';
import { generateKey, keyIdentifier, spkiOf } from '../../certs/keys.ts';
import { parseCertificate, type Certificate } from '../../certs/parse.ts';
import { randomSerial } from '../../certs/root.ts';
import { signCertificate } from '../../certs/x509.ts';

/** A key and the certificate for it. */
export interface Signed {
  readonly key: KeyObject;
  readonly cert: Certificate;
}

/** Options for {@link signSubCa}. */
export interface SubCaOptions {
  /** Reference time for the default validity (a day before to a year after); default: now. */
  readonly now?: Date;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** basicConstraints CA flag; default true. */
  readonly ca?: boolean;
  readonly pathLen?: number;
  readonly usages?: KeyUsageName[];
  readonly trustDomain?: string;
}

const DAY = 86_400_000;

/** Signs a CA certificate named `cn` for a fresh P-256 key, issued by `issuer`. */
export function signSubCa(issuer: Signed, cn: string, opts: SubCaOptions = {}): Signed {
  const now = opts.now ?? new Date();
  const key = generateKey();
  const spki = spkiOf(key);
  const der = signCertificate(
    {
      serial: randomSerial(),
      issuer: issuer.cert.subject,
      subject: nameDer([
        { shortName: 'O', value: opts.trustDomain ?? 'cluster.local' },
        { shortName: 'CN', value: cn },
      ]),
      notBefore: opts.notBefore ?? new Date(now.getTime() - DAY),
      notAfter: opts.notAfter ?? new Date(now.getTime() + 365 * DAY),
      spki,
      extensions: [
        basicConstraints(opts.ca ?? true, opts.pathLen),
        keyUsage(opts.usages ?? ['digitalSignature', 'keyCertSign', 'cRLSign']),
        subjectKeyIdentifier(keyIdentifier(spki)),
        authorityKeyIdentifier(issuer.cert.subjectKeyId ?? keyIdentifier(issuer.cert.spki)),
      ],
    },
    issuer.key,
  );
  return { key, cert: parseCertificate(der) };
}
