/**
 * Deterministic ordering of the top-level lists of a snapshot. Nested lists keep the IR's order
 * (route entries are already in precedence order; endpoints and ports as the directory built them).
 */
import type {
  AuthorizationPolicy,
  MeshService,
  RateLimit,
  RouteTable,
  Workload,
} from '../../common/ir/index.ts';

/** Plain code-unit comparison (locale-independent, so every controller replica agrees). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Workloads by namespace, name, then uid. */
export function byWorkload(a: Workload, b: Workload): number {
  return (
    compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name) || compareStrings(a.uid, b.uid)
  );
}

/** Services by key. */
export function byService(a: MeshService, b: MeshService): number {
  return compareStrings(a.key, b.key);
}

/** Route tables by service key, then port. */
export function byTable(a: RouteTable, b: RouteTable): number {
  return compareStrings(a.service, b.service) || a.port - b.port;
}

/** Authorization policies by id, then layer (one policy may be split into an L4 and an L7 part). */
export function byPolicy(a: AuthorizationPolicy, b: AuthorizationPolicy): number {
  return compareStrings(a.id, b.id) || compareStrings(a.layer, b.layer);
}

/** Rate limits by id. */
export function byRateLimit(a: RateLimit, b: RateLimit): number {
  return compareStrings(a.id, b.id);
}

/** A sorted copy of `items` without repeats of the same key (the first one in sorted order wins). */
export function sortedUnique<T>(
  items: Iterable<T>,
  compare: (a: T, b: T) => number,
  key: (item: T) => string,
): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const item of [...items].sort(compare)) {
    const k = key(item);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(item);
  }
  return out;
}
