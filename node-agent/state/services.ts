/**
 * Service indexes of the node state: VIP lookup, endpoints per service port with target ports
 * resolved, waypoint bindings, and which Services each workload backs (for service-scoped
 * policies). Pure, built once per snapshot.
 */
import { isIP } from 'node:net';
import { HBONE_PORT } from '../../common/hbone/constants.ts';
import { formatAuthority } from '../../common/hbone/authority.ts';
import type {
  Endpoint,
  MeshService,
  ServiceKey,
  ServicePort,
  WaypointBinding,
  Workload,
} from '../../common/ir/index.ts';
import { FrozenMap, FrozenSet, pushTo } from './frozen.ts';
import type { Address, ResolvedEndpoint, VipEntry, VipTarget } from './types.ts';

/** The service indexes of one snapshot. */
export interface ServiceIndexes {
  readonly servicesByKey: FrozenMap<ServiceKey, MeshService>;
  readonly vips: FrozenMap<string, VipEntry>;
  readonly waypoints: FrozenMap<ServiceKey, WaypointBinding>;
  readonly waypointAddresses: FrozenSet<string>;
  readonly endpoints: FrozenMap<ServiceKey, FrozenMap<number, readonly ResolvedEndpoint[]>>;
  /** Workload uid → keys of the Services whose endpoints include it. */
  readonly backing: ReadonlyMap<string, readonly ServiceKey[]>;
}

function resolveEndpoint(ep: Endpoint, port: number, workload: Workload): ResolvedEndpoint | undefined {
  // Endpoint.ports maps service port → target port (named targetPorts already resolved per pod).
  const targetPort = ep.ports[port];
  if (targetPort === undefined) return undefined;
  return Object.freeze({
    workload,
    ip: ep.ip,
    targetPort,
    ready: ep.ready,
    authority: formatAuthority(ep.ip, targetPort),
    hbone: Object.freeze({ ip: ep.ip, port: HBONE_PORT }),
  });
}

/**
 * Endpoints of one service port. An endpoint whose workload is not in the snapshot is left out:
 * without a workload there is no identity to verify the tunnel against.
 */
function portEndpoints(
  svc: MeshService,
  port: ServicePort,
  workloadsByUid: ReadonlyMap<string, Workload>,
): ResolvedEndpoint[] {
  const out: ResolvedEndpoint[] = [];
  for (const ep of svc.endpoints) {
    const workload = workloadsByUid.get(ep.workloadUid);
    if (workload === undefined) continue;
    const resolved = resolveEndpoint(ep, port.port, workload);
    if (resolved !== undefined) out.push(resolved);
  }
  return out;
}

/** Ready endpoints of the VIP's address family, or every ready one when none is of that family. */
function readyFor(vip: string, all: readonly ResolvedEndpoint[]): readonly ResolvedEndpoint[] {
  const ready = all.filter((e) => e.ready);
  const family = isIP(vip);
  const same = ready.filter((e) => isIP(e.ip) === family);
  return Object.freeze(same.length > 0 ? same : ready);
}

function waypointVia(vip: string, binding: WaypointBinding | undefined): Address | undefined {
  if (binding === undefined) return undefined;
  const family = isIP(vip);
  const ip = binding.addresses.find((a) => isIP(a) === family) ?? binding.addresses[0];
  return ip === undefined ? undefined : Object.freeze({ ip, port: HBONE_PORT });
}

/** Builds the service indexes; `workloadsByUid` must already be built. */
export function indexServices(
  services: readonly MeshService[],
  workloadsByUid: ReadonlyMap<string, Workload>,
): ServiceIndexes {
  const byKey = new Map<ServiceKey, MeshService>();
  const vips = new Map<string, { service: MeshService; ports: Map<number, VipTarget> }>();
  const waypoints = new Map<ServiceKey, WaypointBinding>();
  const waypointAddresses = new Set<string>();
  const endpoints = new Map<ServiceKey, FrozenMap<number, readonly ResolvedEndpoint[]>>();
  const backing = new Map<string, ServiceKey[]>();

  for (const svc of services) {
    if (byKey.has(svc.key)) continue;
    byKey.set(svc.key, svc);
    if (svc.waypoint !== undefined) {
      waypoints.set(svc.key, svc.waypoint);
      for (const a of svc.waypoint.addresses) waypointAddresses.add(a);
    }
    const backers = new Set(svc.endpoints.map((e) => e.workloadUid));
    for (const uid of backers) pushTo(backing, uid, svc.key);

    for (const vip of svc.clusterIPs) {
      if (!vips.has(vip)) vips.set(vip, { service: svc, ports: new Map() });
    }
    const perPort = new Map<number, readonly ResolvedEndpoint[]>();
    for (const port of svc.ports) {
      // Only TCP is captured; a UDP/SCTP port of a VIP never reaches the agent.
      if (port.protocol !== 'TCP') continue;
      const all = Object.freeze(portEndpoints(svc, port, workloadsByUid));
      perPort.set(port.port, all);
      for (const vip of svc.clusterIPs) {
        // A VIP claimed by an earlier Service (a controller bug) keeps its first owner.
        const entry = vips.get(vip);
        if (entry === undefined || entry.service !== svc || entry.ports.has(port.port)) continue;
        entry.ports.set(
          port.port,
          Object.freeze({
            service: svc,
            port,
            vip,
            authority: formatAuthority(vip, port.port),
            ready: readyFor(vip, all),
            waypointVia: waypointVia(vip, svc.waypoint),
          }),
        );
      }
    }
    endpoints.set(svc.key, new FrozenMap(perPort));
  }

  return {
    servicesByKey: new FrozenMap(byKey),
    vips: new FrozenMap(
      [...vips].map(
        ([ip, e]) => [ip, Object.freeze({ service: e.service, ports: new FrozenMap(e.ports) })] as const,
      ),
    ),
    waypoints: new FrozenMap(waypoints),
    waypointAddresses: new FrozenSet(waypointAddresses),
    endpoints: new FrozenMap(endpoints),
    backing,
  };
}
