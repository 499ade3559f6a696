/**
 * HTTP/1.1 upstream: a {@link RawH1Pool} per endpoint (keep-alive, one request at a time per
 * connection) whose connections are streams opened through the injected
 * {@link UpstreamConnector} (HBONE tunnels in production), and the error mapping of opening one.
 */
import type { Duplex } from 'node:stream';

import { MeshError } from '../../common/errors.ts';
import { RawH1Pool } from './h1/client.ts';
import { EngineErrorCode } from './status.ts';
import type { UpstreamConnector, UpstreamEndpoint } from './types.ts';
import type { UpstreamPool } from './upstream-types.ts';
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

/** The HTTP/1.1 pool towards `endpoint`. */
export function h1Pool(connector: UpstreamConnector, endpoint: UpstreamEndpoint): UpstreamPool {
  return new RawH1Pool((signal) => openUpstream(connector, endpoint, signal), {
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    keepAliveMs: KEEP_ALIVE_MS,
  });
}
