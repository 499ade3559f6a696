/**
 * Shared benchmark plumbing: timed loops with latency percentiles, CPU and RSS, the result
 * file format of DESIGN.md §7, and the printed table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** One measured path. */
export interface BenchRow {
  readonly path: string;
  readonly rps: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly cpu_cores: number;
  readonly rss_mb: number;
}

/** A benchmark's complete result. */
export interface BenchResult {
  readonly name: string;
  readonly when: string;
  readonly machine: string;
  readonly rows: readonly BenchRow[];
  readonly ratios: Readonly<Record<string, number>>;
}

/** A benchmark: measures its rows (baseline included) and derives ratios. */
export interface Bench {
  readonly name: string;
  readonly description: string;
  run(): Promise<Pick<BenchResult, 'rows' | 'ratios'>>;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

/**
 * Runs `op` with `concurrency` loops for `durationMs` after a short warm-up, and reports
 * throughput, latency percentiles, CPU cores used by this process and RSS.
 */
export async function measure(
  path: string,
  op: () => unknown,
  options: { durationMs?: number; warmupMs?: number; concurrency?: number } = {},
): Promise<BenchRow> {
  const { durationMs = 3000, warmupMs = 500, concurrency = 1 } = options;
  const loop = async (until: number, latencies: number[] | undefined): Promise<void> => {
    while (performance.now() < until) {
      const t0 = performance.now();
      await op();
      latencies?.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => loop(performance.now() + warmupMs, undefined)));
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => loop(t0 + durationMs, latencies)));
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return {
    path,
    rps: round((latencies.length * 1000) / elapsed, 1),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    cpu_cores: round((cpu.user + cpu.system) / 1000 / elapsed, 2),
    rss_mb: round(process.memoryUsage().rss / 1048576, 1),
  };
}

/** A one-line description of this machine for the result file. */
export function machine(): string {
  const c = cpus();
  return `${c.length}x ${c[0]?.model.trim() ?? 'unknown cpu'}, ${Math.round(totalmem() / 1073741824)} GiB, node ${process.version}`;
}

/** Prints the table and ratios, and writes `bench/results/<name>.json`. */
export function report(name: string, result: Pick<BenchResult, 'rows' | 'ratios'>): BenchResult {
  const full: BenchResult = { name, when: new Date().toISOString(), machine: machine(), ...result };
  const width = Math.max(...full.rows.map((r) => r.path.length), 4);
  console.log(`\n${name} — ${full.machine}`);
  console.log(
    `${'path'.padEnd(width)}  ${'rps'.padStart(10)}  ${'p50 ms'.padStart(9)}  ${'p99 ms'.padStart(9)}  cpu   rss MB`,
  );
  for (const r of full.rows) {
    console.log(
      `${r.path.padEnd(width)}  ${r.rps.toFixed(1).padStart(10)}  ${r.p50_ms.toFixed(3).padStart(9)}  ${r.p99_ms.toFixed(3).padStart(9)}  ${r.cpu_cores.toFixed(2)}  ${r.rss_mb.toFixed(1)}`,
    );
  }
  for (const [k, v] of Object.entries(full.ratios)) console.log(`ratio ${k} = ${v}`);
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(`${name}.json`, dir), JSON.stringify(full, null, 2) + '\n');
  return full;
}

/**
 * Runs `each` once for every item in every one of `rounds` rounds, the order rotating by one
 * from round to round (round r starts at item r), so no item is always measured first.
 */
export async function rotatingRounds<T>(
  items: readonly T[],
  rounds: number,
  each: (item: T, round: number) => Promise<void>,
): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < items.length; i++) {
      const item = items[(r + i) % items.length];
      if (item !== undefined) await each(item, r);
    }
  }
}

/**
 * The item with the median `value` (the upper one of an even count); throws, naming `what`, when
 * there is none.
 */
export function medianBy<T>(items: readonly T[], value: (item: T) => number, what: string): T {
  const sorted = [...items].sort((a, b) => value(a) - value(b));
  const m = sorted[Math.floor(sorted.length / 2)];
  if (m === undefined) throw new Error(`no ${what} was measured`);
  return m;
}

/** Per-round figures of two paths measured in the same rounds, and their median. */
export interface Paired {
  readonly median: number;
  readonly perRound: readonly number[];
}

function paired(of: readonly number[], to: readonly number[], f: (a: number, b: number) => number): Paired {
  const perRound = of.map((v, i) => f(v, to[i] ?? NaN));
  return { median: medianBy(perRound, (v) => v, 'round'), perRound };
}

/**
 * Per-round ratios `of[i] / to[i]` of two paths measured in the same rounds, and their median
 * (the upper one of an even count): each ratio compares two measurements made seconds apart, so
 * the machine's drift from minute to minute stays out of it.
 */
export function pairedRatio(of: readonly number[], to: readonly number[]): Paired {
  return paired(of, to, (a, b) => a / b);
}

/** Per-round differences `of[i] − to[i]` and their median, as {@link pairedRatio}. */
export function pairedDifference(of: readonly number[], to: readonly number[]): Paired {
  return paired(of, to, (a, b) => a - b);
}
