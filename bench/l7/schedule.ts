/**
 * The open-loop load schedule (pure): request `i` is due at `i / rate` seconds after the start,
 * whatever happened to earlier requests. A request a stalled proxy held back counts from that
 * intended send time, so the stall shows up as queueing delay instead of a slower send rate (no
 * coordinated omission); see `latencyStartMs` in `../l4/stats.ts`.
 */

/** Milliseconds after the start at which request `index` should be sent. */
export function intendedMs(index: number, ratePerSecond: number): number {
  return (index * 1000) / ratePerSecond;
}

/** How many requests are due (sent or to send) `elapsedMs` after the start, capped at `total`. */
export function dueCount(elapsedMs: number, ratePerSecond: number, total: number): number {
  if (elapsedMs < 0) return 0;
  return Math.min(total, Math.floor((elapsedMs * ratePerSecond) / 1000) + 1);
}

/** A latency summary of one measured window. */
export interface LatencySummary {
  readonly count: number;
  readonly errors: number;
  readonly rps: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly max_ms: number;
}

/** Nearest-rank percentile of ascending `sorted` (0 for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

/** Summarises latencies (any order; sorted in place) completed over `windowMs`. */
export function summarize(latencies: number[], errors: number, windowMs: number): LatencySummary {
  latencies.sort((a, b) => a - b);
  const round = (n: number): number => Number(n.toFixed(3));
  return {
    count: latencies.length,
    errors,
    rps: Number(((latencies.length * 1000) / windowMs).toFixed(1)),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    max_ms: round(latencies[latencies.length - 1] ?? 0),
  };
}
