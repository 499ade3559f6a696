/**
 * Key pairs and signatures. Keys come from Node's crypto (OpenSSL), which is one to two orders of
 * magnitude faster than node-forge's pure-JS RSA; node-forge builds the structures around them.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto';
import { MeshError } from '../common/errors.ts';
import { children, content, encode, expectTag, readRoot, Tag } from './der.ts';
import { Oid } from './oids.ts';
import { oidDer } from './asn1.ts';

/** Key types the CA issues for and accepts in CSRs. */
export type KeyKind = 'ec-p256' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

/** All accepted key kinds, for flag validation. */
export const KEY_KINDS: readonly KeyKind[] = ['ec-p256', 'rsa-2048', 'rsa-3072', 'rsa-4096'];

/** Generates a private key of the given kind (EC P-256 by default: fast to make and to use). */
export function generateKey(kind: KeyKind = 'ec-p256'): KeyObject {
  if (kind === 'ec-p256') return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const modulusLength = Number(kind.slice('rsa-'.length));
  return generateKeyPairSync('rsa', { modulusLength }).privateKey;
}

/**
 * Checks that a public key is one the mesh accepts: RSA with at least 2048 bits or EC P-256.
 * Throws `KEY_UNSUPPORTED` naming what was found.
 */
export function checkPublicKey(key: KeyObject): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048)
      throw new MeshError('KEY_UNSUPPORTED', `RSA key of ${bits} bits is too small (minimum 2048)`);
    return;
  }
  if (type === 'ec') {
    if (details.namedCurve !== 'prime256v1') {
      throw new MeshError(
        'KEY_UNSUPPORTED',
        `EC curve ${details.namedCurve ?? 'unknown'} is not accepted (use P-256)`,
      );
    }
    return;
  }
  throw new MeshError(
    'KEY_UNSUPPORTED',
    `key type ${type ?? 'unknown'} is not accepted (use EC P-256 or RSA ≥ 2048)`,
  );
}

/** The DER AlgorithmIdentifier of the signature a key makes (ECDSA or RSA PKCS#1 v1.5, SHA-256). */
export function signatureAlgorithm(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'ec') return encode(Tag.SEQUENCE, oidDer(Oid.ecdsaWithSha256));
  if (key.asymmetricKeyType === 'rsa')
    return encode(Tag.SEQUENCE, oidDer(Oid.sha256WithRsa), encode(Tag.NULL));
  throw new MeshError('KEY_UNSUPPORTED', `cannot sign with a ${key.asymmetricKeyType ?? 'unknown'} key`);
}

/** Signs `data` with SHA-256; ECDSA signatures come DER-encoded as X.509 requires. */
export function signData(data: Uint8Array, key: KeyObject): Buffer {
  return sign('sha256', data, key);
}

/** The DER SubjectPublicKeyInfo of a (public or private) key. */
export function spkiOf(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/** The RFC 5280 §4.2.1.2 (method 1) key identifier: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Buffer): Buffer {
  const seq = readRoot(spki, Tag.SEQUENCE);
  const bits = expectTag(children(spki, seq)[1], Tag.BIT_STRING, 'subjectPublicKey');
  // Skip the unused-bits octet: the identifier hashes the key bytes themselves, as OpenSSL does.
  return createHash('sha1').update(content(spki, bits).subarray(1)).digest();
}

/** Serialises a private key as PKCS#8 PEM. */
export function privateKeyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Loads a private key from PEM (PKCS#8, PKCS#1 or SEC1); throws `KEY_INVALID` with the reason. */
export function privateKeyFromPem(pem: string, what = 'private key'): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new MeshError('KEY_INVALID', `cannot read ${what}: ${(err as Error).message}`);
  }
}
