/**
 * HTTP/1.1 upstream: an undici `Pool` per endpoint (keep-alive, pipelining 1) whose `connect`
 * hook opens the stream through the injected {@link UpstreamConnector} instead of a TCP socket.
 * undici accepts any Duplex there (verified by the integration tests with socket pairs).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

import { Pool } from 'undici';
import type { buildConnector } from 'undici';

import { MeshError } from '../../common/errors.ts';
import { EngineErrorCode } from './status.ts';
import type { UpstreamConnector, UpstreamEndpoint } from './types.ts';
import type { UpstreamPool, UpstreamRequestSpec, UpstreamResponse } from './upstream-types.ts';
import { endpointKey } from './endpoints.ts';

/** How long opening an upstream stream may take before the attempt fails with 502. */
export const CONNECT_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_MS = 30_000;

/** Opens a stream to `endpoint`, turning every failure into a CONNECT_FAILED MeshError. */
export async function openUpstream(
  connector: UpstreamConnector,
  endpoint: UpstreamEndpoint,
  signal: AbortSignal,
): Promise<Duplex> {
  try {
    return await connector.connect(endpoint, signal);
  } catch (err) {
    throw new MeshError(
      EngineErrorCode.CONNECT_FAILED,
      `cannot connect to backend ${endpoint.service} (endpoint ${endpointKey(endpoint)}): ${
        err instanceof Error ? err.message : String(err)
      }`,
      { hint: 'is the backend pod running and is port 15008 reachable from the waypoint?', cause: err },
    );
  }
}

/** An undici pool to one endpoint. */
export class H1Pool implements UpstreamPool {
  readonly #pool: Pool;

  constructor(connector: UpstreamConnector, endpoint: UpstreamEndpoint) {
    const connect: buildConnector.connector = (_opts, callback) => {
      openUpstream(connector, endpoint, AbortSignal.timeout(CONNECT_TIMEOUT_MS)).then(
        // undici types the socket as net.Socket but only uses the Duplex surface (and ref/unref).
        (stream) => callback(null, stream as unknown as Socket),
        (err: Error) => callback(err, null),
      );
    };
    this.#pool = new Pool(`http://${endpointKey(endpoint)}`, {
      connect,
      pipelining: 1,
      keepAliveTimeout: KEEP_ALIVE_MS,
      // The engine enforces the route's timeouts itself.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async send(spec: UpstreamRequestSpec, signal: AbortSignal): Promise<UpstreamResponse> {
    spec.headers['host'] = spec.authority;
    const data = await this.#pool.request({
      path: spec.pathAndQuery,
      method: spec.method,
      headers: spec.headers,
      body: spec.body ?? null,
      signal,
    });
    return {
      status: data.statusCode,
      headers: data.headers,
      body: data.body,
      trailers: () => (Object.keys(data.trailers).length === 0 ? undefined : data.trailers),
    };
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}
