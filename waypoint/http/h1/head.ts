/**
 * A strict HTTP/1.1 request-head parser (RFC 9112 §2–§7) for a raw-socket HTTP/1.1 path: the
 * request line and header fields of one request, with the framing decisions a proxy must get
 * right to avoid request smuggling. Pure: bytes in, a head or a refusal out.
 *
 * What it refuses, and with which status:
 * - 400: a malformed request line or field line, bare LF line endings, obs-fold, whitespace
 *   between a field name and its colon, control characters in a value, a missing or repeated
 *   Host in HTTP/1.1, an invalid or conflicting Content-Length, Transfer-Encoding together with
 *   Content-Length, a Transfer-Encoding whose final coding is not `chunked` or that repeats it;
 * - 431: a head larger than `maxHeadBytes`, or more than `maxFields` field lines;
 * - 501: a transfer coding other than `chunked` (gzip, …);
 * - 505: an HTTP version other than 1.0 and 1.1.
 */

import {
  contentLengthOf,
  headError,
  isTokenAt,
  scanHead,
  SP,
  tokens,
  type HeadError,
  type HeadIncomplete,
  type HeadLimits,
} from './fields.ts';

export type { HeadLimits } from './fields.ts';

/** A parsed request head. */
export interface RequestHead {
  readonly method: string;
  /** The request-target as sent (origin-form `/a?b`, absolute-form, authority-form or `*`). */
  readonly target: string;
  readonly versionMinor: 0 | 1;
  /** Field values by lowercase name; repeated fields joined with `, ` (`cookie` with `; `). */
  readonly headers: Readonly<Record<string, string>>;
  /** Name/value pairs in arrival order, names as sent. */
  readonly rawHeaders: readonly string[];
  /** The body length when framed by Content-Length. */
  readonly contentLength: number | undefined;
  /** True when the body is chunked. */
  readonly chunked: boolean;
  /** True when the connection may carry another request after this one. */
  readonly keepAlive: boolean;
  /** True for `Expect: 100-continue`. */
  readonly expectContinue: boolean;
  /** Bytes of the buffer the head took, leading empty lines included. */
  readonly headBytes: number;
}

/** What {@link parseRequestHead} found. */
export type HeadResult = HeadIncomplete | HeadError | { readonly kind: 'head'; readonly head: RequestHead };

/** Parses the request head at the start of `buf`. */
export function parseRequestHead(buf: Buffer, limits: HeadLimits): HeadResult {
  const scanned = scanHead(buf, limits, parseRequestLine);
  if (scanned.kind !== 'scanned') return scanned;
  return framing(scanned.line, scanned.headers, scanned.rawHeaders, scanned.headBytes);
}

interface RequestLine {
  readonly method: string;
  readonly target: string;
  readonly versionMinor: 0 | 1;
}

/** Methods whose name is taken as a constant (interned: cheap to compare and look up). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT'];

/** `text[0, length)` as one of {@link METHODS}, cut out of the text only when it is none of them. */
function methodOf(text: string, length: number): string {
  for (const m of METHODS) {
    if (m.length !== length) continue;
    let i = 0;
    while (i < length && text.charCodeAt(i) === m.charCodeAt(i)) i++;
    if (i === length) return m;
  }
  return text.slice(0, length);
}

function parseRequestLine(text: string, end: number): RequestLine | HeadError {
  const sp1 = text.indexOf(' ');
  if (sp1 === -1 || sp1 >= end || !isTokenAt(text, 0, sp1)) return headError(400, 'malformed request line');
  const sp2 = text.indexOf(' ', sp1 + 1);
  if (sp2 === -1 || sp2 >= end || sp2 === sp1 + 1) return headError(400, 'malformed request line');
  for (let i = sp1 + 1; i < sp2; i++) {
    const c = text.charCodeAt(i);
    if (c <= SP || c >= 0x7f) return headError(400, 'invalid character in the request target');
  }
  const version = text.slice(sp2 + 1, end);
  let versionMinor: 0 | 1;
  if (version === 'HTTP/1.1') versionMinor = 1;
  else if (version === 'HTTP/1.0') versionMinor = 0;
  else if (/^HTTP\/\d\.\d$/.test(version)) return headError(505, `${version} is not supported`);
  else return headError(400, 'malformed HTTP version');
  return { method: methodOf(text, sp1), target: text.slice(sp1 + 1, sp2), versionMinor };
}

/** Body framing and connection handling (RFC 9112 §6.3, §9.3). */
function framing(
  line: RequestLine,
  headers: Record<string, string>,
  rawHeaders: string[],
  headBytes: number,
): HeadResult {
  if (line.versionMinor === 1) {
    let hosts = 0;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i] ?? '';
      if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    }
    if (hosts !== 1)
      return headError(400, hosts === 0 ? 'HTTP/1.1 request without Host' : 'more than one Host');
  }
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  let chunked = false;
  let contentLength: number | undefined;
  if (te !== undefined) {
    if (cl !== undefined) return headError(400, 'both Transfer-Encoding and Content-Length');
    if (line.versionMinor === 0) return headError(400, 'Transfer-Encoding in an HTTP/1.0 request');
    const codings = tokens(te);
    if (codings.at(-1) !== 'chunked') return headError(400, 'the final transfer coding is not chunked');
    if (codings.indexOf('chunked') !== codings.length - 1)
      return headError(400, 'chunked applied more than once');
    if (codings.length > 1) return headError(501, `transfer coding ${codings[0] ?? ''} is not implemented`);
    chunked = true;
  } else if (cl !== undefined) {
    const length = contentLengthOf(cl);
    if (typeof length === 'string') return headError(400, length);
    contentLength = length;
  }
  const connection = headers['connection'];
  const keepAlive =
    connection === undefined
      ? line.versionMinor === 1
      : line.versionMinor === 1
        ? !tokens(connection).includes('close')
        : tokens(connection).includes('keep-alive');
  const expect = headers['expect'];
  return {
    kind: 'head',
    head: {
      method: line.method,
      target: line.target,
      versionMinor: line.versionMinor,
      headers,
      rawHeaders,
      contentLength,
      chunked,
      keepAlive,
      expectContinue: expect !== undefined && expect.toLowerCase() === '100-continue',
      headBytes,
    },
  };
}
