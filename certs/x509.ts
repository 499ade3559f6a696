/**
 * Building and signing X.509 certificates. Pure: the caller passes the serial, the validity
 * window and every extension, so the same inputs give the same TBSCertificate.
 */
import type { KeyObject } from 'node:crypto';
import { MeshError } from '../common/errors.ts';
import { timeDer } from './asn1.ts';
import { encode, Tag } from './der.ts';
import { extensionsDer, type ExtensionSpec } from './extensions.ts';
import { signatureAlgorithm, signData } from './keys.ts';

/** Everything that goes into one certificate besides the signature. */
export interface CertificateSpec {
  /** Positive serial number, big-endian, at most 20 octets. */
  readonly serial: Buffer;
  /** DER Name of the issuer; must equal the issuing certificate's subject byte for byte. */
  readonly issuer: Buffer;
  /** DER Name of the subject (an empty Name for workload certificates). */
  readonly subject: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DER SubjectPublicKeyInfo of the certified key. */
  readonly spki: Buffer;
  readonly extensions: readonly ExtensionSpec[];
}

function serialDer(serial: Buffer): Buffer {
  if (serial.length === 0 || serial.length > 20) {
    throw new MeshError('CERT_SERIAL_INVALID', 'serial numbers must be 1 to 20 octets');
  }
  // INTEGER is two's complement: a set high bit needs a leading zero to stay positive.
  const body = (serial[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), serial]) : serial;
  return encode(Tag.INTEGER, body);
}

/** Builds the DER TBSCertificate for `spec`, signed-to-be with `signer`'s algorithm. */
export function buildTbs(spec: CertificateSpec, signer: KeyObject): Buffer {
  if (spec.notAfter.getTime() <= spec.notBefore.getTime()) {
    throw new MeshError('CERT_VALIDITY_INVALID', 'notAfter must be later than notBefore');
  }
  return encode(
    Tag.SEQUENCE,
    encode(0xa0, encode(Tag.INTEGER, Buffer.from([2]))), // [0] EXPLICIT version v3
    serialDer(spec.serial),
    signatureAlgorithm(signer),
    spec.issuer,
    encode(Tag.SEQUENCE, timeDer(spec.notBefore), timeDer(spec.notAfter)),
    spec.subject,
    spec.spki,
    extensionsDer(spec.extensions),
  );
}

/** Builds and signs a certificate; returns its DER. */
export function signCertificate(spec: CertificateSpec, signer: KeyObject): Buffer {
  const tbs = buildTbs(spec, signer);
  const sig = signData(tbs, signer);
  return encode(Tag.SEQUENCE, tbs, signatureAlgorithm(signer), encode(Tag.BIT_STRING, Buffer.from([0]), sig));
}
