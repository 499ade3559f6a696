/**
 * Self-signed root CA generation. The root signs workload certificates directly unless the
 * user plugs in an intermediate (see `material.ts`).
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { validateTrustDomain } from '../common/spiffe.ts';
import { nameDer } from './asn1.ts';
import { basicConstraints, keyUsage, subjectKeyIdentifier } from './extensions.ts';
import { generateKey, keyIdentifier, spkiOf, type KeyKind } from './keys.ts';
import { caFilesOf, type CaFiles } from './material.ts';
import { parseCertificate, type Certificate } from './parse.ts';
import { signCertificate } from './x509.ts';

/** Options for {@link generateRoot}. */
export interface RootOptions {
  readonly trustDomain: string;
  /** Validity in days; 10 years by default. */
  readonly validityDays?: number;
  readonly keyKind?: KeyKind;
  readonly now?: Date;
}

/** A generated root: its key and certificate. */
export interface GeneratedRoot {
  readonly key: KeyObject;
  readonly cert: Certificate;
}

/** Default root validity: 10 years. */
export const ROOT_VALIDITY_DAYS = 3650;

/** Random positive serial of 16 octets (RFC 5280 allows up to 20; CA/B asks for ≥ 64 random bits). */
export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01; // positive and never a leading zero octet
  return serial;
}

/** Generates a self-signed root CA for `trustDomain`. */
export function generateRoot(options: RootOptions): GeneratedRoot {
  validateTrustDomain(options.trustDomain);
  const now = options.now ?? new Date();
  const key = generateKey(options.keyKind ?? 'ec-p256');
  const spki = spkiOf(key);
  const name = nameDer([
    { shortName: 'O', value: options.trustDomain },
    { shortName: 'CN', value: 'waymesh root CA' },
  ]);
  const days = options.validityDays ?? ROOT_VALIDITY_DAYS;
  const der = signCertificate(
    {
      serial: randomSerial(),
      issuer: name,
      subject: name,
      notBefore: new Date(now.getTime() - 5 * 60_000),
      notAfter: new Date(now.getTime() + days * 86_400_000),
      spki,
      extensions: [
        basicConstraints(true),
        keyUsage(['digitalSignature', 'keyCertSign', 'cRLSign']),
        subjectKeyIdentifier(keyIdentifier(spki)),
      ],
    },
    key,
  );
  return { key, cert: parseCertificate(der) };
}

/** The store files of a self-signed root: it signs, and it is the whole chain and the only anchor. */
export function rootCaFiles(root: GeneratedRoot): CaFiles {
  return caFilesOf({ key: root.key, cert: root.cert, chain: [root.cert], roots: [root.cert] });
}
