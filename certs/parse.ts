/**
 * Parsing certificates into the narrow, readonly facts the CA and the verifier need, and
 * checking signatures with Node's crypto (which handles every key type OpenSSL knows).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { MeshError } from '../common/errors.ts';
import {
  children,
  content,
  decodeBoolean,
  decodeOid,
  decodeSmallInt,
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
  /** basicConstraints' pathLenConstraint: how many CA certificates may follow this one below. */
  readonly pathLen: number | undefined;
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

/** The OID of an AlgorithmIdentifier. */
export function algorithmOid(buf: Buffer, alg: Tlv): string {
  return decodeOid(content(buf, expectTag(children(buf, alg)[0], Tag.OID, 'algorithm')));
}

/** The bytes of a BIT STRING that holds whole octets (signatures, keys): no unused bits. */
export function bitStringBytes(buf: Buffer, t: Tlv): Buffer {
  const bits = content(buf, expectTag(t, Tag.BIT_STRING, 'BIT STRING'));
  if (bits[0] !== 0) throw new Error('a signature BIT STRING must have 0 unused bits');
  return bits.subarray(1);
}

/** Checks that `t` is an X.501 Name: a SEQUENCE of non-empty SETs of {type OID, value}. */
export function checkName(buf: Buffer, t: Tlv | undefined, what: string): Tlv {
  const name = expectTag(t, Tag.SEQUENCE, what);
  for (const rdn of children(buf, name)) {
    const atvs = children(buf, expectTag(rdn, Tag.SET, `${what} RDN`));
    if (atvs.length === 0) throw new Error(`${what} has an empty RDN`);
    for (const atv of atvs) {
      const parts = children(buf, expectTag(atv, Tag.SEQUENCE, `${what} attribute`));
      if (parts.length !== 2) throw new Error(`${what} attribute is not {type, value}`);
      decodeOid(content(buf, expectTag(parts[0], Tag.OID, `${what} attribute type`)));
    }
  }
  return name;
}

/** Signature algorithm OID → hash and the key type it signs with, for the algorithms we verify. */
const ALGORITHMS: Readonly<Record<string, { hash: string; key: 'ec' | 'rsa' }>> = {
  '1.2.840.10045.4.3.2': { hash: 'sha256', key: 'ec' },
  '1.2.840.10045.4.3.3': { hash: 'sha384', key: 'ec' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', key: 'ec' },
  '1.2.840.113549.1.1.11': { hash: 'sha256', key: 'rsa' },
  '1.2.840.113549.1.1.12': { hash: 'sha384', key: 'rsa' },
  '1.2.840.113549.1.1.13': { hash: 'sha512', key: 'rsa' },
};

/** Checks `signature` over `data` made with `algOid` by `key`; false when it does not verify. */
export function verifySignature(algOid: string, data: Buffer, signature: Buffer, key: KeyObject): boolean {
  const alg = ALGORITHMS[algOid];
  if (alg === undefined) {
    throw new MeshError(
      'SIGNATURE_UNSUPPORTED',
      `signature algorithm ${algOid} is not supported (use ECDSA or RSA PKCS#1 with SHA-2)`,
    );
  }
  // The algorithm names the key type: an RSA signature labelled ECDSA (or the reverse) is not valid.
  if (key.asymmetricKeyType !== alg.key) return false;
  return verify(alg.hash, data, key, signature);
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
  pathLen: number | undefined;
  keyUsage: Set<KeyUsageName> | undefined;
  extKeyUsage: string[] | undefined;
  uris: string[];
  otherSans: number;
  subjectKeyId: Buffer | undefined;
  authorityKeyId: Buffer | undefined;
}

/** GeneralName tags (RFC 5280 §4.2.1.6): [0] otherName … [8] registeredID. */
const GENERAL_NAME_TAGS = new Set([0xa0, 0x81, 0x82, 0xa3, 0xa4, 0xa5, 0x86, 0x87, 0x88]);

/** Parses the GeneralNames of a subjectAltName extension value. */
export function parseSubjectAltNames(value: Buffer): { uris: string[]; otherSans: number } {
  const uris: string[] = [];
  let otherSans = 0;
  const names = children(value, readRoot(value, Tag.SEQUENCE));
  if (names.length === 0) throw new Error('subjectAltName is empty');
  for (const n of names) {
    if (!GENERAL_NAME_TAGS.has(n.tag))
      throw new Error(`subjectAltName has an unknown name tag 0x${n.tag.toString(16)}`);
    if (n.tag === 0x86) uris.push(content(value, n).toString('latin1'));
    else otherSans++;
  }
  return { uris, otherSans };
}

/** Extensions this parser understands; any other marked critical makes the certificate unusable. */
const KNOWN_EXTENSIONS: ReadonlySet<string> = new Set([
  Oid.basicConstraints,
  Oid.keyUsage,
  Oid.extKeyUsage,
  Oid.subjectAltName,
  Oid.subjectKeyIdentifier,
  Oid.authorityKeyIdentifier,
]);

function parseBasicConstraints(value: Buffer, facts: ExtensionFacts): void {
  const items = children(value, readRoot(value, Tag.SEQUENCE));
  let i = 0;
  if (items[i]?.tag === Tag.BOOLEAN) facts.isCa = decodeBoolean(value, items[i++] as Tlv);
  if (items[i]?.tag === Tag.INTEGER)
    facts.pathLen = decodeSmallInt(value, items[i++] as Tlv, 'pathLenConstraint');
  if (i !== items.length) throw new Error('basicConstraints has fields besides cA and pathLenConstraint');
}

function parseKeyUsage(value: Buffer): Set<KeyUsageName> {
  const bits = content(value, readRoot(value, Tag.BIT_STRING));
  const unused = bits[0] ?? 0;
  if (bits.length === 0 || unused > 7 || (bits.length === 1 && unused !== 0))
    throw new Error('keyUsage is not a valid BIT STRING');
  const b0 = bits[1] ?? 0;
  const b1 = bits[2] ?? 0;
  return new Set(
    (Object.keys(KeyUsageBit) as KeyUsageName[]).filter((k) => {
      const i = KeyUsageBit[k];
      return ((i < 8 ? b0 : b1) & (0x80 >> (i % 8))) !== 0;
    }),
  );
}

function parseExtensions(buf: Buffer, wrapper: Tlv | undefined): ExtensionFacts {
  const facts: ExtensionFacts = {
    isCa: false,
    pathLen: undefined,
    keyUsage: undefined,
    extKeyUsage: undefined,
    uris: [],
    otherSans: 0,
    subjectKeyId: undefined,
    authorityKeyId: undefined,
  };
  if (wrapper === undefined) return facts;
  const outer = children(buf, wrapper);
  if (outer.length !== 1) throw new Error('extensions wrapper must hold one SEQUENCE');
  const list = children(buf, expectTag(outer[0], Tag.SEQUENCE, 'extensions'));
  if (list.length === 0) throw new Error('extensions are present but empty');
  const seen = new Set<string>();
  for (const ext of list) {
    const parts = children(buf, expectTag(ext, Tag.SEQUENCE, 'extension'));
    if (parts.length < 2 || parts.length > 3) throw new Error('an extension is not {id, critical?, value}');
    const oid = decodeOid(content(buf, expectTag(parts[0], Tag.OID, 'extension id')));
    // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
    if (seen.has(oid)) throw new Error(`extension ${oid} appears more than once`);
    seen.add(oid);
    const critical = parts.length === 3 && decodeBoolean(buf, parts[1] as Tlv);
    const value = content(buf, expectTag(parts[parts.length - 1], Tag.OCTET_STRING, 'extension value'));
    if (oid === Oid.basicConstraints) parseBasicConstraints(value, facts);
    else if (oid === Oid.keyUsage) facts.keyUsage = parseKeyUsage(value);
    else if (oid === Oid.extKeyUsage) {
      const purposes = children(value, readRoot(value, Tag.SEQUENCE));
      if (purposes.length === 0) throw new Error('extKeyUsage is empty');
      facts.extKeyUsage = purposes.map((t) =>
        decodeOid(content(value, expectTag(t, Tag.OID, 'key purpose'))),
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
    // RFC 5280 §4.2: a critical extension the verifier does not process means refusing the
    // certificate (nameConstraints and policy constraints among them).
    if (critical && !KNOWN_EXTENSIONS.has(oid)) throw new Error(`critical extension ${oid} is not supported`);
  }
  return facts;
}

/** The TBSCertificate fields after subjectPublicKeyInfo, in order: issuerUID [1], subjectUID [2], extensions [3]. */
const TRAILING_TBS_TAGS = [0x81, 0x82, 0xa3];

/** Parses a DER certificate; throws `CERT_MALFORMED` when it is not one. */
export function parseCertificate(der: Buffer): Certificate {
  try {
    const top = children(der, readRoot(der, Tag.SEQUENCE));
    if (top.length !== 3) throw new Error('a certificate is {tbsCertificate, signatureAlgorithm, signature}');
    const [tbsT, algT, sigT] = top;
    const tbsTlv = expectTag(tbsT, Tag.SEQUENCE, 'tbsCertificate');
    const fields = children(der, tbsTlv);
    // The version field is optional ([0] EXPLICIT); shift by one when it is there.
    const o = fields[0]?.tag === 0xa0 ? 1 : 0;
    if (o === 1) {
      const version = decodeSmallInt(der, present(children(der, fields[0] as Tlv)[0], 'version'), 'version');
      if (version > 2) throw new Error(`unknown certificate version ${version + 1}`);
    }
    const serial = content(der, expectTag(fields[o], Tag.INTEGER, 'serialNumber'));
    if (serial.length === 0) throw new Error('serialNumber is empty');
    const outerAlg = expectTag(algT, Tag.SEQUENCE, 'signatureAlgorithm');
    // RFC 5280 §4.1.1.2: the signed copy of the algorithm must match the outer one.
    if (!raw(der, expectTag(fields[o + 1], Tag.SEQUENCE, 'signature')).equals(raw(der, outerAlg)))
      throw new Error('the signature algorithm inside the signed part differs from the outer one');
    const validity = children(der, expectTag(fields[o + 3], Tag.SEQUENCE, 'validity'));
    if (validity.length !== 2) throw new Error('validity is not {notBefore, notAfter}');
    const spkiT = expectTag(fields[o + 5], Tag.SEQUENCE, 'subjectPublicKeyInfo');
    if (children(der, spkiT).length !== 2) throw new Error('subjectPublicKeyInfo is not {algorithm, key}');
    const trailing = fields.slice(o + 6);
    let next = 0;
    for (const f of trailing) {
      const at = TRAILING_TBS_TAGS.indexOf(f.tag, next);
      if (at === -1) throw new Error(`unexpected field with tag 0x${f.tag.toString(16)} in tbsCertificate`);
      next = at + 1;
    }
    const ext = parseExtensions(
      der,
      trailing.find((f) => f.tag === 0xa3),
    );
    return Object.freeze({
      der,
      tbs: raw(der, tbsTlv),
      signatureAlgorithm: algorithmOid(der, outerAlg),
      signature: bitStringBytes(der, expectTag(sigT, Tag.BIT_STRING, 'signature')),
      serialHex: serial.toString('hex'),
      issuer: raw(der, checkName(der, fields[o + 2], 'issuer')),
      subject: raw(der, checkName(der, fields[o + 4], 'subject')),
      notBefore: decodeTime(der, present(validity[0], 'notBefore')),
      notAfter: decodeTime(der, present(validity[1], 'notAfter')),
      spki: raw(der, spkiT),
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
