/**
 * A minimal DER reader. node-forge builds our structures, but its X.509 parser only understands
 * RSA keys; waymesh issues EC P-256 certificates, so parsing (certificates, CSRs) walks the DER
 * here and leaves signatures to Node's crypto. Only what X.509 and PKCS#10 need is supported.
 */
import { MeshError } from '../common/errors.ts';

/** One decoded tag-length-value element, as offsets into the original buffer. */
export interface Tlv {
  /** The identifier octet (class, constructed bit and tag number < 31). */
  readonly tag: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset one past the last content octet. */
  readonly end: number;
}

/** Universal tags and context-specific tags used by X.509. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function bad(what: string): MeshError {
  return new MeshError('DER_MALFORMED', `malformed DER: ${what}`);
}

/** Reads the element at `offset`; throws `DER_MALFORMED` when it does not fit in `limit`. */
export function readTlv(buf: Uint8Array, offset = 0, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw bad('truncated header');
  const tag = buf[offset] ?? 0;
  if ((tag & 0x1f) === 0x1f) throw bad('multi-byte tags are not supported');
  let len = buf[offset + 1] ?? 0;
  let contentStart = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw bad('indefinite length (BER, not DER)');
    if (n > 4) throw bad('unsupported length encoding');
    if (contentStart + n > limit) throw bad('truncated length');
    // X.690 §10.1: the fewest octets, so no leading zero octet and no long form below 128.
    if (buf[contentStart] === 0) throw bad('length with a leading zero octet (not DER)');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[contentStart + i] ?? 0);
    if (len < 0x80) throw bad('long-form length below 128 (not DER)');
    contentStart += n;
  }
  const end = contentStart + len;
  if (end > limit) throw bad('element longer than its container');
  return { tag, start: offset, contentStart, end };
}

/** The elements directly inside a constructed element. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let at = parent.contentStart;
  while (at < parent.end) {
    const t = readTlv(buf, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

/** Reads a top-level element and requires it to span the whole buffer with the given tag. */
export function readRoot(buf: Uint8Array, tag: number): Tlv {
  const root = readTlv(buf, 0);
  if (root.tag !== tag) throw bad(`expected tag 0x${tag.toString(16)}, got 0x${root.tag.toString(16)}`);
  if (root.end !== buf.length) throw bad('trailing bytes after the top-level element');
  return root;
}

/** The raw bytes of an element, header included. */
export function raw(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.start, t.end);
}

/** The content bytes of an element. */
export function content(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.contentStart, t.end);
}

/** Requires `t` to carry `tag`; `what` names the field for the error. */
export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  t = present(t, what);
  if (t.tag !== tag) throw bad(`${what} has tag 0x${t.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return t;
}

/** Requires an element to exist; `what` names the field for the error. */
export function present(t: Tlv | undefined, what: string): Tlv {
  if (t === undefined) throw bad(`${what} is missing`);
  return t;
}

/** The largest arc value before another 7 bits could leave the safe-integer range. */
const MAX_ARC = Math.floor(Number.MAX_SAFE_INTEGER / 128);

/** Decodes an OBJECT IDENTIFIER's content into dotted form (X.690 §8.19, minimal subidentifiers). */
export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw bad('empty OID');
  const arcs: number[] = [];
  let value = 0;
  let atStart = true;
  for (const b of bytes) {
    // A subidentifier's first octet is never 0x80: that would be a non-minimal encoding.
    if (atStart && b === 0x80) throw bad('OID subidentifier with a leading 0x80 octet');
    if (value > MAX_ARC) throw bad('OID arc too large');
    value = value * 128 + (b & 0x7f);
    atStart = (b & 0x80) === 0;
    if (atStart) {
      arcs.push(value);
      value = 0;
    }
  }
  if (!atStart) throw bad('OID ends inside a subidentifier');
  // The first subidentifier packs two arcs: 40 × first + second, where only arc 2 may exceed 39.
  const first = arcs[0] ?? 0;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** Decodes a DER BOOLEAN (X.690 §11.1: one octet, 0x00 or 0xFF). */
export function decodeBoolean(buf: Uint8Array, t: Tlv): boolean {
  if (t.tag !== Tag.BOOLEAN) throw bad(`expected a BOOLEAN, got tag 0x${t.tag.toString(16)}`);
  const v = buf[t.contentStart];
  if (t.end - t.contentStart !== 1 || (v !== 0x00 && v !== 0xff))
    throw bad('BOOLEAN is not one octet 00 or FF');
  return v === 0xff;
}

/** Decodes a small non-negative DER INTEGER (up to 2^31 − 1), such as a version or pathLen. */
export function decodeSmallInt(buf: Uint8Array, t: Tlv, what: string): number {
  if (t.tag !== Tag.INTEGER) throw bad(`${what} is not an INTEGER`);
  const n = t.end - t.contentStart;
  const b0 = buf[t.contentStart] ?? 0;
  const b1 = buf[t.contentStart + 1] ?? 0;
  if (n === 0) throw bad(`${what} is an empty INTEGER`);
  // X.690 §8.3.2: no redundant leading 00 (or FF) octet.
  if (n > 1 && ((b0 === 0 && (b1 & 0x80) === 0) || (b0 === 0xff && (b1 & 0x80) !== 0)))
    throw bad(`${what} is a non-minimal INTEGER`);
  if (b0 & 0x80) throw bad(`${what} is negative`);
  if (n > 4) throw bad(`${what} is too large`);
  let v = 0;
  for (let i = t.contentStart; i < t.end; i++) v = v * 256 + (buf[i] ?? 0);
  return v;
}

/** Decodes a UTCTime or GeneralizedTime element into a Date. */
export function decodeTime(buf: Buffer, t: Tlv): Date {
  const s = content(buf, t).toString('latin1');
  const m =
    t.tag === Tag.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : t.tag === Tag.GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
        : null;
  if (m === null) throw bad(`invalid time ${JSON.stringify(s)}`);
  let year = Number(m[1]);
  // RFC 5280 §4.1.2.5.1: two-digit years 50–99 are 19xx, 00–49 are 20xx.
  if (t.tag === Tag.UTC_TIME) year += year >= 50 ? 1900 : 2000;
  const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls month 13 or 31 February over into the next month; a real time survives the trip.
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    date.getUTCHours() !== hour ||
    date.getUTCMinutes() !== minute ||
    date.getUTCSeconds() !== second
  ) {
    throw bad(`invalid time ${JSON.stringify(s)}`);
  }
  return date;
}

/** Encodes a DER length prefix. */
function encodeLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one element from a tag and its content parts. */
export function encode(tag: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}
