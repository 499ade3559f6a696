/**
 * The pure half of the agent's reconcile: from the current node state and what the agent has
 * captured, which pods to capture, which to release and which identities the node needs. The
 * agent then acts on the plan (kube reads, capture manager, identity manager).
 */
import type { Workload } from '../../common/ir/index.ts';
import type { NodeState } from '../state/index.ts';

/** What the agent holds for one captured pod: enough to tell whether it must be captured again. */
export interface CapturedRecord {
  readonly namespace: string;
  readonly name: string;
  /** {@link captureKey} of the workload when it was captured. */
  readonly key: string;
}

/** What one reconcile does. */
export interface ReconcilePlan {
  /** Local workloads to capture: new ones, and captured ones whose addresses changed (new sandbox). */
  readonly capture: readonly Workload[];
  /** Pods captured now that must be released: gone from the snapshot or no longer `captured`. */
  readonly release: readonly string[];
  /** Identities the node's captured workloads use, sorted. */
  readonly identities: readonly string[];
}

/** What decides whether a captured pod must be captured again: its addresses. */
export function captureKey(w: Workload): string {
  return [...w.ips].sort().join(',');
}

/** The local workloads the agent must capture, sorted by namespace/name. */
export function wantedWorkloads(state: NodeState): Workload[] {
  return [...state.localWorkloads.values()]
    .filter((w) => w.captured && w.node === state.node)
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

/** Plans one reconcile of `captured` (pod uid → record) against `state`. */
export function planReconcile(
  state: NodeState,
  captured: ReadonlyMap<string, CapturedRecord>,
): ReconcilePlan {
  const wanted = wantedWorkloads(state);
  const wantedUids = new Set(wanted.map((w) => w.uid));
  return Object.freeze({
    capture: Object.freeze(wanted.filter((w) => captured.get(w.uid)?.key !== captureKey(w))),
    release: Object.freeze([...captured.keys()].filter((uid) => !wantedUids.has(uid)).sort()),
    identities: Object.freeze([...new Set(wanted.map((w) => w.identity))].sort()),
  });
}

/** Identities to start fetching and to drop, going from `before` to `after`. */
export function identityChanges(
  before: ReadonlySet<string>,
  after: readonly string[],
): { readonly prefetch: readonly string[]; readonly forget: readonly string[] } {
  const next = new Set(after);
  return {
    prefetch: after.filter((id) => !before.has(id)),
    forget: [...before].filter((id) => !next.has(id)).sort(),
  };
}

/**
 * Local workloads the agent must not capture: at start, those a previous agent left captured
 * (the pod carries `waymesh.io/redirection`) are released, rules and annotation.
 */
export function unwantedLocalWorkloads(state: NodeState): Workload[] {
  return [...state.localWorkloads.values()].filter((w) => !w.captured);
}
