/**
 * PKCS#10 certificate signing requests: creating them (clients: node agents, waypoints, the
 * CLI) and verifying them (the CA). A mesh CSR carries exactly one SPIFFE URI in a
 * subjectAltName extension request and nothing else the CA would have to ignore.
 */
import type { KeyObject } from 'node:crypto';
import { MeshError } from '../common/errors.ts';
import { parseSpiffeId, formatSpiffeId } from '../common/spiffe.ts';
import { nameDer, oidDer, pemDecodeAll, pemEncode } from './asn1.ts';
import { children, content, decodeOid, encode, expectTag, raw, readRoot, Tag } from './der.ts';
import { extensionSequenceDer, uriSubjectAltName, type ExtensionSpec } from './extensions.ts';
import { checkPublicKey, signatureAlgorithm, signData, spkiOf } from './keys.ts';
import { Oid } from './oids.ts';
import { parseSubjectAltNames, publicKeyOf, verifySignature } from './parse.ts';

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

function decodePem(pem: string): Buffer {
  let blocks: Buffer[];
  try {
    blocks = pemDecodeAll(pem, 'CERTIFICATE REQUEST');
  } catch (err) {
    throw malformed((err as Error).message);
  }
  if (blocks.length !== 1 || blocks[0] === undefined)
    throw malformed(`expected one PEM block, found ${blocks.length}`);
  return blocks[0];
}

/** Finds the SAN extension value inside the CSR's extensionRequest attribute. */
function requestedSan(der: Buffer, attrs: ReturnType<typeof children>): Buffer | undefined {
  for (const attr of attrs) {
    const [typeT, valuesT] = children(der, attr);
    if (decodeOid(content(der, expectTag(typeT, Tag.OID, 'attribute type'))) !== Oid.extensionRequest)
      continue;
    const extSeq = expectTag(
      children(der, expectTag(valuesT, Tag.SET, 'attribute values'))[0],
      Tag.SEQUENCE,
      'extensions',
    );
    for (const ext of children(der, extSeq)) {
      const parts = children(der, ext);
      const oid = decodeOid(content(der, expectTag(parts[0], Tag.OID, 'extension id')));
      if (oid === Oid.subjectAltName)
        return content(der, expectTag(parts[parts.length - 1], Tag.OCTET_STRING, 'SAN'));
    }
  }
  return undefined;
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
    const [infoT, algT, sigT] = children(der, readRoot(der, Tag.SEQUENCE));
    const infoTlv = expectTag(infoT, Tag.SEQUENCE, 'certificationRequestInfo');
    const fields = children(der, infoTlv);
    if (content(der, expectTag(fields[0], Tag.INTEGER, 'version'))[0] !== 0)
      throw new Error('version must be 0');
    info = raw(der, infoTlv);
    spki = raw(der, expectTag(fields[2], Tag.SEQUENCE, 'subjectPKInfo'));
    const attrs = fields[3] === undefined ? [] : children(der, expectTag(fields[3], 0xa0, 'attributes'));
    algOid = decodeOid(
      content(
        der,
        expectTag(children(der, expectTag(algT, Tag.SEQUENCE, 'algorithm'))[0], Tag.OID, 'algorithm'),
      ),
    );
    signature = content(der, expectTag(sigT, Tag.BIT_STRING, 'signature')).subarray(1);
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
  return Object.freeze({ spki, identity });
}
