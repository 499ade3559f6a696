/**
 * V8 heap settings of the node agent, set at start by `main.ts` (and by the l4 bench's agent
 * processes, which run the agent as the image does). Runtime flags: `--max-semi-space-size` and
 * `--initial-old-space-size` are only read from the command line, which the image's single
 * entry point does not vary per component, and Node refuses them in NODE_OPTIONS.
 *
 * - `--semi-space-growth-factor=1` keeps the young generation at its initial size (1 MiB
 *   semi-spaces). Left to grow, the burst of certificate work when many pods are captured at
 *   once doubles it up to 16 MiB semi-spaces (32 MiB of RSS) that V8 then keeps while the agent
 *   idles (issue 5 §6: RSS ≤ 80 MB with 100 pods). The data path allocates little per chunk, so
 *   the extra scavenges did not lower the l4 bench's saturation.
 * - `--heap-growing-percent=400` lets the old generation grow to 5× its live size before the next
 *   full GC (V8 otherwise picks at most 4×, and less for a small heap). The buffers of a bulk
 *   transfer (64 KiB reads, decrypted 16 KiB records) waiting in a queue count towards that limit;
 *   with the agent's ~10 MB of live heap, a tunnel carrying 1 GB caused ~35 full mark-compacts in
 *   each end (HBONE helpers on loopback; ~15 % of the sending end's CPU, much of it on V8's
 *   concurrent marking threads, which compete with the data path for the node's cores), and none
 *   at 5×. The l4 bench's agents went from 10–14 full GCs per run to 2–4. The idle heap is
 *   unchanged (the 100-pod RSS stays at ~69 MB): V8's memory reducer shrinks it once idle.
 */
import { setFlagsFromString } from 'node:v8';

/** The flags, in the order they are set. */
export const AGENT_V8_FLAGS: readonly string[] = [
  '--semi-space-growth-factor=1',
  '--heap-growing-percent=400',
];

/** Sets {@link AGENT_V8_FLAGS}; call once, first thing in the process. */
export function applyAgentV8Flags(): void {
  for (const flag of AGENT_V8_FLAGS) setFlagsFromString(flag);
}
