/**
 * V8 heap settings of the waypoint process (issue 6 §6: RSS ≤ 120 MB under load; p99 and CPU per
 * request). Set at run time because Node refuses V8 flags in NODE_OPTIONS that are not on its
 * allow-list; V8 reads both at every collection. The semi-space size (8 MiB) is set through
 * NODE_OPTIONS by the provisioner: V8 reads it only at start.
 *
 * - `--heap-growing-percent=50`: under saturation V8 let old space grow to about four times what
 *   survives a full collection before collecting it again: RSS peaked at ~150 MB while the live
 *   heap was ~25 MB. At 50 % old space grows to 1.5 times the live heap; in the l7 engine
 *   measurement RSS settled at ~110 MB at the same requests/s.
 * - `--no-allocation-site-pretenuring`: V8 watches how many objects of each allocation site
 *   survive a young-generation collection and, above 85 %, allocates that site's objects directly
 *   in old space. In the waypoint some sites pass that bar while it starts (its first requests are
 *   slow and everything survives) and keep the decision. Their per-request objects then land in
 *   old space, hold the young objects they point to alive through every scavenge (which promotes
 *   them too) and leave only when a full collection runs. Behind HBONE, at 1,000 req/s the heap grew
 *   by ~1.2 MB per scavenge, scavenges took 2–9 ms instead of ~1 and a full collection came every
 *   2 s; at saturation one every ~270 ms. Without pretenuring no site is moved and the requests'
 *   objects die young (docs/benchmarks.md, "Pretenuring").
 */
import { setFlagsFromString } from 'node:v8';

/** The flags applied by {@link tuneHeap}, in order. */
export const WAYPOINT_V8_FLAGS: readonly string[] = [
  '--heap-growing-percent=50',
  '--no-allocation-site-pretenuring',
];

/** Applies the waypoint's heap settings to this process; call once, first thing at start-up. */
export function tuneHeap(): void {
  for (const flag of WAYPOINT_V8_FLAGS) setFlagsFromString(flag);
}
