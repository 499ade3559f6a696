/**
 * The part of an HTTP/1.1 message head that requests and responses share (RFC 9112 §2–§5): the
 * lines up to the empty line, the field lines with their strict grammar, and the size limits.
 * The start line is parsed by the caller's function.
 */

/** Limits of one message head. */
export interface HeadLimits {
  /** Bytes of the start line and fields, final empty line included. */
  readonly maxHeadBytes: number;
  /** Field lines. */
  readonly maxFields: number;
}

/** A refusal: 400 malformed, 431 too large, 501 not implemented, 505 version. */
export interface HeadError {
  readonly kind: 'error';
  readonly status: 400 | 431 | 501 | 505;
  readonly reason: string;
}

/** A head whose bytes have not all arrived. */
export interface HeadIncomplete {
  readonly kind: 'incomplete';
}

/** A scanned head: the parsed start line and the fields. */
export interface ScannedHead<L> {
  readonly kind: 'scanned';
  readonly line: L;
  /** Field values by lowercase name (no prototype); repeats joined with `, ` (`cookie`: `; `). */
  readonly headers: Record<string, string>;
  /** Name/value pairs in arrival order, names as sent. */
  readonly rawHeaders: string[];
  /** Bytes of the buffer the head took, leading empty lines included. */
  readonly headBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;
export const SP = 0x20;
const HTAB = 0x09;

/** tchar of RFC 9110 §5.6.2, indexed by byte. */
const TCHAR = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "!#$%&'*+-.^_`|~") t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** A refusal with `status`. */
export function headError(status: HeadError['status'], reason: string): HeadError {
  return { kind: 'error', status, reason };
}

/** True when `buf[from, to)` is a non-empty token. */
export function isToken(buf: Buffer, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) if (TCHAR[buf[i] ?? 0] !== 1) return false;
  return true;
}

/** True when `text` is a non-empty token (no Buffer needed for names already in a string). */
export function isTokenText(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** Index of the CRLF that ends the line starting at `from`, -1 when absent, -2 on a bare LF. */
function lineEnd(buf: Buffer, from: number, limit: number): number {
  const lf = buf.indexOf(LF, from);
  if (lf === -1 || lf >= limit) return -1;
  if (lf === from || buf[lf - 1] !== CR) return -2;
  return lf - 1;
}

/** Splits a comma-separated list into lowercase, trimmed, non-empty tokens. */
export function tokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
}

/**
 * Scans the head at the start of `buf`: `startLine(buf, from, end)` parses the first line (bytes
 * `[from, end)`, CRLF excluded), then the field lines follow until the empty line.
 */
export function scanHead<L>(
  buf: Buffer,
  limits: HeadLimits,
  startLine: (buf: Buffer, from: number, end: number) => L | HeadError,
): ScannedHead<L> | HeadError | HeadIncomplete {
  // RFC 9112 §2.2: empty lines before the start line are ignored.
  let pos = 0;
  while (pos + 1 < buf.length && buf[pos] === CR && buf[pos + 1] === LF) pos += 2;
  const start = pos;
  const limit = Math.min(buf.length, start + limits.maxHeadBytes);
  const lineEndOf = (from: number): number | HeadError | HeadIncomplete => {
    const end = lineEnd(buf, from, limit);
    if (end === -2) return headError(400, 'line ending without CR (bare LF)');
    if (end === -1) {
      return buf.length - start >= limits.maxHeadBytes
        ? headError(431, `message head larger than ${limits.maxHeadBytes} bytes`)
        : { kind: 'incomplete' };
    }
    return end;
  };

  const first = lineEndOf(pos);
  if (typeof first !== 'number') return first;
  const line = startLine(buf, pos, first);
  if (typeof line === 'object' && line !== null && (line as { kind?: unknown }).kind === 'error')
    return line as HeadError;
  pos = first + 2;

  const rawHeaders: string[] = [];
  // No prototype: a field named `__proto__` must be a field, not a prototype change.
  const headers = Object.create(null) as Record<string, string>;
  let fields = 0;
  for (;;) {
    const end = lineEndOf(pos);
    if (typeof end !== 'number') return end;
    if (end === pos) {
      pos += 2;
      break;
    }
    if (++fields > limits.maxFields) return headError(431, `more than ${limits.maxFields} header fields`);
    const c0 = buf[pos];
    if (c0 === SP || c0 === HTAB) return headError(400, 'obsolete line folding in a header field');
    const colon = buf.indexOf(0x3a, pos);
    if (colon === -1 || colon > end) return headError(400, 'header field without a colon');
    if (!isToken(buf, pos, colon)) return headError(400, 'invalid header field name');
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
    for (let i = vs; i < ve; i++) {
      const c = buf[i] ?? 0;
      if ((c < SP && c !== HTAB) || c === 0x7f) return headError(400, 'control character in a header value');
    }
    const name = buf.toString('latin1', pos, colon);
    const value = buf.toString('latin1', vs, ve);
    rawHeaders.push(name, value);
    const key = name.toLowerCase();
    const had = headers[key];
    headers[key] = had === undefined ? value : had + (key === 'cookie' ? '; ' : ', ') + value;
    pos = end + 2;
  }
  return { kind: 'scanned', line: line as L, headers, rawHeaders, headBytes: pos };
}

/** Checks a Content-Length value (repeats must agree); the length, or a reason. */
export function contentLengthOf(value: string): number | string {
  const values = value.split(',').map((v) => v.trim());
  const first = values[0] ?? '';
  // 15 digits at most: below 2^53.
  if (!/^\d+$/.test(first) || first.length > 15) return 'invalid Content-Length';
  if (values.some((v) => v !== first)) return 'conflicting Content-Length values';
  return Number(first);
}
