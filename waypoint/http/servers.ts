/**
 * The in-process h2c server HTTP/2 tunnels are handed to (`server.emit('connection', duplex)`
 * works for any Duplex), configured with the engine's limits. HTTP/1.1 tunnels go to the raw
 * server in `h1/server.ts`; both count refused input in {@link BadInputStats}.
 */
import http2 from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

import type { EngineLimits } from './types.ts';

/** Counters of refused input. */
export interface BadInputStats {
  /** HTTP/1.1 requests refused before reaching the handler, by status (400, 408, 431, 501, 505). */
  readonly byStatus: Record<number, number>;
  /** HTTP/2 sessions that failed with a protocol error. */
  h2SessionErrors: number;
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
