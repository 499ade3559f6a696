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
  /** True when a field name came more than once (then `headers` holds joined values). */
  readonly repeated: boolean;
}

const HEAD_END = Buffer.from('\r\n\r\n');
/** Up to this many bytes, a buffer is decoded whole rather than searched for the head's end first. */
const DECODE_WHOLE_BYTES = 2048;
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

/** True when byte `c` is a tchar. */
export function isTokenByte(c: number): boolean {
  return TCHAR[c] === 1;
}

/** A refusal with `status`. */
export function headError(status: HeadError['status'], reason: string): HeadError {
  return { kind: 'error', status, reason };
}

/** True when `text[from, to)` is a non-empty token. */
export function isTokenAt(text: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || TCHAR[c] !== 1) return false;
  }
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

/**
 * The lowercase form of `text` when it is a non-empty token (the same string when it has no
 * uppercase letter), else undefined: validation and lower-casing in one pass.
 */
export function lowerToken(text: string): string | undefined {
  if (text.length === 0) return undefined;
  let upper = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || TCHAR[c] !== 1) return undefined;
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  return upper ? text.toLowerCase() : text;
}

/** Index of the CRLF that ends the line starting at `from`, -1 when absent, -2 on a bare LF. */
function lineEnd(text: string, from: number): number {
  const lf = text.indexOf('\n', from);
  if (lf === -1) return -1;
  if (lf === from || text.charCodeAt(lf - 1) !== CR) return -2;
  return lf - 1;
}

/**
 * A map of field values by lowercase name without `Object.prototype` in its chain (a field named
 * `constructor` or `__proto__` is a field), yet in V8's fast mode, unlike `Object.create(null)`.
 */
const FieldMap = function FieldMap(this: object) {} as unknown as new () => Record<string, string>;
FieldMap.prototype = Object.create(null) as object;

/**
 * Common field names as clients and servers spell them (lowercase and Title-Case), by length and
 * first character (`length * 128 + code`), each with its lowercase form: a name in the table
 * costs one or two string comparisons instead of lower-casing it and interning the result as a
 * property key. Every other name takes `toLowerCase()`. A fixed table: no input makes it grow.
 */
const COMMON_NAMES: readonly (readonly (readonly [string, string])[] | undefined)[] = (() => {
  const names = [
    'accept',
    'accept-encoding',
    'accept-language',
    'accept-ranges',
    'authorization',
    'cache-control',
    'connection',
    'content-encoding',
    'content-length',
    'content-type',
    'cookie',
    'date',
    'etag',
    'expect',
    'host',
    'keep-alive',
    'last-modified',
    'location',
    'origin',
    'referer',
    'server',
    'set-cookie',
    'te',
    'traceparent',
    'tracestate',
    'transfer-encoding',
    'upgrade',
    'user-agent',
    'vary',
    'x-forwarded-for',
    'x-forwarded-proto',
    'x-request-id',
  ];
  const table: [string, string][][] = [];
  const add = (spelling: string, lower: string): void => {
    (table[spelling.length * 128 + spelling.charCodeAt(0)] ??= []).push([spelling, lower]);
  };
  for (const [spelling, lower] of [
    ['ETag', 'etag'],
    ['TE', 'te'],
    ['X-Request-ID', 'x-request-id'],
  ] as const)
    add(spelling, lower);
  for (const name of names) {
    add(name, name);
    add(
      name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()),
      name,
    );
  }
  return table;
})();

/** The lowercase form of the field name `name` (a token). */
function lowerName(name: string): string {
  const candidates = COMMON_NAMES[name.length * 128 + name.charCodeAt(0)];
  if (candidates !== undefined) {
    for (let k = 0; k < candidates.length; k++) {
      const c = candidates[k] as readonly [string, string];
      if (c[0] === name) return c[1];
    }
  }
  return name.toLowerCase();
}

/**
 * `text` without surrounding optional whitespace: SP and HTAB only (RFC 9110 §5.6.3). Not
 * `String.prototype.trim()`, which also strips U+00A0 — byte 0xA0 in a latin1 head — so that
 * `Transfer-Encoding: \xa0chunked` would read as chunked where other parsers refuse it.
 */
export function trimOws(text: string): string {
  let from = 0;
  let to = text.length;
  while (from < to && (text.charCodeAt(from) === SP || text.charCodeAt(from) === HTAB)) from++;
  while (to > from && (text.charCodeAt(to - 1) === SP || text.charCodeAt(to - 1) === HTAB)) to--;
  return from === 0 && to === text.length ? text : text.slice(from, to);
}

/** Splits a comma-separated list into lowercase, trimmed, non-empty tokens. */
export function tokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  // The values a keep-alive exchange carries, without trimming and lower-casing.
  if (value === 'keep-alive' || value === 'close' || value === 'chunked') return [value];
  if (!value.includes(',')) {
    const one = trimOws(value).toLowerCase();
    return one === '' ? [] : [one];
  }
  return value
    .split(',')
    .map((t) => trimOws(t).toLowerCase())
    .filter((t) => t !== '');
}

/**
 * Scans the head at the start of `buf`: `startLine(text, end)` parses the first line (`text` is
 * the head as latin1 from the start line on, `end` where its CRLF is), then the field lines
 * follow until the empty line. The head is decoded once; lines and fields are cut from it.
 */
export function scanHead<L>(
  buf: Buffer,
  limits: HeadLimits,
  startLine: (text: string, end: number) => L | HeadError,
): ScannedHead<L> | HeadError | HeadIncomplete {
  // RFC 9112 §2.2: empty lines before the start line are ignored — but they count toward the
  // head's limit, or a stream of CRLFs would be buffered and re-scanned without end.
  let start = 0;
  while (start + 1 < buf.length && buf[start] === CR && buf[start + 1] === LF) start += 2;
  // A short buffer (a head alone, or with a small body) is decoded whole: searching for the
  // head's end first costs more than decoding the bytes behind it, which the field loop never
  // reaches. A longer one is decoded up to the end of the head when that is in `buf` (not the
  // body behind it), else all there is up to the limit (so a head ended by bare LFs is still
  // seen, and refused).
  const limit = Math.min(buf.length, limits.maxHeadBytes);
  let textEnd = limit;
  if (limit - start > DECODE_WHOLE_BYTES) {
    const crlf2 = buf.indexOf(HEAD_END, start);
    if (crlf2 !== -1 && crlf2 + 4 <= limit) textEnd = crlf2 + 4;
  }
  const text = buf.toString('latin1', start, textEnd);
  const lineEndOf = (from: number): number | HeadError | HeadIncomplete => {
    const end = lineEnd(text, from);
    if (end === -2) return headError(400, 'line ending without CR (bare LF)');
    if (end === -1) {
      return buf.length >= limits.maxHeadBytes
        ? headError(431, `message head larger than ${limits.maxHeadBytes} bytes`)
        : { kind: 'incomplete' };
    }
    return end;
  };

  const first = lineEndOf(0);
  if (typeof first !== 'number') return first;
  const line = startLine(text, first);
  if (typeof line === 'object' && line !== null && (line as { kind?: unknown }).kind === 'error')
    return line as HeadError;
  let pos = first + 2;

  const rawHeaders: string[] = [];
  const headers = new FieldMap();
  let fields = 0;
  let repeated = false;
  for (;;) {
    const end = lineEndOf(pos);
    if (typeof end !== 'number') return end;
    if (end === pos) {
      pos += 2;
      break;
    }
    if (++fields > limits.maxFields) return headError(431, `more than ${limits.maxFields} header fields`);
    const c0 = text.charCodeAt(pos);
    if (c0 === SP || c0 === HTAB) return headError(400, 'obsolete line folding in a header field');
    const colon = text.indexOf(':', pos);
    if (colon === -1 || colon > end) return headError(400, 'header field without a colon');
    if (!isTokenAt(text, pos, colon)) return headError(400, 'invalid header field name');
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && (text.charCodeAt(vs) === SP || text.charCodeAt(vs) === HTAB)) vs++;
    while (ve > vs && (text.charCodeAt(ve - 1) === SP || text.charCodeAt(ve - 1) === HTAB)) ve--;
    for (let i = vs; i < ve; i++) {
      const c = text.charCodeAt(i);
      if ((c < SP && c !== HTAB) || c === 0x7f) return headError(400, 'control character in a header value');
    }
    const name = text.slice(pos, colon);
    const value = text.slice(vs, ve);
    rawHeaders.push(name, value);
    const key = lowerName(name);
    const had = headers[key];
    if (had === undefined) headers[key] = value;
    else {
      repeated = true;
      headers[key] = had + (key === 'cookie' ? '; ' : ', ') + value;
    }
    pos = end + 2;
  }
  return { kind: 'scanned', line: line as L, headers, rawHeaders, headBytes: start + pos, repeated };
}

/** The value of 1 to 15 decimal digits (below 2^53), else -1. */
function digitsValue(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Checks a Content-Length value (repeats must agree); the length, or a reason. */
export function contentLengthOf(value: string): number | string {
  // The common case, one plain number, without splitting.
  const n = digitsValue(value);
  if (n >= 0) return n;
  const values = value.split(',').map(trimOws);
  const first = values[0] ?? '';
  // 15 digits at most: below 2^53.
  if (!/^\d+$/.test(first) || first.length > 15) return 'invalid Content-Length';
  if (values.some((v) => v !== first)) return 'conflicting Content-Length values';
  return Number(first);
}
