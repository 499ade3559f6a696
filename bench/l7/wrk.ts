/**
 * `wrk` (closed loop, saturation): its command line and a parser for its `--latency` report.
 */
import { MeshError } from '../../common/errors.ts';

/** What one wrk run measured. */
export interface WrkResult {
  readonly rps: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  /** Socket errors plus non-2xx/3xx answers. */
  readonly errors: number;
}

/** Options of {@link wrkArgs}. */
export interface WrkOptions {
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  readonly threads?: number;
}

/** The wrk arguments for one run (latency distribution on). */
export function wrkArgs(o: WrkOptions): string[] {
  return [
    `-t${o.threads ?? 1}`,
    `-c${o.connections}`,
    `-d${o.seconds}s`,
    '--timeout',
    '5s',
    '--latency',
    o.url,
  ];
}

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PERCENTILE = /^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$/;
const RPS = /^Requests\/sec:\s+([\d.]+)\s*$/;
const SOCKET_ERRORS = /^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$/;
const NON_2XX = /^\s*Non-2xx or 3xx responses: (\d+)\s*$/;

/** Parses wrk's report; throws `BENCH_WRK_OUTPUT` when a figure is missing. */
export function parseWrkOutput(text: string): WrkResult {
  let rps: number | undefined;
  let p50: number | undefined;
  let p99: number | undefined;
  let errors = 0;
  for (const line of text.split('\n')) {
    const pct = PERCENTILE.exec(line);
    if (pct !== null) {
      const ms = Number(pct[2]) * (UNIT_MS[pct[3] ?? 'ms'] ?? 1);
      if (pct[1] === '50') p50 = ms;
      else p99 = ms;
      continue;
    }
    const r = RPS.exec(line);
    if (r !== null) rps = Number(r[1]);
    const s = SOCKET_ERRORS.exec(line);
    if (s !== null) errors += s.slice(1, 5).reduce((n, v) => n + Number(v), 0);
    const n = NON_2XX.exec(line);
    if (n !== null) errors += Number(n[1]);
  }
  if (rps === undefined || p50 === undefined || p99 === undefined) {
    throw new MeshError('BENCH_WRK_OUTPUT', `wrk printed no requests/sec or latency distribution:\n${text}`, {
      hint: 'is the target reachable from the client namespace? run wrk by hand with --latency',
    });
  }
  const round = (v: number): number => Number(v.toFixed(3));
  return { rps, p50_ms: round(p50), p99_ms: round(p99), errors };
}
