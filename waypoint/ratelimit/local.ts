/**
 * The per-replica safety net used while Redis is unreachable: the same GCRA buckets as the Lua
 * script (same keys, same limits, same all-or-nothing counting), kept in memory with an injected
 * clock. It bounds what one replica lets through during an outage; the budget is per replica, so
 * N replicas may together allow up to N times the limit until Redis is back.
 *
 * Memory is bounded: at most `maxKeys` buckets, least recently used evicted first (an evicted
 * bucket simply starts full again, which only errs on the side of allowing).
 */
import { GCRA_SLACK, type BucketPlan, type BucketReply } from './plan.ts';

/** Options for {@link LocalLimiter}. */
export interface LocalLimiterOptions {
  /** Monotonic milliseconds; defaults to `performance.now()`. */
  readonly now?: () => number;
  /** Bucket cap (LRU); default 10,000. */
  readonly maxKeys?: number;
}

/** Default cap on local buckets. */
export const DEFAULT_LOCAL_MAX_KEYS = 10_000;

/** In-memory GCRA buckets with an LRU cap; pure apart from the injected clock. */
export class LocalLimiter {
  private readonly now: () => number;
  private readonly maxKeys: number;
  /** Bucket key → theoretical arrival time in microseconds; Map order is recency order. */
  private readonly tats = new Map<string, number>();

  constructor(options: LocalLimiterOptions = {}) {
    this.now = options.now ?? (() => performance.now());
    this.maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_LOCAL_MAX_KEYS);
  }

  /** Number of buckets held (for tests and the admin dump). */
  get size(): number {
    return this.tats.size;
  }

  /** Checks and, when every bucket allows, counts one request; the reply has the Lua script's shape. */
  check(plan: BucketPlan): BucketReply {
    const n = plan.limits.length;
    const now = this.now() * 1000;
    const reply = new Array<number>(1 + n * 4);
    const next = new Array<number>(n);
    const prev = new Array<number | undefined>(n);
    reply[0] = 1;
    for (let i = 0; i < n; i++) {
      const limit = plan.limits[i];
      const key = plan.keys[i];
      if (limit === undefined || key === undefined) continue;
      let stored = this.tats.get(key);
      // Capped at the period and relative to now, exactly as the script computes (see there).
      if (stored !== undefined && stored - now > limit.toleranceUs) stored = now + limit.toleranceUs;
      prev[i] = stored;
      const wait = stored !== undefined && stored > now ? stored - now : 0;
      const newWait = wait + limit.emissionUs;
      const over = newWait - limit.toleranceUs;
      const base = 1 + i * 4;
      next[i] = now + newWait;
      if (over > limit.emissionUs * GCRA_SLACK) {
        reply[0] = 0;
        reply[base] = 0;
        reply[base + 1] = 0;
        reply[base + 2] = Math.ceil(wait / 1000);
        reply[base + 3] = Math.ceil(over / 1000);
      } else {
        reply[base] = 1;
        reply[base + 1] = Math.floor(-over / limit.emissionUs + GCRA_SLACK);
        reply[base + 2] = Math.ceil(newWait / 1000);
        reply[base + 3] = 0;
      }
    }
    // Counted: store the new TATs. Denied: refresh recency only, so a hot denied key is not the
    // one evicted (eviction would hand it a full budget).
    const counted = reply[0] === 1;
    for (let i = 0; i < n; i++) {
      const key = plan.keys[i];
      const tat = counted ? next[i] : prev[i];
      if (key !== undefined && tat !== undefined) this.store(key, tat);
    }
    return reply;
  }

  /** Forgets every bucket (after an outage the shared budget is authoritative again). */
  clear(): void {
    this.tats.clear();
  }

  private store(key: string, tat: number): void {
    // Delete first so the key moves to the end of the Map's insertion order (most recent).
    this.tats.delete(key);
    this.tats.set(key, tat);
    if (this.tats.size > this.maxKeys) {
      const oldest = this.tats.keys().next();
      if (oldest.done !== true) this.tats.delete(oldest.value);
    }
  }
}
