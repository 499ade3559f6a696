/**
 * What a request asks echo to do differently: `?status=`, `?delayMs=`, `?size=` and
 * `x-echo-set-header`. Pure parsing, so every rule is table-tested without a socket.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';

/** Largest `?delayMs=` accepted. */
export const MAX_DELAY_MS = 60_000;
/** Largest `?size=` accepted (16 MiB). */
export const MAX_SIZE_BYTES = 16 * 1024 * 1024;

/** Response headers echo computes itself or that HTTP/2 forbids; `x-echo-set-header` may not set them. */
const RESERVED_HEADERS = new Set([
  'connection',
  'content-length',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/** The validated controls of one request. */
export interface EchoControls {
  /** Final response status (200 unless `?status=`). */
  readonly status: number;
  readonly delayMs: number;
  /** Minimum body size in bytes; 0 means no padding. */
  readonly size: number;
  /** Response headers to add, in request order. */
  readonly setHeaders: ReadonlyArray<readonly [string, string]>;
}

/** Either the controls or a reason to answer 400. */
export type ControlsResult =
  { readonly ok: true; readonly controls: EchoControls } | { readonly ok: false; readonly message: string };

function bad(message: string): ControlsResult {
  return { ok: false, message };
}

function parseInteger(raw: string, min: number, max: number): number | undefined {
  if (!/^\d{1,9}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

/**
 * Parses the query of `path` (raw request target) and the `x-echo-set-header` values.
 * A 1xx status is refused: it cannot be a final response (RFC 9110 §15.2) and HTTP/2 rejects it.
 */
export function parseControls(path: string, setHeaderValues: readonly string[]): ControlsResult {
  const q = path.indexOf('?');
  const params = new URLSearchParams(q === -1 ? '' : path.slice(q + 1));
  let status = 200;
  let delayMs = 0;
  let size = 0;
  const rawStatus = params.get('status');
  if (rawStatus !== null) {
    const n = parseInteger(rawStatus, 100, 599);
    if (n === undefined)
      return bad(`status must be an integer from 100 to 599, got ${JSON.stringify(rawStatus)}`);
    if (n < 200) return bad(`status ${n} is informational and cannot be a final response; use 200-599`);
    status = n;
  }
  const rawDelay = params.get('delayMs');
  if (rawDelay !== null) {
    const n = parseInteger(rawDelay, 0, MAX_DELAY_MS);
    if (n === undefined) {
      return bad(`delayMs must be an integer from 0 to ${MAX_DELAY_MS}, got ${JSON.stringify(rawDelay)}`);
    }
    delayMs = n;
  }
  const rawSize = params.get('size');
  if (rawSize !== null) {
    const n = parseInteger(rawSize, 0, MAX_SIZE_BYTES);
    if (n === undefined) {
      return bad(`size must be an integer from 0 to ${MAX_SIZE_BYTES}, got ${JSON.stringify(rawSize)}`);
    }
    size = n;
  }
  const setHeaders: Array<readonly [string, string]> = [];
  for (const raw of setHeaderValues) {
    const colon = raw.indexOf(':');
    const name = colon === -1 ? '' : raw.slice(0, colon).trim().toLowerCase();
    const value = colon === -1 ? '' : raw.slice(colon + 1).trim();
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch {
      return bad(`x-echo-set-header must look like "Name: value", got ${JSON.stringify(raw)}`);
    }
    if (RESERVED_HEADERS.has(name)) return bad(`x-echo-set-header may not set ${name}`);
    setHeaders.push([name, value]);
  }
  return { ok: true, controls: { status, delayMs, size, setHeaders } };
}
