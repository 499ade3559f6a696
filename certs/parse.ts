/**
 * Parsing certificates into the narrow, readonly facts the CA and the verifier need, and
 * checking signatures with Node's crypto (which handles every key type OpenSSL knows).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { MeshError } from '../common/errors.ts';
import {
  children,
  content,
  decodeOid,
  decodeTime,
  expectTag,
  present,
  raw,
  readRoot,
  Tag,
  type Tlv,
} from './der.ts';
import { KeyUsageBit, type KeyUsageName } from './extensions.ts';
import { Oid } from './oids.ts';

/** The facts of one certificate. */
export interface Certificate {
  readonly der: Buffer;
  /** The signed part, byte for byte. */
  readonly tbs: Buffer;
  readonly signatureAlgorithm: string;
  readonly signature: Buffer;
  readonly serialHex: string;
  /** DER Names, byte for byte (issuer/subject matching compares these). */
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Buffer;
  readonly isCa: boolean;
  /** Key usages present; `undefined` when the extension is absent. */
  readonly keyUsage: ReadonlySet<KeyUsageName> | undefined;
  /** Extended key usage OIDs; `undefined` when the extension is absent. */
  readonly extKeyUsage: readonly string[] | undefined;
  /** URI subject alternative names. */
  readonly uris: readonly string[];
  /** Number of non-URI subject alternative names (DNS, IP, e-mail …). */
  readonly otherSans: number;
  readonly subjectKeyId: Buffer | undefined;
  readonly authorityKeyId: Buffer | undefined;
}

/** Signature algorithm OID → hash, for the algorithms we verify. */
const HASH_OF: Readonly<Record<string, string>> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

function algorithmOid(buf: Buffer, alg: Tlv): string {
  return decodeOid(content(buf, expectTag(children(buf, alg)[0], Tag.OID, 'algorithm')));
}

function bitStringBytes(buf: Buffer, t: Tlv): Buffer {
  return content(buf, expectTag(t, Tag.BIT_STRING, 'BIT STRING')).subarray(1);
}

/** Checks `signature` over `data` made with `algOid` by `key`; false when it does not verify. */
export function verifySignature(algOid: string, data: Buffer, signature: Buffer, key: KeyObject): boolean {
  const hash = HASH_OF[algOid];
  if (hash === undefined) {
    throw new MeshError(
      'SIGNATURE_UNSUPPORTED',
      `signature algorithm ${algOid} is not supported (use ECDSA or RSA PKCS#1 with SHA-2)`,
    );
  }
  return verify(hash, data, key, signature);
}

/** The public key in a DER SubjectPublicKeyInfo. */
export function publicKeyOf(spki: Buffer): KeyObject {
  try {
    return createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (err) {
    throw new MeshError('KEY_INVALID', `cannot read public key: ${(err as Error).message}`);
  }
}

interface ExtensionFacts {
  isCa: boolean;
  keyUsage: Set<KeyUsageName> | undefined;
  extKeyUsage: string[] | undefined;
  uris: string[];
  otherSans: number;
  subjectKeyId: Buffer | undefined;
  authorityKeyId: Buffer | undefined;
}

/** Parses the GeneralNames of a subjectAltName extension value. */
export function parseSubjectAltNames(value: Buffer): { uris: string[]; otherSans: number } {
  const uris: string[] = [];
  let otherSans = 0;
  for (const n of children(value, readRoot(value, Tag.SEQUENCE))) {
    if (n.tag === 0x86) uris.push(content(value, n).toString('latin1'));
    else otherSans++;
  }
  return { uris, otherSans };
}

function parseExtensions(buf: Buffer, wrapper: Tlv | undefined): ExtensionFacts {
  const facts: ExtensionFacts = {
    isCa: false,
    keyUsage: undefined,
    extKeyUsage: undefined,
    uris: [],
    otherSans: 0,
    subjectKeyId: undefined,
    authorityKeyId: undefined,
  };
  if (wrapper === undefined) return facts;
  const seq = expectTag(children(buf, wrapper)[0], Tag.SEQUENCE, 'extensions');
  for (const ext of children(buf, seq)) {
    const parts = children(buf, ext);
    const oid = decodeOid(content(buf, expectTag(parts[0], Tag.OID, 'extension id')));
    const value = content(buf, expectTag(parts[parts.length - 1], Tag.OCTET_STRING, 'extension value'));
    if (oid === Oid.basicConstraints) {
      const first = children(value, readRoot(value, Tag.SEQUENCE))[0];
      facts.isCa = first?.tag === Tag.BOOLEAN && value[first.contentStart] !== 0;
    } else if (oid === Oid.keyUsage) {
      const bits = content(value, readRoot(value, Tag.BIT_STRING));
      const b0 = bits[1] ?? 0;
      const b1 = bits[2] ?? 0;
      facts.keyUsage = new Set(
        (Object.keys(KeyUsageBit) as KeyUsageName[]).filter((k) => {
          const i = KeyUsageBit[k];
          return ((i < 8 ? b0 : b1) & (0x80 >> (i % 8))) !== 0;
        }),
      );
    } else if (oid === Oid.extKeyUsage) {
      facts.extKeyUsage = children(value, readRoot(value, Tag.SEQUENCE)).map((t) =>
        decodeOid(content(value, t)),
      );
    } else if (oid === Oid.subjectAltName) {
      const sans = parseSubjectAltNames(value);
      facts.uris = sans.uris;
      facts.otherSans = sans.otherSans;
    } else if (oid === Oid.subjectKeyIdentifier) {
      facts.subjectKeyId = content(value, readRoot(value, Tag.OCTET_STRING));
    } else if (oid === Oid.authorityKeyIdentifier) {
      const id = children(value, readRoot(value, Tag.SEQUENCE)).find((t) => t.tag === 0x80);
      facts.authorityKeyId = id === undefined ? undefined : content(value, id);
    }
  }
  return facts;
}

/** Parses a DER certificate; throws `CERT_MALFORMED` when it is not one. */
export function parseCertificate(der: Buffer): Certificate {
  try {
    const root = readRoot(der, Tag.SEQUENCE);
    const [tbsT, algT, sigT] = children(der, root);
    const tbsTlv = expectTag(tbsT, Tag.SEQUENCE, 'tbsCertificate');
    const fields = children(der, tbsTlv);
    // The version field is optional ([0] EXPLICIT); shift by one when it is there.
    const o = fields[0]?.tag === 0xa0 ? 1 : 0;
    const validity = children(der, expectTag(fields[o + 3], Tag.SEQUENCE, 'validity'));
    const extWrapper = fields.slice(o + 6).find((f) => f.tag === 0xa3);
    const ext = parseExtensions(der, extWrapper);
    const serial = content(der, expectTag(fields[o], Tag.INTEGER, 'serialNumber'));
    return Object.freeze({
      der,
      tbs: raw(der, tbsTlv),
      signatureAlgorithm: algorithmOid(der, expectTag(algT, Tag.SEQUENCE, 'signatureAlgorithm')),
      signature: bitStringBytes(der, expectTag(sigT, Tag.BIT_STRING, 'signature')),
      serialHex: serial.toString('hex'),
      issuer: raw(der, expectTag(fields[o + 2], Tag.SEQUENCE, 'issuer')),
      subject: raw(der, expectTag(fields[o + 4], Tag.SEQUENCE, 'subject')),
      notBefore: decodeTime(der, present(validity[0], 'notBefore')),
      notAfter: decodeTime(der, present(validity[1], 'notAfter')),
      spki: raw(der, expectTag(fields[o + 5], Tag.SEQUENCE, 'subjectPublicKeyInfo')),
      ...ext,
    });
  } catch (err) {
    if (err instanceof MeshError && err.code === 'CERT_MALFORMED') throw err;
    throw new MeshError('CERT_MALFORMED', `not a valid X.509 certificate: ${(err as Error).message}`);
  }
}

/** True when `cert` is signed by the key in `issuerSpki` (and names that issuer). */
export function isSignedBy(cert: Certificate, issuer: Certificate): boolean {
  if (!cert.issuer.equals(issuer.subject)) return false;
  try {
    return verifySignature(cert.signatureAlgorithm, cert.tbs, cert.signature, publicKeyOf(issuer.spki));
  } catch {
    return false;
  }
}
