/**
 * The waypoint snapshot of the `l7` benchmark (pure): Service `bench/web` on a VIP, bound to the
 * waypoint, routed by {@link BENCH_RULES} to Services `web-primary` and `web-canary`, which share
 * one endpoint (the backend app behind its HBONE endpoint).
 */
import type { MeshService } from '../../common/ir/mesh.ts';
import type { RouteEntry, RouteFilter } from '../../common/ir/routes.ts';
import type { WaypointSnapshot } from '../../common/ir/snapshots.ts';
import type { BenchRule } from './routes.ts';
import { BENCH_TD, benchId } from './identities.ts';

/** Where things are: the VIP the waypoint serves, its own address, the backend app. */
export interface SnapshotAddresses {
  readonly vip: string;
  readonly waypointIp: string;
  readonly backendIp: string;
  readonly backendPort: number;
}

const ROUTE = { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'bench', name: 'web' };

function service(name: string, ip: string, extra: Partial<MeshService>): MeshService {
  return {
    key: `bench/${name}`,
    namespace: 'bench',
    name,
    clusterIPs: [ip],
    ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }],
    endpoints: [],
    source: { group: '', kind: 'Service', namespace: 'bench', name },
    ...extra,
  };
}

function entry(rule: BenchRule): RouteEntry {
  const filters: RouteFilter[] =
    rule.setHeader === undefined
      ? []
      : [{ type: 'RequestHeaderModifier', set: [rule.setHeader], add: [], remove: [] }];
  return {
    id: `httproute/bench/web/rule/${rule.name}/match/0`,
    route: ROUTE,
    rule: rule.name,
    match: {
      kind: 'http',
      path: { type: 'PathPrefix', value: rule.pathPrefix },
      headers: rule.header === undefined ? [] : [{ type: 'Exact', ...rule.header }],
      queryParams: [],
    },
    filters,
    backends: [{ kind: 'service', service: `bench/web-${rule.backend}`, port: 80, weight: 1, filters: [] }],
    timeouts: {},
  };
}

/** The snapshot for `rules` (already in precedence order). */
export function benchSnapshot(rules: readonly BenchRule[], at: SnapshotAddresses): WaypointSnapshot {
  const endpoint = {
    workloadUid: 'bench-web-0',
    identity: benchId('web'),
    ip: at.backendIp,
    node: 'bench',
    ready: true,
    ports: { 80: at.backendPort },
  };
  const binding = {
    gateway: { namespace: 'bench', name: 'waypoint' },
    addresses: [at.waypointIp],
    identity: benchId('waypoint'),
  };
  return {
    kind: 'waypoint',
    version: 'bench-l7',
    trustDomain: BENCH_TD,
    waypoint: { namespace: 'bench', name: 'waypoint' },
    services: [
      service('web', at.vip, { waypoint: binding }),
      service('web-primary', '10.250.200.11', { endpoints: [endpoint] }),
      service('web-canary', '10.250.200.12', { endpoints: [endpoint] }),
    ],
    routes: [{ service: 'bench/web', port: 80, protocol: 'http', producer: rules.map(entry), consumers: {} }],
    policies: [],
    rateLimits: [],
  };
}
