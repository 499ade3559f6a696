/**
 * Endpoint choice for a Service VIP without a waypoint (issue 5 §2). The planner stays pure by
 * taking the choice as an interface; the agent supplies randomness and its live count of open
 * tunnels per workload.
 */
import type { ResolvedEndpoint } from './types.ts';

/**
 * Chooses one endpoint among the ready ones (never called with an empty list); undefined when
 * it declines them all (a connection retrying skips the endpoints it already tried).
 */
export interface EndpointPicker {
  pick(ready: readonly ResolvedEndpoint[]): ResolvedEndpoint | undefined;
}

/**
 * Power of two choices: draw two distinct endpoints at random and keep the one with fewer
 * outstanding connections (the first drawn on a tie). `random` returns a number in [0, 1), like
 * `Math.random`; `outstanding` returns the open tunnels to a workload uid.
 */
export function p2cPicker(
  random: () => number,
  outstanding: (workloadUid: string) => number,
): EndpointPicker {
  return {
    pick(ready: readonly ResolvedEndpoint[]): ResolvedEndpoint | undefined {
      const n = ready.length;
      if (n <= 1) return ready[0];
      const i = Math.min(n - 1, Math.floor(random() * n));
      let j = Math.min(n - 2, Math.floor(random() * (n - 1)));
      // Shift past i so the second draw is uniform over the other n - 1 endpoints.
      if (j >= i) j += 1;
      const a = ready[i];
      const b = ready[j];
      if (a === undefined || b === undefined) return a ?? b;
      return outstanding(b.workload.uid) < outstanding(a.workload.uid) ? b : a;
    },
  };
}
