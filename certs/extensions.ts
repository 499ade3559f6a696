/**
 * X.509 v3 extensions the CA writes, each as `{ oid, critical, value }` where `value` is the
 * DER that goes inside the extension's OCTET STRING. Built from node-forge ASN.1 nodes.
 */
import forge from 'node-forge';
import { toDer, oidDer } from './asn1.ts';
import { encode, Tag } from './der.ts';
import { Oid } from './oids.ts';

const { asn1 } = forge;

/** One extension ready to be encoded into a TBSCertificate. */
export interface ExtensionSpec {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Buffer;
}

/** Key usage bits by name (RFC 5280 §4.2.1.3, bit 0 = most significant). */
export const KeyUsageBit = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

/** A key usage name. */
export type KeyUsageName = keyof typeof KeyUsageBit;

/** basicConstraints, always critical (required for CA certificates, harmless for leaves). */
export function basicConstraints(ca: boolean, pathLen?: number): ExtensionSpec {
  const parts: Buffer[] = [];
  if (ca) parts.push(encode(Tag.BOOLEAN, Buffer.from([0xff])));
  if (ca && pathLen !== undefined) {
    parts.push(
      toDer(
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(pathLen).getBytes()),
      ),
    );
  }
  return { oid: Oid.basicConstraints, critical: true, value: encode(Tag.SEQUENCE, ...parts) };
}

/** keyUsage (critical) from a list of usage names, encoded as a minimal DER BIT STRING. */
export function keyUsage(usages: readonly KeyUsageName[]): ExtensionSpec {
  let bits = 0;
  for (const u of usages) bits |= 0x80 >> KeyUsageBit[u];
  // DER BIT STRING: trailing zero bits are dropped and counted as "unused".
  let unused = 0;
  while (unused < 8 && bits !== 0 && (bits & (1 << unused)) === 0) unused++;
  const value =
    bits === 0
      ? encode(Tag.BIT_STRING, Buffer.from([0]))
      : encode(Tag.BIT_STRING, Buffer.from([unused, bits]));
  return { oid: Oid.keyUsage, critical: true, value };
}

/** extKeyUsage from purpose OIDs. */
export function extKeyUsage(purposes: readonly string[]): ExtensionSpec {
  return { oid: Oid.extKeyUsage, critical: false, value: encode(Tag.SEQUENCE, ...purposes.map(oidDer)) };
}

/**
 * subjectAltName with exactly one URI. Critical, because workload certificates have an empty
 * subject (RFC 5280 §4.2.1.6) — as SPIFFE X509-SVIDs usually do.
 */
export function uriSubjectAltName(uri: string): ExtensionSpec {
  const name = encode(0x86, Buffer.from(uri, 'ascii')); // [6] IMPLICIT IA5String
  return { oid: Oid.subjectAltName, critical: true, value: encode(Tag.SEQUENCE, name) };
}

/** subjectKeyIdentifier from a precomputed key identifier. */
export function subjectKeyIdentifier(keyId: Buffer): ExtensionSpec {
  return { oid: Oid.subjectKeyIdentifier, critical: false, value: encode(Tag.OCTET_STRING, keyId) };
}

/** authorityKeyIdentifier carrying the issuer's key identifier. */
export function authorityKeyIdentifier(keyId: Buffer): ExtensionSpec {
  return {
    oid: Oid.authorityKeyIdentifier,
    critical: false,
    value: encode(Tag.SEQUENCE, encode(0x80, keyId)),
  };
}

/** Encodes a list of extensions as a DER `SEQUENCE OF Extension` (as CSRs carry them). */
export function extensionSequenceDer(exts: readonly ExtensionSpec[]): Buffer {
  const items = exts.map((e) =>
    encode(
      Tag.SEQUENCE,
      oidDer(e.oid),
      ...(e.critical ? [encode(Tag.BOOLEAN, Buffer.from([0xff]))] : []),
      encode(Tag.OCTET_STRING, e.value),
    ),
  );
  return encode(Tag.SEQUENCE, ...items);
}

/** Encodes a list of extensions as the TBSCertificate's `[3] EXPLICIT Extensions`. */
export function extensionsDer(exts: readonly ExtensionSpec[]): Buffer {
  return encode(0xa3, extensionSequenceDer(exts));
}
