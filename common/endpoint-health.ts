/**
 * Passive endpoint health, shared by both proxies (Envoy's outlier detection, reduced to what a
 * proxy sees when it opens a tunnel): an endpoint whose connect failed is skipped by the picker
 * for a while (2 s, doubling on each further failure up to 30 s, cleared by a success). A picker
 * that finds every candidate skipped chooses among all of them again, so an ejection never
 * turns a degraded backend into an unreachable one. Keys are the caller's: the node agent's are
 * workload uids, the waypoint's `ip:port`.
 */

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

/** Which endpoints (by key) are skipped after failed connects; see the file comment. */
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

  /** Endpoints remembered (skipped now, or recently); 0 keeps a picker on its fast path. */
  get size(): number {
    return this.#ejected.size;
  }

  /** A connect to endpoint `key` failed: skip it for the next period. */
  failed(key: string): void {
    const now = this.#now();
    this.#forgetOld(now);
    const failures = (this.#ejected.get(key)?.failures ?? 0) + 1;
    const ms = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(failures - 1, 20));
    this.#ejected.set(key, { until: now + ms, failures });
  }

  /** A connection to endpoint `key` opened: it is healthy again. */
  succeeded(key: string): void {
    if (this.#ejected.size > 0) this.#ejected.delete(key);
  }

  /** True while endpoint `key` is being skipped. */
  skipped(key: string): boolean {
    const e = this.#ejected.get(key);
    return e !== undefined && e.until > this.#now();
  }

  /** Drops endpoints whose last skip ended more than `maxMs` ago (their failure count resets). */
  #forgetOld(now: number): void {
    for (const [key, e] of this.#ejected) if (e.until + this.#maxMs < now) this.#ejected.delete(key);
  }
}
