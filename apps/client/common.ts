/**
 * Helpers shared by the client transports: error codes, body parsing, header grouping.
 */
import { errorMessage, isMeshError } from '../../common/errors.ts';
import type { Outcome } from './types.ts';

/** A stable code for a transport error: MeshError code, Node `code`, or `ERROR`. */
export function errorCode(err: unknown): string {
  if (isMeshError(err)) return err.code;
  if (err instanceof AggregateError) return errorCode(err.errors[0]);
  // http2 cancels pending streams with ERR_HTTP2_STREAM_CANCEL; the cause (e.g. ECONNREFUSED) says why.
  if (err instanceof Error && err.cause instanceof Error && 'code' in err.cause) return errorCode(err.cause);
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return 'ERROR';
}

/** The failure outcome for `err`. */
export function failure(err: unknown): Outcome {
  // Happy-eyeballs connects (autoSelectFamily) fail with an AggregateError of one error per address.
  const message = err instanceof AggregateError ? err.errors.map(errorMessage).join('; ') : errorMessage(err);
  return { error: { code: errorCode(err), message } };
}

/** Parsed JSON when `text` parses, else the text itself. */
export function parseBody(text: string): unknown {
  if (text === '') return '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Groups ordered headers by lower-case name; repeated names become arrays. */
export function groupHeaders(
  headers: ReadonlyArray<readonly [string, string]>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [rawName, value] of headers) {
    const name = rawName.toLowerCase();
    const known = out[name];
    out[name] = known === undefined ? value : [...(Array.isArray(known) ? known : [known]), value];
  }
  return out;
}

/** Copies Node's response headers, dropping undefined values and HTTP/2 pseudo-headers. */
export function plainHeaders(
  headers: Readonly<Record<string, string | string[] | number | undefined>>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    out[name] = typeof value === 'number' ? String(value) : value;
  }
  return out;
}

/** The hostname of `url` without IPv6 brackets, as `net.connect` wants it. */
export function bareHostname(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}
