/**
 * Passive endpoint health for outbound choices (Envoy's outlier detection, reduced to what a TCP
 * proxy can see): an endpoint whose HBONE connect failed is skipped by the picker for a while
 * (2 s, doubling on each further failure up to 30 s, cleared by a success), unless every
 * candidate is skipped, in which case the choice is made among all of them again. A connection
 * whose tunnel could not be opened is retried on an endpoint it has not tried yet; see
 * `outbound.ts`.
 */
import type { EndpointPicker, ResolvedEndpoint } from '../state/index.ts';

interface Ejection {
  until: number;
  failures: number;
}

/** Options for {@link EndpointHealth}. */
export interface EndpointHealthOptions {
  readonly baseMs?: number;
  readonly maxMs?: number;
  readonly now?: () => number;
}

/** Which workloads (by uid) are skipped after failed connects; see the file comment. */
export class EndpointHealth {
  readonly #ejected = new Map<string, Ejection>();
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #now: () => number;

  constructor(opts: EndpointHealthOptions = {}) {
    this.#baseMs = opts.baseMs ?? 2_000;
    this.#maxMs = opts.maxMs ?? 30_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Workloads remembered (skipped now, or recently); 0 keeps the picker on its fast path. */
  get size(): number {
    return this.#ejected.size;
  }

  /** A connect to workload `uid` failed: skip it for the next period. */
  failed(uid: string): void {
    const now = this.#now();
    this.#forgetOld(now);
    const failures = (this.#ejected.get(uid)?.failures ?? 0) + 1;
    const ms = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(failures - 1, 20));
    this.#ejected.set(uid, { until: now + ms, failures });
  }

  /** A tunnel to workload `uid` opened: it is healthy again. */
  succeeded(uid: string): void {
    if (this.#ejected.size > 0) this.#ejected.delete(uid);
  }

  /** True while workload `uid` is being skipped. */
  skipped(uid: string): boolean {
    const e = this.#ejected.get(uid);
    return e !== undefined && e.until > this.#now();
  }

  /** Drops workloads whose last skip ended more than `maxMs` ago (their failure count resets). */
  #forgetOld(now: number): void {
    for (const [uid, e] of this.#ejected) if (e.until + this.#maxMs < now) this.#ejected.delete(uid);
  }
}

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
