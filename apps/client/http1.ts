/**
 * HTTP/1.1 transport: one keep-alive agent for the whole run, so sequential requests reuse a
 * connection and concurrent ones open up to `concurrency` connections.
 */
import http from 'node:http';
import { MeshError } from '../../common/errors.ts';
import { bareHostname, failure, groupHeaders, parseBody, plainHeaders } from './common.ts';
import type { Outcome, Transport } from './types.ts';

/** What the HTTP transports need to know about the request. */
export interface HttpRequestSpec {
  readonly url: URL;
  readonly method: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly data: string | undefined;
  readonly timeoutMs: number;
  readonly concurrency: number;
}

/** A timeout error with the elapsed limit in the message. */
export function timeoutError(timeoutMs: number): MeshError {
  return new MeshError('CLIENT_TIMEOUT', `no complete response within ${timeoutMs} ms`, {
    hint: 'raise --timeout-ms or check that the server answers',
  });
}

/** Creates the HTTP/1.1 transport. */
export function createHttp1Transport(spec: HttpRequestSpec): Transport {
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const send = (): Promise<Outcome> =>
    new Promise((resolve) => {
      const req = http.request({
        host: bareHostname(spec.url),
        port: spec.url.port === '' ? 80 : Number(spec.url.port),
        path: spec.url.pathname + spec.url.search,
        method: spec.method,
        headers: groupHeaders(spec.headers),
        agent,
      });
      const timer = setTimeout(() => req.destroy(timeoutError(spec.timeoutMs)), spec.timeoutMs);
      const fail = (err: unknown): void => {
        clearTimeout(timer);
        resolve(failure(err));
      };
      req.once('error', fail);
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', fail);
        res.once('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            headers: plainHeaders(res.headers),
            body: parseBody(Buffer.concat(chunks).toString('utf8')),
            proto: `HTTP/${res.httpVersion}`,
          });
        });
      });
      req.end(spec.data);
    });
  return { send, close: () => agent.destroy() };
}
