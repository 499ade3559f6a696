/**
 * The HTTP/1.1 response head an upstream sends (RFC 9112 §4, §6.3): status line, fields (the
 * strict grammar of fields.ts) and how the body is framed, given the request it answers.
 */
import {
  contentLengthOf,
  headError,
  scanHead,
  SP,
  tokens,
  type HeadError,
  type HeadIncomplete,
  type HeadLimits,
} from './fields.ts';

/** How a response body is delimited. */
export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly bytes: number }
  | { readonly kind: 'chunked' }
  /** Until the connection closes (no length, not chunked): the connection cannot be reused. */
  | { readonly kind: 'close' };

/** A parsed response head. */
export interface ResponseHead {
  readonly status: number;
  readonly versionMinor: 0 | 1;
  /** Field values by lowercase name; repeats joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly rawHeaders: readonly string[];
  /** True when a field name came more than once. */
  readonly repeated: boolean;
  readonly framing: BodyFraming;
  /** True when the connection may carry another request once this response is read. */
  readonly keepAlive: boolean;
  readonly headBytes: number;
}

/** What {@link parseResponseHead} found. */
export type ResponseResult =
  HeadIncomplete | HeadError | { readonly kind: 'head'; readonly head: ResponseHead };

interface StatusLine {
  readonly status: number;
  readonly versionMinor: 0 | 1;
}

function parseStatusLine(text: string, end: number): StatusLine | HeadError {
  // HTTP/1.x SP 3DIGIT [SP reason]; the reason may hold HTAB, SP, VCHAR and obs-text.
  const c7 = text.charCodeAt(7);
  const d0 = text.charCodeAt(9) - 0x30;
  const d1 = text.charCodeAt(10) - 0x30;
  const d2 = text.charCodeAt(11) - 0x30;
  let ok =
    end >= 12 &&
    text.startsWith('HTTP/1.') &&
    (c7 === 0x30 || c7 === 0x31) &&
    text.charCodeAt(8) === SP &&
    d0 >= 1 &&
    d0 <= 9 &&
    d1 >= 0 &&
    d1 <= 9 &&
    d2 >= 0 &&
    d2 <= 9 &&
    (end === 12 || text.charCodeAt(12) === SP);
  for (let i = 13; ok && i < end; i++) {
    const c = text.charCodeAt(i);
    if ((c < SP && c !== 0x09) || c === 0x7f) ok = false;
  }
  if (!ok) return headError(400, `malformed status line ${JSON.stringify(text.slice(0, Math.min(end, 64)))}`);
  return { versionMinor: c7 === 0x31 ? 1 : 0, status: d0 * 100 + d1 * 10 + d2 };
}

/** Parses the response head at the start of `buf`, for a request with `method`. */
export function parseResponseHead(buf: Buffer, limits: HeadLimits, method: string): ResponseResult {
  const scanned = scanHead(buf, limits, parseStatusLine);
  if (scanned.kind !== 'scanned') return scanned;
  const { line, headers } = scanned;
  const connection = tokens(headers['connection']);
  let keepAlive = line.versionMinor === 1 ? !connection.includes('close') : connection.includes('keep-alive');
  let framing: BodyFraming;
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  if (method === 'HEAD' || line.status < 200 || line.status === 204 || line.status === 304) {
    framing = { kind: 'none' };
  } else if (te !== undefined) {
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; the connection must not be
    // reused. §6.1: nor after an HTTP/1.0 message with Transfer-Encoding (its framing is suspect).
    if (cl !== undefined || line.versionMinor === 0) keepAlive = false;
    const codings = tokens(te);
    if (codings.at(-1) === 'chunked' && codings.length === 1) framing = { kind: 'chunked' };
    else if (codings.at(-1) === 'chunked') return headError(501, `transfer coding ${te} is not implemented`);
    else {
      framing = { kind: 'close' };
      keepAlive = false;
    }
  } else if (cl !== undefined) {
    const bytes = contentLengthOf(cl);
    if (typeof bytes === 'string') return headError(400, bytes);
    framing = { kind: 'length', bytes };
  } else {
    framing = { kind: 'close' };
    keepAlive = false;
  }
  return {
    kind: 'head',
    head: {
      status: line.status,
      versionMinor: line.versionMinor,
      headers,
      rawHeaders: scanned.rawHeaders,
      repeated: scanned.repeated,
      framing,
      keepAlive,
      headBytes: scanned.headBytes,
    },
  };
}
