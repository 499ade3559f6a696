/**
 * Groups the snapshot's AuthorizationPolicies by scope, compiled once, and precomputes the list
 * the agent enforces for each local workload (issue 5 §3), so inbound authorization does one
 * map lookup.
 */
import type { AuthorizationPolicy, ServiceKey, Workload } from '../../common/ir/index.ts';
import { compileL4Policy, type CompiledL4Policy } from '../policy/compile.ts';
import { FrozenMap, freezeGroups, pushTo } from './frozen.ts';
import type { PolicyIndex } from './types.ts';

/** Compiles and groups `policies` by scope; throws `NODE_SNAPSHOT_INVALID` on a bad port. */
export function indexPolicies(policies: readonly AuthorizationPolicy[]): PolicyIndex {
  const byNamespace = new Map<string, CompiledL4Policy[]>();
  const byService = new Map<ServiceKey, CompiledL4Policy[]>();
  const byWaypoint = new Map<string, CompiledL4Policy[]>();
  for (const p of policies) {
    const compiled = compileL4Policy(p);
    switch (p.scope.kind) {
      case 'namespace':
        pushTo(byNamespace, p.scope.namespace, compiled);
        break;
      case 'service':
        pushTo(byService, p.scope.service, compiled);
        break;
      case 'waypoint':
        pushTo(byWaypoint, `${p.scope.namespace}/${p.scope.name}`, compiled);
        break;
    }
  }
  return Object.freeze({
    byNamespace: freezeGroups(byNamespace),
    byService: freezeGroups(byService),
    byWaypoint: freezeGroups(byWaypoint),
  });
}

/**
 * The policies enforced for each local workload: its namespace's, then those of every Service it
 * backs (in snapshot order, each policy once). Waypoint-scoped policies are the waypoint's job.
 */
export function policiesForLocal(
  local: ReadonlyMap<string, Workload>,
  index: PolicyIndex,
  backing: ReadonlyMap<string, readonly ServiceKey[]>,
): FrozenMap<string, readonly CompiledL4Policy[]> {
  const out: [string, readonly CompiledL4Policy[]][] = [];
  for (const [uid, w] of local) {
    const list = new Set<CompiledL4Policy>(index.byNamespace.get(w.namespace));
    for (const key of backing.get(uid) ?? []) {
      for (const p of index.byService.get(key) ?? []) list.add(p);
    }
    out.push([uid, Object.freeze([...list])]);
  }
  return new FrozenMap(out);
}
