/**
 * The upstream layer: one pool per (endpoint, protocol), created on first use and kept for
 * reuse; HTTP/1.1 on raw streams (`h1/client.ts`), HTTP/2 through
 * `node:http2` (see `upstream-h2.ts`). Which protocol a backend speaks comes from its port's
 * `appProtocol`; gRPC requests always go over HTTP/2.
 */
import type { MeshService } from '../../common/ir/mesh.ts';
import type { ServiceKey } from '../../common/ir/source.ts';
import { endpointKey } from './endpoints.ts';
import { h1Pool } from './upstream-h1.ts';
import { H2Pool } from './upstream-h2.ts';
import type { UpstreamConnector, UpstreamEndpoint } from './types.ts';
import type { UpstreamPool } from './upstream-types.ts';

/** The HTTP version used towards a backend. */
export type UpstreamProtocol = 'h1' | 'h2';

/** The protocol to use towards `service`:`port` for a request (gRPC → h2). */
export function upstreamProtocol(
  services: ReadonlyMap<ServiceKey, MeshService>,
  service: ServiceKey,
  port: number,
  grpc: boolean,
): UpstreamProtocol {
  if (grpc) return 'h2';
  const app = services.get(service)?.ports.find((p) => p.port === port)?.appProtocol;
  return app === 'http2' || app === 'grpc' ? 'h2' : 'h1';
}

/** All upstream pools of one engine. */
export class Upstreams {
  /** By protocol, then endpoint key (no key string built per request). */
  readonly #pools = { h1: new Map<string, UpstreamPool>(), h2: new Map<string, UpstreamPool>() };

  constructor(private readonly connector: UpstreamConnector) {}

  /** The pool towards `endpoint` for `protocol`, created on first use. */
  pool(endpoint: UpstreamEndpoint, protocol: UpstreamProtocol): UpstreamPool {
    const pools = this.#pools[protocol];
    const key = endpointKey(endpoint);
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = protocol === 'h2' ? new H2Pool(this.connector, endpoint) : h1Pool(this.connector, endpoint);
      pools.set(key, pool);
    }
    return pool;
  }

  /** Number of pools (for stats). */
  get size(): number {
    return this.#pools.h1.size + this.#pools.h2.size;
  }

  /** Closes every pool (in-flight exchanges are cut). */
  async close(): Promise<void> {
    const pools = [...this.#pools.h1.values(), ...this.#pools.h2.values()];
    this.#pools.h1.clear();
    this.#pools.h2.clear();
    await Promise.allSettled(pools.map((p) => p.close()));
  }
}
