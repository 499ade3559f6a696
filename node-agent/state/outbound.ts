/**
 * Outbound decision (issue 5 §2, DESIGN.md §4): from a captured pod's original destination, a
 * plain description of the next hop, which the outbound proxy then acts on (ztunnel style). Pure:
 * the only choice, the endpoint, is delegated to an injected {@link EndpointPicker}.
 */
import { HBONE_PORT } from '../../common/hbone/constants.ts';
import { formatAuthority } from '../../common/hbone/authority.ts';
import type { MeshService, WaypointBinding, Workload } from '../../common/ir/index.ts';
import type { EndpointPicker } from './picker.ts';
import type { Address, NodeState, VipTarget } from './types.ts';

/** Tunnel to the Service's waypoint, which routes by `authority` (the VIP and port). */
export interface WaypointPlan {
  readonly kind: 'waypoint';
  readonly service: MeshService;
  readonly waypoint: WaypointBinding;
  /**
   * The chosen replica: a ready endpoint of the waypoint's own Service. Undefined when the
   * snapshot lists none, and the tunnel then goes to the waypoint's Service address.
   */
  readonly replica: Workload | undefined;
  /** The replica's address on 15008, else the waypoint Service address on 15008. */
  readonly via: Address;
  /** `<service VIP>:<port>`. */
  readonly authority: string;
  /** The waypoint's SPIFFE id, checked against the server certificate. */
  readonly expectedIdentity: string;
}

/** Tunnel straight to a workload's agent (a Service endpoint, or a pod IP in the mesh). */
export interface WorkloadPlan {
  readonly kind: 'workload';
  /** The Service when the destination was its VIP. */
  readonly service?: MeshService;
  readonly workload: Workload;
  /** `<workload ip>:15008`. */
  readonly via: Address;
  /** `<workload ip>:<target port>`. */
  readonly authority: string;
  readonly expectedIdentity: string;
}

/** Plain TCP to `target`, untouched by the mesh. */
export interface PassthroughPlan {
  readonly kind: 'passthrough';
  /** The original destination, or the chosen endpoint when a Service endpoint is not in the mesh. */
  readonly target: Address;
  readonly reason: string;
}

/** The connection must be reset: the destination is in the mesh but cannot be served. */
export interface RefusePlan {
  readonly kind: 'refuse';
  readonly reason: string;
}

/** The next hop of an outbound connection. */
export type OutboundPlan = WaypointPlan | WorkloadPlan | PassthroughPlan | RefusePlan;

const REASON = {
  sourceNotCaptured: 'source workload is not captured',
  toWaypoint: 'destination is a waypoint, whose clients speak HBONE to it directly',
  outsideMesh: 'destination is outside the mesh',
  podNotCaptured: 'destination pod is not captured',
  endpointNotCaptured: 'chosen endpoint is not captured',
} as const;

function passthrough(target: Address, reason: string): PassthroughPlan {
  return { kind: 'passthrough', target, reason };
}

function describe(t: VipTarget): string {
  return `service ${t.service.key} (${t.authority})`;
}

/**
 * The waypoint of `t`: one of its ready replicas (the endpoints of the waypoint's Service on
 * 15008), chosen by `pick` like any endpoint, so the agent balances them and can try another
 * when one fails (ztunnel does the same). Only when the snapshot lists no replica does the
 * tunnel go to the waypoint's Service address and leave the choice to the cluster's proxy.
 */
function planWaypoint(
  state: NodeState,
  t: VipTarget,
  waypoint: WaypointBinding,
  pick: EndpointPicker,
): OutboundPlan {
  const name = `${waypoint.gateway.namespace}/${waypoint.gateway.name}`;
  const address = t.waypointVia;
  if (address === undefined) {
    return { kind: 'refuse', reason: `${describe(t)} uses waypoint ${name}, which has no address yet` };
  }
  const replicas = state.vips.get(address.ip)?.ports.get(HBONE_PORT)?.ready ?? [];
  const replica = replicas.length === 0 ? undefined : pick.pick(replicas);
  if (replicas.length > 0 && replica === undefined) {
    return { kind: 'refuse', reason: `${describe(t)}: no replica of waypoint ${name} is left to try` };
  }
  return {
    kind: 'waypoint',
    service: t.service,
    waypoint,
    replica: replica?.workload,
    via: replica?.hbone ?? address,
    authority: t.authority,
    expectedIdentity: waypoint.identity,
  };
}

function planVip(state: NodeState, t: VipTarget, pick: EndpointPicker): OutboundPlan {
  const waypoint = t.service.waypoint;
  if (waypoint !== undefined) return planWaypoint(state, t, waypoint, pick);
  const ep = t.ready.length === 0 ? undefined : pick.pick(t.ready);
  if (ep === undefined) return { kind: 'refuse', reason: `${describe(t)} has no ready endpoint` };
  if (!ep.workload.captured) {
    return passthrough({ ip: ep.ip, port: ep.targetPort }, REASON.endpointNotCaptured);
  }
  return {
    kind: 'workload',
    service: t.service,
    workload: ep.workload,
    via: ep.hbone,
    authority: ep.authority,
    expectedIdentity: ep.workload.identity,
  };
}

/**
 * Plans the next hop for `source` dialing `dst` (its `SO_ORIGINAL_DST`):
 * - a waypoint address → passthrough (waypoints are not captured and are reached by HBONE);
 * - a Service VIP → a replica of its waypoint, else a ready endpoint, chosen by `pick`; refuse
 *   when the port is not a TCP port of the Service, no endpoint is ready, or `pick` declines
 *   every candidate (it may skip those a connection already tried);
 * - a captured pod IP → that pod; an uncaptured one or any other address → passthrough.
 */
export function planOutbound(
  state: NodeState,
  source: Workload,
  dst: Address,
  pick: EndpointPicker,
): OutboundPlan {
  if (!source.captured) return passthrough(dst, REASON.sourceNotCaptured);
  if (state.waypointAddresses.has(dst.ip)) return passthrough(dst, REASON.toWaypoint);
  const vip = state.vips.get(dst.ip);
  if (vip !== undefined) {
    const target = vip.ports.get(dst.port);
    if (target !== undefined) return planVip(state, target, pick);
    return { kind: 'refuse', reason: `service ${vip.service.key} has no TCP port ${dst.port} on ${dst.ip}` };
  }
  const workload = state.workloadsByIp.get(dst.ip);
  if (workload === undefined) return passthrough(dst, REASON.outsideMesh);
  if (!workload.captured) return passthrough(dst, REASON.podNotCaptured);
  return {
    kind: 'workload',
    workload,
    via: { ip: dst.ip, port: HBONE_PORT },
    authority: formatAuthority(dst.ip, dst.port),
    expectedIdentity: workload.identity,
  };
}
