/**
 * The node agent's state: `buildNodeState` turns a NodeSnapshot into frozen O(1) indexes, which
 * the pure planners `planOutbound` and `planInbound` read. A new snapshot builds a new state; the
 * agent swaps it whole.
 */
import { MeshError } from '../../common/errors.ts';
import type { NodeSnapshot, Workload } from '../../common/ir/index.ts';
import { FrozenMap } from './frozen.ts';
import { indexPolicies, policiesForLocal } from './policies.ts';
import { indexServices } from './services.ts';
import type { NodeState } from './types.ts';

export type { Address, NodeState, PolicyIndex, ResolvedEndpoint, VipEntry, VipTarget } from './types.ts';
export type { EndpointPicker } from './picker.ts';
export { p2cPicker } from './picker.ts';
export type { OutboundPlan, PassthroughPlan, RefusePlan, WaypointPlan, WorkloadPlan } from './outbound.ts';
export { planOutbound } from './outbound.ts';
export type { DeliverPlan, InboundPeer, InboundPlan, InboundRefusal } from './inbound.ts';
export { planInbound } from './inbound.ts';

/**
 * Indexes workloads by uid and IP. A uid seen twice is a broken snapshot; an IP claimed by two
 * workloads (a reused pod IP) keeps its first owner, and a tunnel to the wrong one then fails
 * its identity check instead of reaching the wrong pod.
 */
function indexWorkloads(workloads: readonly Workload[]): {
  byUid: Map<string, Workload>;
  byIp: Map<string, Workload>;
} {
  const byUid = new Map<string, Workload>();
  const byIp = new Map<string, Workload>();
  for (const w of workloads) {
    if (byUid.has(w.uid)) {
      throw new MeshError('NODE_SNAPSHOT_INVALID', `workload uid ${w.uid} appears twice in the snapshot`, {
        hint: 'the controller deduplicates workloads; check that controller and node agent versions match',
      });
    }
    byUid.set(w.uid, w);
    for (const ip of w.ips) if (!byIp.has(ip)) byIp.set(ip, w);
  }
  return { byUid, byIp };
}

/**
 * Builds the frozen state of `snapshot`. Called once per accepted snapshot; throws
 * `NODE_SNAPSHOT_INVALID` (the agent then NACKs and keeps its last good state) when the snapshot
 * cannot be indexed.
 */
export function buildNodeState(snapshot: NodeSnapshot): NodeState {
  const { byUid, byIp } = indexWorkloads(snapshot.workloads);
  const workloadsByUid = new FrozenMap(byUid);
  const local = new FrozenMap([...byUid].filter(([, w]) => w.node === snapshot.node));
  const services = indexServices(snapshot.services, workloadsByUid);
  const policies = indexPolicies(snapshot.policies);
  return Object.freeze({
    version: snapshot.version,
    node: snapshot.node,
    trustDomain: snapshot.trustDomain,
    workloadsByIp: new FrozenMap(byIp),
    workloadsByUid,
    localWorkloads: local,
    servicesByKey: services.servicesByKey,
    vips: services.vips,
    waypoints: services.waypoints,
    waypointAddresses: services.waypointAddresses,
    endpoints: services.endpoints,
    policies,
    policiesByWorkload: policiesForLocal(local, policies, services.backing),
  });
}
