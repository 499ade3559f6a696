/**
 * Outbound picks that skip unhealthy endpoints (../../common/endpoint-health.ts, keyed by
 * workload uid) and, for a connection whose tunnel could not be opened, the endpoints it already
 * tried; see `outbound.ts`.
 */
import type { EndpointHealth } from '../../common/endpoint-health.ts';
import type { EndpointPicker, ResolvedEndpoint } from '../state/index.ts';

/**
 * `base`, choosing among the endpoints not in `tried` (declining when none is left) and, of
 * those, the ones `health` does not skip (all of them when it skips every one).
 */
export function healthyPicker(
  base: EndpointPicker,
  health: EndpointHealth,
  tried?: ReadonlySet<string>,
): EndpointPicker {
  return {
    pick(ready: readonly ResolvedEndpoint[]): ResolvedEndpoint | undefined {
      let list = ready;
      if (tried !== undefined && tried.size > 0) {
        list = list.filter((e) => !tried.has(e.workload.uid));
        if (list.length === 0) return undefined;
      }
      if (health.size > 0) {
        const ok = list.filter((e) => !health.skipped(e.workload.uid));
        if (ok.length > 0) list = ok;
      }
      return base.pick(list);
    },
  };
}
