/**
 * h2c transport: HTTP/2 with prior knowledge over cleartext, one session for the whole run
 * (re-opened only if it dies), every request a stream on it.
 */
import http2 from 'node:http2';
import { failure, parseBody, plainHeaders } from './common.ts';
import { timeoutError } from './http1.ts';
import type { HttpRequestSpec } from './http1.ts';
import type { Outcome, Transport } from './types.ts';

/** Request headers for a stream: pseudo-headers first, a `host` header replaces `:authority`. */
export function h2RequestHeaders(spec: HttpRequestSpec): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {
    ':method': spec.method,
    ':path': spec.url.pathname + spec.url.search,
    // Set explicitly: http2.connect derives it from the hostname and drops IPv6 brackets.
    ':authority': spec.url.host,
  };
  for (const [rawName, value] of spec.headers) {
    const name = rawName.toLowerCase() === 'host' ? ':authority' : rawName.toLowerCase();
    const known = out[name];
    out[name] =
      known === undefined || name.startsWith(':')
        ? value
        : [...(Array.isArray(known) ? known : [String(known)]), value];
  }
  return out;
}

/** Creates the h2c transport. */
export function createH2cTransport(spec: HttpRequestSpec): Transport {
  let session: http2.ClientHttp2Session | undefined;
  const current = (): http2.ClientHttp2Session => {
    if (session !== undefined && !session.closed && !session.destroyed) return session;
    const fresh = http2.connect(spec.url.origin);
    // Streams see the same error; the listener only keeps it from crashing the process.
    fresh.on('error', () => undefined);
    fresh.once('close', () => {
      if (session === fresh) session = undefined;
    });
    session = fresh;
    return fresh;
  };
  const send = (): Promise<Outcome> =>
    new Promise((resolve) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = current().request(h2RequestHeaders(spec), { endStream: spec.data === undefined });
      } catch (err) {
        resolve(failure(err));
        return;
      }
      const timer = setTimeout(() => stream.destroy(timeoutError(spec.timeoutMs)), spec.timeoutMs);
      let status = 0;
      let headers: Record<string, string | string[]> = {};
      const chunks: Buffer[] = [];
      stream.once('response', (h) => {
        status = Number(h[':status'] ?? 0);
        headers = plainHeaders(h);
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.once('error', (err) => {
        clearTimeout(timer);
        resolve(failure(err));
      });
      stream.once('end', () => {
        clearTimeout(timer);
        if (status === 0) {
          resolve(failure(new Error('stream ended without response headers')));
          return;
        }
        resolve({
          status,
          headers,
          body: parseBody(Buffer.concat(chunks).toString('utf8')),
          proto: 'HTTP/2.0',
        });
      });
      if (spec.data !== undefined) stream.end(spec.data);
    });
  return { send, close: () => session?.close() };
}
