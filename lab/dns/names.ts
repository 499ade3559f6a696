/**
 * Domain names on the wire (RFC 1035 §3.1, §4.1.4) and in presentation form (RFC 4343 escapes:
 * `\.`, `\\` and `\DDD` for bytes outside printable ASCII). Names are written without the
 * trailing dot; the root is `''`. Pure.
 */
import { MeshError } from '../../common/errors.ts';

/** Where each already-written name suffix starts, for compression while encoding. */
export type NameTable = Map<string, number>;

const MAX_NAME = 255;
const MAX_LABEL = 63;

function formerr(message: string): MeshError {
  return new MeshError('DNS_FORMERR', `malformed DNS message: ${message}`);
}

function escapeLabel(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0x2e || b === 0x5c) out += '\\' + String.fromCharCode(b);
    else if (b < 0x21 || b > 0x7e) out += '\\' + b.toString().padStart(3, '0');
    else out += String.fromCharCode(b);
  }
  return out;
}

/**
 * Reads the name at `start`, following compression pointers. A pointer must point strictly
 * before the label it replaces; that rules out every loop without counting hops.
 */
export function readName(buf: Uint8Array, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = start;
  let end = -1;
  let wireLength = 1;
  let floor = start;
  for (;;) {
    const len = buf[pos];
    if (len === undefined) throw formerr('name runs past the end of the packet');
    if ((len & 0xc0) === 0xc0) {
      const low = buf[pos + 1];
      if (low === undefined) throw formerr('truncated compression pointer');
      const target = ((len & 0x3f) << 8) | low;
      if (target >= floor) throw formerr('compression pointer does not point backwards');
      if (end < 0) end = pos + 2;
      floor = target;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw formerr(`unknown label type 0x${len.toString(16)}`);
    if (len === 0) break;
    wireLength += len + 1;
    if (wireLength > MAX_NAME) throw formerr('name longer than 255 bytes');
    if (pos + 1 + len > buf.length) throw formerr('label runs past the end of the packet');
    labels.push(escapeLabel(buf.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  return { name: labels.join('.'), end: end < 0 ? pos + 1 : end };
}

/** Splits a presentation-form name into label bytes; throws `DNS_NAME_INVALID` when it is not a name. */
export function nameLabels(name: string): Uint8Array[] {
  const trimmed = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  if (trimmed === '') return [];
  const invalid = (why: string): MeshError =>
    new MeshError('DNS_NAME_INVALID', `"${name}" is not a valid domain name: ${why}`);
  const labels: Uint8Array[] = [];
  let current: number[] = [];
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed.charCodeAt(i);
    if (c === 0x2e) {
      labels.push(Uint8Array.from(current));
      current = [];
    } else if (c === 0x5c) {
      const digits = trimmed.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(digits) && Number(digits) <= 255) {
        current.push(Number(digits));
        i += 3;
      } else if (i + 1 < trimmed.length) {
        current.push(trimmed.charCodeAt(++i));
      } else {
        throw invalid('dangling backslash');
      }
    } else if (c > 0xff) {
      throw invalid('non-Latin-1 character (use punycode)');
    } else {
      current.push(c);
    }
  }
  labels.push(Uint8Array.from(current));
  let wire = 1;
  for (const label of labels) {
    if (label.length === 0) throw invalid('empty label');
    if (label.length > MAX_LABEL) throw invalid('label longer than 63 bytes');
    wire += label.length + 1;
  }
  if (wire > MAX_NAME) throw invalid('longer than 255 bytes');
  return labels;
}

/**
 * The wire form of `name` written at message offset `offset`. With a `table`, reuses the longest
 * suffix already written and records the new suffixes it writes.
 */
export function writeName(name: string, offset: number, table?: NameTable): Uint8Array {
  const labels = nameLabels(name);
  const parts: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const key = labels
      .slice(i)
      .map((l) => escapeLabel(l))
      .join('.');
    const seen = table?.get(key);
    if (seen !== undefined) {
      parts.push(0xc0 | (seen >> 8), seen & 0xff);
      return Uint8Array.from(parts);
    }
    const at = offset + parts.length;
    // Pointers have 14 bits: suffixes written later than that cannot be pointed at.
    if (table !== undefined && at < 0x4000) table.set(key, at);
    const label = labels[i] ?? new Uint8Array();
    parts.push(label.length, ...label);
  }
  parts.push(0);
  return Uint8Array.from(parts);
}

/** The canonical form of a name for lookups: lower case, no trailing dot. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') && !lower.endsWith('\\.') ? lower.slice(0, -1) : lower;
}
