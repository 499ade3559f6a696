/**
 * The echo HTTP request handler, shared by the HTTP/1.1, h2c and TLS servers: read the body,
 * apply the controls (`?status`, `?delayMs`, `?size`, `x-echo-set-header`), answer with the facts.
 */
import http2 from 'node:http2';
import type http from 'node:http';
import type net from 'node:net';
import type { Logger } from '../../common/log.ts';
import { parseControls } from './controls.ts';
import { MAX_BODY_BYTES, headerValues, renderFacts, requestFacts } from './facts.ts';
import type { EchoHttpRequest, EchoIdentity } from './facts.ts';
import type { ConnectionTracker } from './tracker.ts';

/** A response from either Node HTTP server. */
export type EchoHttpResponse = http.ServerResponse | http2.Http2ServerResponse;

/** Dependencies of {@link createEchoHandler}. */
export interface EchoHandlerOptions {
  readonly identity: EchoIdentity;
  readonly tracker: ConnectionTracker;
  readonly logger: Logger;
}

/** Request header whose values (`Name: value`) become response headers. */
export const SET_HEADER = 'x-echo-set-header';

function readBody(req: EchoHttpRequest, done: (body: string) => void): void {
  const chunks: Buffer[] = [];
  let kept = 0;
  req.on('data', (chunk: Buffer) => {
    // Keep reading past the limit so the connection stays usable; only the head is reported.
    if (kept >= MAX_BODY_BYTES) return;
    const part = chunk.subarray(0, MAX_BODY_BYTES - kept);
    chunks.push(part);
    kept += part.length;
  });
  req.once('end', () => done(Buffer.concat(chunks).toString('utf8')));
}

function send(
  res: EchoHttpResponse,
  status: number,
  headers: ReadonlyArray<readonly [string, string]>,
  body: string,
  closeAfter: boolean,
): void {
  if (res.headersSent) return;
  const grouped = new Map<string, string[]>([['content-type', ['application/json']]]);
  const seen = new Set<string>();
  for (const [name, value] of headers) {
    // The first set header of a name replaces echo's default; repeats accumulate.
    const values = seen.has(name) ? (grouped.get(name) ?? []) : [];
    seen.add(name);
    grouped.set(name, [...values, value]);
  }
  res.statusCode = status;
  for (const [name, values] of grouped) res.setHeader(name, values.length === 1 ? (values[0] ?? '') : values);
  res.setHeader('content-length', Buffer.byteLength(body));
  // HTTP/2 has no Connection header; its drain is the session's GOAWAY.
  if (closeAfter && !(res instanceof http2.Http2ServerResponse)) res.setHeader('connection', 'close');
  res.end(body);
}

/** Builds the `request` listener for echo's HTTP servers. */
export function createEchoHandler(
  options: EchoHandlerOptions,
): (req: EchoHttpRequest, res: EchoHttpResponse) => void {
  const { identity, tracker, logger } = options;
  return (req, res) => {
    const h1Socket: net.Socket | undefined = req.httpVersionMajor === 2 ? undefined : req.socket;
    if (h1Socket !== undefined) {
      tracker.requestStarted(h1Socket);
      res.once('close', () => tracker.requestFinished(h1Socket));
    }
    req.once('error', (err) => logger.debug('request stream error', { err: err.message }));
    readBody(req, (body) => {
      const setHeaderValues = headerValues(req.rawHeaders)[SET_HEADER] ?? [];
      const parsed = parseControls(req.url ?? '', setHeaderValues);
      if (!parsed.ok) {
        const error = JSON.stringify({ error: { code: 'ECHO_BAD_REQUEST', message: parsed.message } }) + '\n';
        send(res, 400, [], error, tracker.draining);
        return;
      }
      const { controls } = parsed;
      const answer = (): void => {
        const facts = requestFacts(req, body, identity);
        send(res, controls.status, controls.setHeaders, renderFacts(facts, controls.size), tracker.draining);
        logger.debug('request', {
          method: facts.method,
          path: facts.path,
          proto: facts.proto,
          status: controls.status,
        });
      };
      if (controls.delayMs === 0) {
        answer();
        return;
      }
      const timer = setTimeout(answer, controls.delayMs);
      res.once('close', () => clearTimeout(timer));
    });
  };
}
