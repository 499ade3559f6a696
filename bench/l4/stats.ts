/**
 * Pure arithmetic of the `l4` benchmark: the open-loop send schedule, latency percentiles,
 * `wrk` output parsing and `/proc` parsing. No I/O, so every piece is unit-tested.
 */
import { MeshError } from '../../common/errors.ts';

/**
 * When request `index` (0-based) is meant to leave, in ms after the start, at `ratePerSec`
 * requests per second. A request the path held back is charged from this time (see
 * {@link latencyStartMs}).
 */
export function intendedSendMs(index: number, ratePerSec: number): number {
  return (index * 1000) / ratePerSec;
}

/**
 * Where a request's latency starts: its intended time if every connection was busy at some point
 * after it (the path held it back: charged, so no coordinated omission), else its actual send
 * time (the delay was the generator's own timer, which the path under test should not be charged
 * for). `busyUntilMs` is when the last stretch with every connection busy ended (-Infinity for
 * none), all in ms on one clock.
 */
export function latencyStartMs(intendedMs: number, sentMs: number, busyUntilMs: number): number {
  return intendedMs < busyUntilMs ? intendedMs : sentMs;
}

/** How many requests are due at `elapsedMs` after the start (those with intended time ≤ elapsed). */
export function dueCount(elapsedMs: number, ratePerSec: number, total: number): number {
  if (elapsedMs < 0) return 0;
  return Math.min(total, Math.floor((elapsedMs * ratePerSec) / 1000) + 1);
}

/**
 * The `p`-th percentile (0–100) of ascending `sorted` by the nearest-rank method: the smallest
 * value with at least p % of the samples at or below it. 0 for no samples.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  return sorted[Math.min(n, rank) - 1] ?? 0;
}

/** What `wrk --latency` reports. */
export interface WrkSummary {
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Socket errors plus non-2xx/3xx responses. */
  readonly errors: number;
}

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (m === null) throw new MeshError('BENCH_WRK_OUTPUT', `cannot read wrk duration "${text}"`);
  return Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] ?? 1);
}

/** Parses the output of `wrk --latency`; throws `BENCH_WRK_OUTPUT` when a figure is missing. */
export function parseWrk(output: string): WrkSummary {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const p50 = /^\s+50%\s+(\S+)/m.exec(output);
  const p99 = /^\s+99%\s+(\S+)/m.exec(output);
  if (rps === null || p50 === null || p99 === null) {
    throw new MeshError('BENCH_WRK_OUTPUT', `wrk printed no requests/s or latency distribution:\n${output}`, {
      hint: 'run wrk with --latency; is the target reachable from the client namespace?',
    });
  }
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((s, v) => s + Number(v), 0);
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: durationMs(p50[1] ?? ''),
    p99Ms: durationMs(p99[1] ?? ''),
    errors: socketErrors + (non2xx === null ? 0 : Number(non2xx[1])),
  };
}

/** user + system CPU time in clock ticks from the text of `/proc/<pid>/stat`. */
export function cpuTicksOfStat(stat: string): number {
  // Field 2 (comm) may contain spaces and parentheses: count fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new MeshError('BENCH_PROC_STAT', `cannot read utime/stime from /proc stat "${stat.slice(0, 80)}…"`);
  }
  return utime + stime;
}

/** `VmRSS` in MiB from the text of `/proc/<pid>/status`. */
export function rssMbOfStatus(status: string): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (m === null) throw new MeshError('BENCH_PROC_STATUS', 'no VmRSS line in /proc status (process exited?)');
  return Number(m[1]) / 1024;
}

/** Rounds to `digits` decimals (what the result file keeps). */
export const round = (n: number, digits = 3): number => Number(n.toFixed(digits));
