/**
 * One waypoint snapshot compiled into the immutable configuration every request reads: the
 * router, the authorizer, the rate limits by service, and the indexes the tunnel server and the
 * upstream connector use (CONNECT target → Service port, endpoint IP → workload identity).
 *
 * Acceptance rule: a snapshot is rejected (NACKed, the previous one stays) only when it is
 * unusable as a whole — addressed to another waypoint or from another trust domain. Route entries
 * or policy rules that do not compile are dropped (policy rules fail safe, see `compileRule`),
 * logged and listed in `dropped`, and the rest of the snapshot is applied and ACKed.
 */
import { MeshError } from '../../common/errors.ts';
import type { MeshService, ServicePort } from '../../common/ir/mesh.ts';
import type { RateLimit } from '../../common/ir/policy.ts';
import type { WaypointSnapshot } from '../../common/ir/snapshots.ts';
import { sourceId, type ServiceKey } from '../../common/ir/source.ts';
import { formatAuthority } from '../../common/hbone/index.ts';
import type { EngineConfig } from '../http/index.ts';
import { compileAuthz, type Authorizer } from '../policy/authz.ts';
import { compileRouter } from '../routing/index.ts';

/** The Gateway this waypoint is (`namespace/name`). */
export interface GatewayRef {
  readonly namespace: string;
  readonly name: string;
}

/** What a CONNECT target (`ClusterIP:port`) resolves to. */
export interface TargetEntry {
  readonly service: MeshService;
  readonly port: ServicePort;
  /** True when the Service's traffic is bound to this waypoint. */
  readonly bound: boolean;
}

/** Rate limits of one Service: those targeting it, and those targeting routes attached to it. */
export interface ServiceLimits {
  readonly service: readonly RateLimit[];
  /** By route id (`httproute/<ns>/<name>`). */
  readonly routes: ReadonlyMap<string, readonly RateLimit[]>;
}

/** A compiled snapshot, swapped whole. */
export interface WaypointConfig {
  readonly version: string;
  readonly snapshot: WaypointSnapshot;
  readonly engine: EngineConfig;
  readonly authz: Authorizer;
  /** By `formatAuthority(ClusterIP, port)`. */
  readonly targets: ReadonlyMap<string, TargetEntry>;
  /** Endpoint IP → the SPIFFE id its HBONE server presents. */
  readonly endpointIdentities: ReadonlyMap<string, string>;
  readonly limits: ReadonlyMap<ServiceKey, ServiceLimits>;
  /** Entries and rules dropped while compiling, as operator-readable lines. */
  readonly dropped: readonly string[];
}

const NO_LIMITS: ServiceLimits = Object.freeze({ service: [], routes: new Map() });

/** The limits that may apply to requests for `service`. */
export function limitsOf(config: WaypointConfig, service: ServiceKey): ServiceLimits {
  return config.limits.get(service) ?? NO_LIMITS;
}

function indexLimits(snapshot: WaypointSnapshot): Map<ServiceKey, ServiceLimits> {
  const routeServices = new Map<string, Set<ServiceKey>>();
  for (const table of snapshot.routes) {
    const entries = [table.producer, ...Object.values(table.consumers)].flat();
    for (const e of entries) {
      const id = sourceId(e.route);
      let set = routeServices.get(id);
      if (set === undefined) routeServices.set(id, (set = new Set()));
      set.add(table.service);
    }
  }
  const out = new Map<ServiceKey, { service: RateLimit[]; routes: Map<string, RateLimit[]> }>();
  const slot = (key: ServiceKey): { service: RateLimit[]; routes: Map<string, RateLimit[]> } => {
    let s = out.get(key);
    if (s === undefined) out.set(key, (s = { service: [], routes: new Map() }));
    return s;
  };
  for (const limit of snapshot.rateLimits) {
    if (limit.target.kind === 'service') {
      slot(limit.target.service).service.push(limit);
      continue;
    }
    const routeId = sourceId(limit.target.route);
    for (const svc of routeServices.get(routeId) ?? []) {
      const routes = slot(svc).routes;
      routes.set(routeId, [...(routes.get(routeId) ?? []), limit]);
    }
  }
  return out;
}

/** Compiles `snapshot` for waypoint `gateway`; throws a MeshError when it is unusable. */
export function compileWaypointConfig(
  snapshot: WaypointSnapshot,
  gateway: GatewayRef,
  trustDomain: string,
): WaypointConfig {
  if (snapshot.waypoint.namespace !== gateway.namespace || snapshot.waypoint.name !== gateway.name) {
    throw new MeshError(
      'SNAPSHOT_WRONG_WAYPOINT',
      `snapshot ${snapshot.version} is for waypoint ${snapshot.waypoint.namespace}/${snapshot.waypoint.name}, this is ${gateway.namespace}/${gateway.name}`,
      { hint: 'check WAYMESH_GATEWAY (or --gateway) and the snapshot file' },
    );
  }
  if (snapshot.trustDomain !== trustDomain) {
    throw new MeshError(
      'SNAPSHOT_WRONG_TRUST_DOMAIN',
      `snapshot ${snapshot.version} is for trust domain ${snapshot.trustDomain}, this waypoint is in ${trustDomain}`,
      { hint: 'check WAYMESH_TRUST_DOMAIN (or --trust-domain)' },
    );
  }
  const router = compileRouter(snapshot);
  const authz = compileAuthz(snapshot.policies);
  const dropped = [
    ...router.errors.map((e) => `route entry ${e.entryId} (${e.table}): ${e.error.message}`),
    ...authz.errors.map((e) => `authorization rule: ${e.message}`),
  ];
  const services = new Map<ServiceKey, MeshService>();
  const targets = new Map<string, TargetEntry>();
  const endpointIdentities = new Map<string, string>();
  for (const service of snapshot.services) {
    services.set(service.key, service);
    const gw = service.waypoint?.gateway;
    const bound = gw !== undefined && gw.namespace === gateway.namespace && gw.name === gateway.name;
    for (const ip of service.clusterIPs) {
      for (const port of service.ports) {
        if (port.protocol === 'TCP') targets.set(formatAuthority(ip, port.port), { service, port, bound });
      }
    }
    for (const ep of service.endpoints) {
      if (ep.identity !== undefined) endpointIdentities.set(ep.ip, ep.identity);
    }
  }
  return Object.freeze({
    version: snapshot.version,
    snapshot,
    engine: Object.freeze({ router, services }),
    authz,
    targets,
    endpointIdentities,
    limits: indexLimits(snapshot),
    dropped: Object.freeze(dropped),
  });
}
