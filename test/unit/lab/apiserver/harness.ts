// In-process driver of the lab API server for unit tests: `api.handle` with a minimal
// request/response pair, so tests need no sockets.
import { generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { createApiServer, type ApiServer, type ApiServerOptions } from '../../../../lab/apiserver/server.ts';

const SIGNING_KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

/** An API server over `dataDir` whose admin token is `admin` (what {@link call} sends). */
export function openApi(dataDir: string, extra: Partial<ApiServerOptions> = {}): Promise<ApiServer> {
  return createApiServer({
    dataDir,
    adminToken: 'admin',
    signingKeyPem: SIGNING_KEY,
    serviceCidr: '10.96.0.0/24',
    ...extra,
  });
}

/** What a request got back: status, the first JSON body, every JSON line (watches), headers. */
export interface Reply {
  status: number;
  body: Record<string, unknown>;
  lines: Record<string, unknown>[];
  headers: Record<string, unknown>;
}

/** A body sent as these exact bytes (YAML, broken JSON); any other body is sent as JSON. */
export class Raw {
  constructor(readonly text: string) {}
}

/** Sends one request to `api`; `close` ends it from the client side (watches). */
export function call(
  api: ApiServer,
  method: string,
  url: string,
  body?: unknown,
  contentType = 'application/json',
  extraHeaders: Record<string, string> = {},
): { done: Promise<Reply>; close: () => void } {
  const req = new PassThrough() as unknown as IncomingMessage & PassThrough;
  Object.assign(req, {
    method,
    url,
    headers: { authorization: 'Bearer admin', 'content-type': contentType, ...extraHeaders },
  });
  const chunks: string[] = [];
  const reply: Reply = { status: 0, body: {}, lines: [], headers: {} };
  let finish: () => void = () => undefined;
  const done = new Promise<Reply>((resolve) => {
    finish = () => {
      const text = chunks.join('');
      if (text.startsWith('{')) {
        reply.lines = text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        reply.body = reply.lines[0] ?? {};
      }
      resolve(reply);
    };
  });
  const res = {
    headersSent: false,
    writableLength: 0,
    writeHead(code: number, headers: Record<string, unknown>) {
      reply.status = code;
      reply.headers = headers;
      this.headersSent = true;
    },
    flushHeaders: () => undefined,
    write(t: string) {
      chunks.push(t);
      return true;
    },
    end(t?: string) {
      if (t !== undefined) chunks.push(t);
      finish();
    },
    on: () => undefined,
    destroy: () => finish(),
  };
  api.handle(req, res as unknown as ServerResponse);
  req.end(body === undefined ? undefined : body instanceof Raw ? body.text : JSON.stringify(body));
  return { done, close: () => req.emit('close') };
}
