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
 *   in old space, and the decision stays. Behind HBONE, sites that allocate per request passed
 *   that bar once requests flowed. Their objects then landed in old space, held the young objects
 *   they point to alive through every scavenge (which promoted them too) and left only when a full
 *   collection ran: at 1,000 req/s the heap grew by ~1.2 MB per scavenge, scavenges took 2–9 ms
 *   instead of ~1 and a full collection came every 2 s; at saturation one every ~270 ms. Set at
 *   run time the flag stops new decisions; it does not undo the three or four made while the
 *   modules load, which were not the ones at fault. The requests' objects then die young
 *   (docs/benchmarks.md, "Pretenuring").
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
