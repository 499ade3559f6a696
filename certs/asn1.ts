/**
 * Bridges between node-forge's ASN.1 builder (binary strings) and Buffers, plus the few
 * encoders the CA needs. node-forge does the encoding of OIDs, integers, names and times.
 */
import forge from 'node-forge';

const { asn1 } = forge;

/** Encodes a forge ASN.1 node to DER. */
export function toDer(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

/** Decodes DER into a forge ASN.1 node (for embedding pre-encoded parts into a forge tree). */
export function fromDer(der: Uint8Array): forge.asn1.Asn1 {
  return asn1.fromDer(Buffer.from(der).toString('binary'));
}

/** The DER of an OBJECT IDENTIFIER. */
export function oidDer(oid: string): Buffer {
  return toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()));
}

/** The DER of a certificate validity time: UTCTime before 2050, GeneralizedTime after (RFC 5280). */
export function timeDer(date: Date): Buffer {
  const node =
    date.getUTCFullYear() < 2050
      ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
      : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
  return toDer(node);
}

/** A distinguished-name attribute such as `{ shortName: 'O', value: 'cluster.local' }`. */
export interface NameAttribute {
  readonly shortName: 'CN' | 'O' | 'OU';
  readonly value: string;
}

/** The DER of an X.501 Name from its attributes (empty list → empty Name). */
export function nameDer(attributes: readonly NameAttribute[]): Buffer {
  return toDer(
    forge.pki.distinguishedNameToAsn1({
      attributes: attributes.map((a) => ({
        type: NAME_OIDS[a.shortName],
        value: forge.util.encodeUtf8(a.value),
        // forge reads this field as the value's universal tag, despite its declared type.
        valueTagClass: asn1.Type.UTF8 as unknown as forge.asn1.Class,
      })),
    }),
  );
}

const NAME_OIDS = { CN: '2.5.4.3', O: '2.5.4.10', OU: '2.5.4.11' } as const;

/** Converts a PEM block label and DER body into PEM text. */
export function pemEncode(type: string, der: Uint8Array): string {
  return forge.pem.encode({ type, body: Buffer.from(der).toString('binary') }, { maxline: 64 });
}

/** Extracts every PEM block of `type` from `text`, as DER. */
export function pemDecodeAll(text: string, type: string): Buffer[] {
  return pemBlocks(text)
    .filter((b) => b.type === type)
    .map((b) => b.der);
}

/** One PEM block: its label, its DER body, and whether it carries RFC 1421 headers. */
export interface PemBlock {
  readonly type: string;
  readonly der: Buffer;
  readonly hasHeaders: boolean;
}

/** Every PEM block in `text`, whatever its label (text between blocks is ignored, RFC 7468 §2). */
export function pemBlocks(text: string): PemBlock[] {
  if (!text.includes('-----BEGIN')) return [];
  return forge.pem.decode(text).map((m) => ({
    type: m.type,
    der: Buffer.from(m.body, 'binary'),
    hasHeaders:
      m.procType !== null || m.contentDomain !== null || m.dekInfo !== null || (m.headers?.length ?? 0) > 0,
  }));
}
