/**
 * The simulation's view of the mesh: the controller's pure pipeline run once over the World
 * (translate → buildSnapshots), the node agents' states built from their snapshots on demand,
 * and the endpoint views shared by the node-agent and waypoint steps.
 */
import type { MeshService, ObjectStatus, Workload } from '../common/ir/index.ts';
import { buildSnapshots, type SnapshotSet } from '../controller/snapshots/index.ts';
import { translate, type MeshIR } from '../controller/translate/index.ts';
import type { World } from '../controller/translate/world.ts';
import { buildNodeState, planInbound, type NodeState } from '../node-agent/state/index.ts';
import { policyRef, type EndpointView } from './explain-model.ts';

/** Everything the simulation reads, computed once per explanation. */
export interface SimContext {
  readonly world: World;
  readonly ir: MeshIR;
  readonly statuses: readonly ObjectStatus[];
  readonly snapshots: SnapshotSet;
  readonly workloadsByUid: ReadonlyMap<string, Workload>;
  /** The node agent state of `node`; undefined for a node that runs no pod. */
  stateOf(node: string): NodeState | undefined;
}

/** Runs translate() and buildSnapshots() over `world` for every node that runs a pod. */
export function buildContext(world: World): SimContext {
  const { ir, statuses } = translate(world);
  const nodes = [
    ...new Set([
      ...ir.workloads.map((w) => w.node),
      ...world.pods.map((p) => p.spec?.nodeName ?? '').filter((n) => n !== ''),
    ]),
  ];
  const snapshots = buildSnapshots({ ...ir, nodes });
  const states = new Map<string, NodeState>();
  return {
    world,
    ir,
    statuses,
    snapshots,
    workloadsByUid: new Map(ir.workloads.map((w) => [w.uid, w])),
    stateOf(node: string): NodeState | undefined {
      const cached = states.get(node);
      if (cached !== undefined) return cached;
      const snap = snapshots.nodes.get(node);
      if (snap === undefined) return undefined;
      const state = buildNodeState(snap);
      states.set(node, state);
      return state;
    },
  };
}

/**
 * The destination node agent's view of a connection from `peerIdentity` (undefined: plaintext)
 * to `workload` at `ip:port`: delivered or refused by its mTLS mode and L4 policies.
 */
export function inboundView(
  ctx: SimContext,
  workload: Workload,
  ip: string,
  port: number,
  ready: boolean,
  peerIdentity: string | undefined,
): EndpointView {
  const base = {
    pod: `${workload.namespace}/${workload.name}`,
    ip,
    port,
    node: workload.node,
    ready,
    captured: workload.captured,
  };
  if (!workload.captured)
    return { ...base, l4: 'none', reason: 'not captured: plain TCP, no L4 policy applies' };
  const state = ctx.stateOf(workload.node);
  if (state === undefined)
    return { ...base, l4: 'none', reason: `node ${workload.node} has no node-agent snapshot` };
  const plan = planInbound(
    state,
    workload,
    { ip, port },
    peerIdentity === undefined ? {} : { identity: peerIdentity },
  );
  if (plan.kind === 'deliver') {
    const d = plan.decision;
    return {
      ...base,
      l4: 'allowed',
      ...(d.policy === undefined ? {} : { policy: policyRef(d.policy) }),
      reason: d.reason,
    };
  }
  return {
    ...base,
    l4: 'denied',
    ...(plan.policy === undefined ? {} : { policy: policyRef(plan.policy) }),
    reason: `tunnel refused ${plan.status}: ${plan.reason}`,
  };
}

/** Every endpoint of `service` serving `port` (ready first), as seen by a peer `peerIdentity`. */
export function endpointViews(
  ctx: SimContext,
  service: MeshService,
  port: number,
  peerIdentity: string | undefined,
): EndpointView[] {
  const out: EndpointView[] = [];
  for (const ep of service.endpoints) {
    const target = ep.ports[port];
    if (target === undefined) continue;
    const w = ctx.workloadsByUid.get(ep.workloadUid);
    if (w === undefined) {
      out.push({
        pod: '-',
        ip: ep.ip,
        port: target,
        node: ep.node,
        ready: ep.ready,
        captured: false,
        l4: 'none',
        reason: 'not a pod of the mesh: plain TCP',
      });
      continue;
    }
    out.push(inboundView(ctx, w, ep.ip, target, ep.ready, peerIdentity));
  }
  return out.sort((a, b) => Number(b.ready) - Number(a.ready));
}

/** Route status lines (`waymesh.io/Enforced`) of the routes attached to `service`. */
export function routeEnforcement(
  ctx: SimContext,
  service: MeshService,
): { object: string; enforced: boolean; message: string }[] {
  const out: { object: string; enforced: boolean; message: string }[] = [];
  for (const s of ctx.statuses) {
    if (s.kind !== 'route') continue;
    for (const p of s.parents) {
      const ref = p.parentRef;
      const ns = typeof ref['namespace'] === 'string' ? ref['namespace'] : s.source.namespace;
      if (ref['kind'] !== 'Service' || ref['name'] !== service.name || ns !== service.namespace) continue;
      const c = p.conditions.find((x) => x.type === 'waymesh.io/Enforced');
      const accepted = p.conditions.find((x) => x.type === 'Accepted');
      const message = c?.message ?? accepted?.message ?? 'no status';
      out.push({
        object: `${s.source.kind}/${s.source.namespace}/${s.source.name}`,
        enforced: c?.status === 'True',
        message,
      });
    }
  }
  return out;
}
