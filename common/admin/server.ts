/**
 * One small `node:http` server for the operational endpoints every proxy serves (DESIGN.md §3):
 * admin on localhost:15000, Prometheus on 15020, readiness on 15021 — any subset on any
 * host/port. Handlers are plain functions; this shell maps their failures to HTTP statuses and
 * never lets one take the process down.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { errorMessage, MeshError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';

/** What a handler answers. */
export interface AdminResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** Serves one path; may be async; a throw becomes a 500. */
export type AdminHandler = (req: IncomingMessage) => AdminResponse | Promise<AdminResponse>;

/** Options for {@link startAdminServer}. */
export interface AdminServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Handlers by exact path (query strings are ignored), e.g. `{ '/metrics': metricsRoute(reg) }`. */
  readonly routes: Readonly<Record<string, AdminHandler>>;
  readonly logger?: Logger;
}

/** A running admin server. */
export interface AdminServer {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  /** Stops listening; open connections are closed after `deadlineMs` (default 1 s). */
  stop(options?: { deadlineMs?: number }): Promise<void>;
}

function send(res: ServerResponse, r: AdminResponse, extra: Record<string, string> = {}): void {
  res.writeHead(r.status, {
    'content-type': r.contentType,
    'content-length': Buffer.byteLength(r.body),
    ...extra,
  });
  res.end(r.body);
}

const TEXT = 'text/plain; charset=utf-8';

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}

async function handle(
  routes: ReadonlyMap<string, AdminHandler>,
  log: Logger,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = pathOf(req.url);
  const handler = routes.get(path);
  if (handler === undefined) {
    send(res, { status: 404, contentType: TEXT, body: `no such endpoint ${path}\n` });
    return;
  }
  if (req.method !== 'GET') {
    send(
      res,
      { status: 405, contentType: TEXT, body: `${req.method ?? ''} not allowed; use GET\n` },
      { allow: 'GET' },
    );
    return;
  }
  let answer: AdminResponse;
  try {
    answer = await handler(req);
  } catch (err) {
    log.error('admin endpoint failed', { path, error: errorMessage(err) });
    answer = { status: 500, contentType: TEXT, body: `${path} failed: ${errorMessage(err)}\n` };
  }
  send(res, answer);
}

/** Starts the server; rejects with `ADMIN_LISTEN_FAILED` when the address cannot be bound. */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const log = (options.logger ?? silentLogger).child({ component: 'admin' });
  const routes = new Map(Object.entries(options.routes));
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    res.on('error', (err) => log.debug('admin response failed', { error: err.message }));
    handle(routes, log, req, res).catch((err: unknown) => {
      // Only reachable if writing the response itself threw.
      log.error('admin request failed', { error: errorMessage(err) });
      res.destroy();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(
        new MeshError(
          'ADMIN_LISTEN_FAILED',
          `cannot listen on ${options.host}:${options.port}: ${err.message}`,
          {
            hint: 'is another process (or another proxy) already using this port?',
            cause: err,
          },
        ),
      );
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.error('admin server error', { error: err.message }));
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  log.info('admin server listening', { host: options.host, port, paths: [...routes.keys()] });
  let stopped: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    url: `http://${hostForUrl}:${port}`,
    stop(stopOptions = {}) {
      stopped ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, stopOptions.deadlineMs ?? 1000);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      return stopped;
    },
  };
}
