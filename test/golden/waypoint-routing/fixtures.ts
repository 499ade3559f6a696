/**
 * Hand-built waypoint snapshots and requests for the route engine's unit tests
 * (test/unit/waypoint/routing*.test.ts).
 */
import type {
  GrpcMatch,
  HttpMatch,
  InvalidBackend,
  ResolvedBackend,
  RouteEntry,
  RouteFilter,
  RouteTable,
} from '../../../common/ir/routes.ts';
import type { WaypointSnapshot } from '../../../common/ir/snapshots.ts';
import type { ServiceKey } from '../../../common/ir/source.ts';
import type { Random, RouteRequest, RouteTarget } from '../../../waypoint/routing/types.ts';

/** The Service every fixture routes for. */
export const SVC: ServiceKey = 'shop/reviews';
/** Its port. */
export const PORT = 8080;

/** An HTTP match with defaults. */
export const http = (m: Partial<HttpMatch> = {}): HttpMatch => ({
  kind: 'http',
  headers: [],
  queryParams: [],
  ...m,
});
/** A gRPC match with defaults. */
export const grpc = (m: Partial<GrpcMatch> = {}): GrpcMatch => ({ kind: 'grpc', headers: [], ...m });

/** A resolved backend `shop/<name>:80`. */
export function backend(name: string, weight = 1, filters: RouteFilter[] = []): ResolvedBackend {
  return { kind: 'service', service: `shop/${name}`, port: 80, weight, filters };
}

/** An invalid backend. */
export function broken(weight = 1, reason = 'service shop/gone not found'): InvalidBackend {
  return { kind: 'invalid', weight, reason };
}

/** A route entry with id `httproute/shop/r/rule/<rule>/match/0`. */
export function entry(rule: string, e: Partial<RouteEntry> = {}): RouteEntry {
  return {
    id: `httproute/shop/r/rule/${rule}/match/0`,
    route: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop', name: 'r' },
    rule,
    match: http(),
    filters: [],
    backends: [backend('v1')],
    timeouts: {},
    ...e,
  };
}

/** A table for SVC:PORT. */
export function table(producer: RouteEntry[], t: Partial<RouteTable> = {}): RouteTable {
  return { service: SVC, port: PORT, protocol: 'http', producer, consumers: {}, ...t };
}

/** A waypoint snapshot holding `tables`. */
export function snapshot(...tables: RouteTable[]): WaypointSnapshot {
  return {
    kind: 'waypoint',
    version: 'test',
    trustDomain: 'cluster.local',
    waypoint: { namespace: 'shop', name: 'waypoint' },
    services: [],
    routes: tables,
    policies: [],
    rateLimits: [],
  };
}

/** A request; `url` may carry a query (`/a?x=1`). */
export function req(
  url: string,
  o: { method?: string; authority?: string; headers?: Record<string, string> } = {},
): RouteRequest {
  const q = url.indexOf('?');
  const headers = o.headers ?? {};
  return {
    method: o.method ?? 'GET',
    path: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? '' : url.slice(q + 1),
    authority: o.authority ?? 'reviews.shop:8080',
    header: (name) => headers[name],
  };
}

/** The target SVC:PORT from a client in `sourceNamespace`. */
export function target(sourceNamespace: string | undefined = 'shop'): RouteTarget {
  return { service: SVC, port: PORT, sourceNamespace };
}

/** A random source that replays `values` and fails the test when it runs out. */
export function sequence(...values: number[]): Random & { readonly used: () => number } {
  let i = 0;
  const next = (): number => {
    const v = values[i++];
    if (v === undefined) throw new Error(`random() called more than ${values.length} times`);
    return v;
  };
  return Object.assign(next, { used: () => i });
}

/** A random source the test expects never to be called. */
export const noRandom: Random = () => {
  throw new Error('random() must not be called here');
};
