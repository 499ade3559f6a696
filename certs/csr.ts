/**
 * PKCS#10 certificate signing requests: creating them (clients: node agents, waypoints, the
 * CLI) and verifying them (the CA). A mesh CSR carries exactly one SPIFFE URI in a
 * subjectAltName extension request and nothing else the CA would have to ignore.
 */
import type { KeyObject } from 'node:crypto';
import { MeshError } from '../common/errors.ts';
import { parseSpiffeId, formatSpiffeId } from '../common/spiffe.ts';
import { nameDer, oidDer, pemBlocks, pemEncode } from './asn1.ts';
import { children, content, decodeOid, encode, expectTag, raw, readRoot, Tag, type Tlv } from './der.ts';
import { extensionSequenceDer, uriSubjectAltName, type ExtensionSpec } from './extensions.ts';
import { checkPublicKey, signatureAlgorithm, signData, spkiOf } from './keys.ts';
import { Oid } from './oids.ts';
import {
  algorithmOid,
  bitStringBytes,
  checkName,
  parseSubjectAltNames,
  publicKeyOf,
  verifySignature,
} from './parse.ts';

/** A CSR the CA has verified. */
export interface VerifiedCsr {
  /** DER SubjectPublicKeyInfo of the requester's key. */
  readonly spki: Buffer;
  /** The requested SPIFFE id, normalised. */
  readonly identity: string;
}

/** Creates a PEM CSR for `spiffeId`, signed by `key`. */
export function createCsr(key: KeyObject, spiffeId: string): string {
  return buildCsr(key, [uriSubjectAltName(formatSpiffeId(parseSpiffeId(spiffeId)))]);
}

/**
 * Builds a PEM CSR with an empty subject carrying `extensions` in an extensionRequest,
 * signed by `key`. No checks: {@link createCsr} is the mesh's way; this also serves tests that
 * need requests the CA must refuse.
 */
export function buildCsr(key: KeyObject, extensions: readonly ExtensionSpec[]): string {
  const attribute = encode(
    Tag.SEQUENCE,
    oidDer(Oid.extensionRequest),
    encode(Tag.SET, extensionSequenceDer(extensions)),
  );
  const info = encode(
    Tag.SEQUENCE,
    encode(Tag.INTEGER, Buffer.from([0])),
    nameDer([]),
    spkiOf(key),
    encode(0xa0, attribute), // [0] IMPLICIT SET OF Attribute
  );
  const der = encode(
    Tag.SEQUENCE,
    info,
    signatureAlgorithm(key),
    encode(Tag.BIT_STRING, Buffer.from([0]), signData(info, key)),
  );
  return pemEncode('CERTIFICATE REQUEST', der);
}

function malformed(why: string): MeshError {
  return new MeshError('CSR_MALFORMED', `certificate signing request is malformed: ${why}`, {
    hint: 'send a PEM "CERTIFICATE REQUEST" block',
  });
}

/** The DER of the one PEM block in `pem`, which must be a plain `CERTIFICATE REQUEST`. */
function decodePem(pem: string): Buffer {
  let blocks: ReturnType<typeof pemBlocks>;
  try {
    blocks = pemBlocks(pem);
  } catch (err) {
    throw malformed((err as Error).message);
  }
  const [block] = blocks;
  if (blocks.length !== 1 || block === undefined)
    throw malformed(`expected one PEM block, found ${blocks.length}`);
  if (block.type !== 'CERTIFICATE REQUEST')
    throw malformed(`the PEM block is a ${JSON.stringify(block.type)}, not a "CERTIFICATE REQUEST"`);
  if (block.hasHeaders) throw malformed('the PEM block carries headers (Proc-Type, DEK-Info …)');
  return block.der;
}

/**
 * The SAN extension value inside the CSR's extensionRequest attribute. One extensionRequest,
 * and each extension in it once (RFC 5280 §4.2, which the certificate will have to meet).
 */
function requestedSan(der: Buffer, attrs: readonly Tlv[]): Buffer | undefined {
  let san: Buffer | undefined;
  let requests = 0;
  for (const attr of attrs) {
    const [typeT, valuesT] = children(der, expectTag(attr, Tag.SEQUENCE, 'attribute'));
    if (decodeOid(content(der, expectTag(typeT, Tag.OID, 'attribute type'))) !== Oid.extensionRequest)
      continue;
    if (++requests > 1) throw new Error('more than one extensionRequest attribute');
    const values = children(der, expectTag(valuesT, Tag.SET, 'attribute values'));
    if (values.length !== 1) throw new Error('extensionRequest must hold one set of extensions');
    const seen = new Set<string>();
    for (const ext of children(der, expectTag(values[0], Tag.SEQUENCE, 'extensions'))) {
      const parts = children(der, expectTag(ext, Tag.SEQUENCE, 'extension'));
      const oid = decodeOid(content(der, expectTag(parts[0], Tag.OID, 'extension id')));
      if (seen.has(oid)) throw new Error(`extension ${oid} is requested more than once`);
      seen.add(oid);
      if (oid === Oid.subjectAltName)
        san = content(der, expectTag(parts[parts.length - 1], Tag.OCTET_STRING, 'SAN'));
    }
  }
  return san;
}

/**
 * Verifies a PEM CSR: structure, accepted key type, a valid self-signature, and exactly one
 * requested identity that is a SPIFFE URI. Throws `CSR_MALFORMED`, `KEY_UNSUPPORTED`,
 * `CSR_BAD_SIGNATURE` or `CSR_IDENTITY_INVALID`.
 */
export function verifyCsr(pem: string): VerifiedCsr {
  const der = decodePem(pem);
  let info: Buffer, spki: Buffer, algOid: string, signature: Buffer, san: Buffer | undefined;
  try {
    const top = children(der, readRoot(der, Tag.SEQUENCE));
    if (top.length !== 3)
      throw new Error('a CSR is {certificationRequestInfo, signatureAlgorithm, signature}');
    const [infoT, algT, sigT] = top;
    const infoTlv = expectTag(infoT, Tag.SEQUENCE, 'certificationRequestInfo');
    const fields = children(der, infoTlv);
    if (fields.length < 3 || fields.length > 4)
      throw new Error('certificationRequestInfo is not {version, subject, subjectPKInfo, attributes}');
    if (!content(der, expectTag(fields[0], Tag.INTEGER, 'version')).equals(Buffer.from([0])))
      throw new Error('version must be 0');
    checkName(der, fields[1], 'subject');
    info = raw(der, infoTlv);
    spki = raw(der, expectTag(fields[2], Tag.SEQUENCE, 'subjectPKInfo'));
    const attrs = fields[3] === undefined ? [] : children(der, expectTag(fields[3], 0xa0, 'attributes'));
    algOid = algorithmOid(der, expectTag(algT, Tag.SEQUENCE, 'algorithm'));
    signature = bitStringBytes(der, expectTag(sigT, Tag.BIT_STRING, 'signature'));
    san = requestedSan(der, attrs);
  } catch (err) {
    if (err instanceof MeshError && err.code === 'CSR_MALFORMED') throw err;
    throw malformed((err as Error).message);
  }
  const key = publicKeyOf(spki);
  checkPublicKey(key);
  if (!verifySignature(algOid, info, signature, key)) {
    throw new MeshError('CSR_BAD_SIGNATURE', 'the CSR signature does not verify with the key it carries', {
      hint: 'the request was altered or signed with a different key',
    });
  }
  if (san === undefined)
    throw new MeshError('CSR_IDENTITY_INVALID', 'the CSR requests no identity (no subjectAltName)');
  let sans: { uris: string[]; otherSans: number };
  try {
    sans = parseSubjectAltNames(san);
  } catch (err) {
    // Signed but unreadable: still the requester's mistake, not an internal error of the CA.
    throw malformed(`subjectAltName: ${(err as Error).message}`);
  }
  const { uris, otherSans } = sans;
  if (uris.length !== 1 || otherSans !== 0) {
    throw new MeshError(
      'CSR_IDENTITY_INVALID',
      `the CSR must request exactly one SPIFFE URI, found ${uris.length} URI(s) and ${otherSans} other name(s)`,
    );
  }
  let identity: string;
  try {
    identity = formatSpiffeId(parseSpiffeId(uris[0] ?? ''));
  } catch (err) {
    throw new MeshError('CSR_IDENTITY_INVALID', (err as Error).message);
  }
  // The CA certifies the key as Node re-encodes it: canonical DER whatever the request's encoding.
  return Object.freeze({ spki: key.export({ type: 'spki', format: 'der' }), identity });
}
