/**
 * The pure `snapshots/` stage (DESIGN.md §5): IR → one snapshot per node agent and per waypoint,
 * each versioned by the sha256 of its canonical JSON. Called after every translate(); the config
 * server pushes only the snapshots whose version changed. No I/O, clock or randomness; the
 * output does not depend on the order of the input lists.
 */
import type { NodeSnapshot, WaypointSnapshot } from '../../common/ir/index.ts';
import type { CanonicalMemo } from './canonical.ts';
import { buildNodeSnapshot, remoteView } from './node.ts';
import {
  byPolicy,
  byRateLimit,
  byService,
  byTable,
  byWorkload,
  compareStrings,
  sortedUnique,
} from './order.ts';
import { buildWaypointSnapshot } from './waypoint.ts';
import type { MeshIR } from '../translate/index.ts';

/** Everything buildSnapshots() reads: the IR of one translate() and the nodes to serve. */
export interface SnapshotInput extends MeshIR {
  /** Node names that run (or may run) a node agent. */
  readonly nodes: readonly string[];
}

/** The snapshots of one build: nodes by name, waypoints by `namespace/name`. */
export interface SnapshotSet {
  readonly nodes: ReadonlyMap<string, NodeSnapshot>;
  readonly waypoints: ReadonlyMap<string, WaypointSnapshot>;
}

/** Key of a waypoint in {@link SnapshotSet.waypoints}. */
export function waypointKey(w: { readonly namespace: string; readonly name: string }): string {
  return `${w.namespace}/${w.name}`;
}

/** Builds every node and waypoint snapshot. */
export function buildSnapshots(input: SnapshotInput): SnapshotSet {
  const memo: CanonicalMemo = new WeakMap();
  const workloads = Object.freeze(sortedUnique(input.workloads, byWorkload, (w) => w.uid));
  const services = Object.freeze(sortedUnique(input.services, byService, (s) => s.key));
  const tables = Object.freeze(sortedUnique(input.tables, byTable, (t) => `${t.service}:${t.port}`));
  const policies = sortedUnique(input.authorization, byPolicy, (p) => `${p.id}#${p.layer}`);
  const rateLimits = Object.freeze(sortedUnique(input.rateLimits, byRateLimit, (r) => r.id));

  const backing = new Map<string, string[]>();
  for (const s of services) {
    for (const e of s.endpoints) {
      const keys = backing.get(e.workloadUid) ?? [];
      if (keys.at(-1) !== s.key) keys.push(s.key);
      backing.set(e.workloadUid, keys);
    }
  }
  const remote = new Map(workloads.filter((w) => backing.has(w.uid)).map((w) => [w.uid, remoteView(w)]));
  const nodeCtx = {
    trustDomain: input.trustDomain,
    workloads,
    services,
    policies: Object.freeze(policies.filter((p) => p.layer === 'L4')),
    remote,
    backing,
    memo,
  };
  const nodes = new Map<string, NodeSnapshot>();
  for (const node of [...new Set(input.nodes)].sort(compareStrings)) {
    nodes.set(node, buildNodeSnapshot(node, nodeCtx));
  }

  const waypointCtx = {
    trustDomain: input.trustDomain,
    services,
    tables,
    policies: Object.freeze(policies),
    rateLimits,
    memo,
  };
  const waypoints = new Map<string, WaypointSnapshot>();
  for (const w of sortedUnique(
    input.waypoints,
    (a, b) => compareStrings(waypointKey(a), waypointKey(b)),
    waypointKey,
  )) {
    waypoints.set(waypointKey(w), buildWaypointSnapshot(w, waypointCtx));
  }
  return { nodes, waypoints };
}

export { canonicalJson, contentVersion } from './canonical.ts';
export type { CanonicalMemo } from './canonical.ts';
