/**
 * A node agent's slice of the mesh (issue 4 §2): its local workloads in full, every Service
 * (any pod may dial any ClusterIP, and the agent must know which VIPs are in the mesh and where
 * their endpoints are), the remote workloads backing those Services, and the L4 policies that
 * protect its local workloads.
 */
import type { AuthorizationPolicy, MeshService, Workload } from '../../common/ir/index.ts';
import type { CanonicalMemo } from './canonical.ts';
import { contentVersion } from './canonical.ts';
import type { NodeSnapshot } from '../../common/ir/index.ts';

/** Inputs shared by every node snapshot of one build, already sorted and deduplicated. */
export interface NodeContext {
  readonly trustDomain: string;
  readonly workloads: readonly Workload[];
  /** Every Service, sorted by key (shared by all node snapshots, so serialised once). */
  readonly services: readonly MeshService[];
  /** L4 policies, sorted by id. */
  readonly policies: readonly AuthorizationPolicy[];
  /** Remote views of workloads by uid (see {@link remoteView}). */
  readonly remote: ReadonlyMap<string, Workload>;
  /** Service keys by the uid of a workload backing them (uids backing nothing are absent). */
  readonly backing: ReadonlyMap<string, readonly string[]>;
  readonly memo: CanonicalMemo;
}

/**
 * What a node needs about a workload on another node: addresses, node and identity. Labels and
 * named ports are dropped (endpoints carry resolved target ports), so relabelling a pod does not
 * push a new snapshot to every node of the cluster.
 */
export function remoteView(w: Workload): Workload {
  return Object.freeze({ ...w, labels: Object.freeze({}), namedPorts: Object.freeze({}) });
}

/** True when an L4 policy applies to one of the node's local workloads. */
function appliesLocally(
  p: AuthorizationPolicy,
  namespaces: ReadonlySet<string>,
  backedServices: ReadonlySet<string>,
): boolean {
  switch (p.scope.kind) {
    case 'namespace':
      return namespaces.has(p.scope.namespace);
    case 'service':
      return backedServices.has(p.scope.service);
    case 'waypoint':
      // A policy aimed at a waypoint is enforced by that waypoint, not by node agents.
      return false;
  }
}

/** Builds the snapshot of node `node`. */
export function buildNodeSnapshot(node: string, ctx: NodeContext): NodeSnapshot {
  const local = ctx.workloads.filter((w) => w.node === node);
  const localUids = new Set(local.map((w) => w.uid));
  const namespaces = new Set(local.map((w) => w.namespace));
  const backedServices = new Set(local.flatMap((w) => ctx.backing.get(w.uid) ?? []));
  // Local workloads keep every field; the others appear only when they back a Service.
  const workloads = ctx.workloads.flatMap((w): Workload[] => {
    if (localUids.has(w.uid)) return [w];
    if (!ctx.backing.has(w.uid)) return [];
    const view = ctx.remote.get(w.uid);
    return view === undefined ? [] : [view];
  });
  const body = {
    kind: 'node' as const,
    trustDomain: ctx.trustDomain,
    node,
    workloads: Object.freeze(workloads),
    services: ctx.services,
    policies: Object.freeze(ctx.policies.filter((p) => appliesLocally(p, namespaces, backedServices))),
  };
  return Object.freeze({ version: contentVersion(body, ctx.memo), ...body });
}
