/**
 * The HTTP/1.1 response head an upstream sends (RFC 9112 §4, §6.3): status line, fields (the
 * strict grammar of fields.ts) and how the body is framed, given the request it answers.
 */
import {
  contentLengthOf,
  headError,
  scanHead,
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

function parseStatusLine(buf: Buffer, from: number, end: number): StatusLine | HeadError {
  const text = buf.toString('latin1', from, end);
  const m = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t \x21-\x7e\x80-\xff]*)?$/.exec(text);
  if (m === null) return headError(400, `malformed status line ${JSON.stringify(text.slice(0, 64))}`);
  return { versionMinor: m[1] === '1' ? 1 : 0, status: Number(m[2]) };
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
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; the connection must not be reused.
    if (cl !== undefined) keepAlive = false;
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
      framing,
      keepAlive,
      headBytes: scanned.headBytes,
    },
  };
}
