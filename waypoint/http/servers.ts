/**
 * The two in-process HTTP servers every tunnel is handed to (`server.emit('connection', duplex)`
 * works for any Duplex): an HTTP/1.1 server (keep-alive; Node serializes pipelined responses)
 * and an h2c server, both configured with the engine's limits. Malformed HTTP/1.1 input is
 * answered 400 / 408 / 431 and the connection closed; it never reaches the request handler.
 */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';

import type { EngineLimits } from './types.ts';

/** Counters of refused input. */
export interface BadInputStats {
  /** HTTP/1.1 requests refused before parsing finished, by status (400, 408, 431). */
  readonly byStatus: Record<number, number>;
  /** HTTP/2 sessions that failed with a protocol error. */
  h2SessionErrors: number;
}

/** The answer to an HTTP/1.1 parse error (llhttp's `HPE_*` codes and Node's timeout). */
export function clientErrorStatus(code: string | undefined): 400 | 408 | 431 | undefined {
  if (code === 'ECONNRESET' || code === 'EPIPE') return undefined;
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

const REASON: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** Creates the HTTP/1.1 server. */
export function createH1Server(
  limits: EngineLimits,
  stats: BadInputStats,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
): http.Server {
  const server = http.createServer(
    {
      maxHeaderSize: limits.maxHeaderSize,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
      joinDuplicateHeaders: true,
    },
    onRequest,
  );
  server.maxHeadersCount = limits.maxHeadersCount;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const status = clientErrorStatus(err.code);
    if (status === undefined || !socket.writable) {
      socket.destroy();
      return;
    }
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    const head = `HTTP/1.1 ${status} ${REASON[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
    socket.end(head, () => socket.destroy());
  });
  // Node starts its header/request timeout checks when a server listens; this one never
  // listens (tunnels are handed to it), so start them the same way.
  server.emit('listening');
  return server;
}

/** Creates the h2c server. */
export function createH2Server(
  limits: EngineLimits,
  stats: BadInputStats,
  onRequest: (req: Http2ServerRequest, res: Http2ServerResponse) => void,
): http2.Http2Server {
  const server = http2.createServer(
    {
      maxHeaderListPairs: limits.maxHeadersCount,
      settings: {
        maxConcurrentStreams: limits.maxConcurrentStreams,
        maxHeaderListSize: limits.maxHeaderListSize,
      },
    },
    onRequest,
  );
  server.on('sessionError', () => {
    stats.h2SessionErrors++;
  });
  return server;
}
