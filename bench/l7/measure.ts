/**
 * One measurement of one path from the client namespace: the open-loop generator at a fixed
 * rate, or wrk at saturation, with the path's processes' CPU and RSS read from /proc over the
 * measured window.
 */
import { BENCH_JS } from '../build.ts';
import type { BenchRow } from '../lib.ts';
import { MeshError } from '../../common/errors.ts';
import { startCpuMeter, treeRssMb } from './procstat.ts';
import type { BenchPath } from './processes.ts';
import type { LatencySummary } from './schedule.ts';
import type { BenchNet } from './topology.ts';
import { parseWrkOutput, wrkArgs } from './wrk.ts';

/** Durations and loads of the benchmark. */
export interface LoadPlan {
  readonly rate: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly wrkConnections: number;
}

/** Error share above which a run is void (the path is broken, not slow). */
const MAX_ERROR_SHARE = 0.01;

function checkErrors(what: string, errors: number, count: number): void {
  if (errors > MAX_ERROR_SHARE * Math.max(1, count + errors))
    throw new MeshError('BENCH_ERRORS', `${what}: ${errors} failed requests of ${count + errors}`, {
      hint: 'see the process logs in the bench temp directory (kept with WAYMESH_BENCH_L7_KEEP=1)',
    });
}

/** The fixed-rate run: `<name> @<rate>/s open-loop`. */
export async function openLoop(
  net: BenchNet,
  ns: string,
  path: BenchPath,
  plan: LoadPlan,
): Promise<BenchRow> {
  let meter: { stop(): number } | undefined;
  let summary: LatencySummary | undefined;
  const args = [
    BENCH_JS.l7OpenLoop,
    '--url',
    path.url,
    '--rate',
    String(plan.rate),
    '--warmup-ms',
    String(plan.warmupMs),
    '--duration-ms',
    String(plan.durationMs),
  ];
  let cpu = 0;
  await net.runLines(
    ns,
    process.execPath,
    args,
    (line) => {
      if (line === 'measuring') meter = startCpuMeter(path.pids);
      else if (line.startsWith('{')) {
        cpu = meter?.stop() ?? 0;
        summary = JSON.parse(line) as LatencySummary;
      }
    },
    plan.warmupMs + plan.durationMs + 30_000,
  );
  if (summary === undefined || meter === undefined)
    throw new MeshError('BENCH_OPENLOOP', `the open-loop generator printed no result for ${path.name}`);
  checkErrors(path.name, summary.errors, summary.count);
  return {
    path: `${path.name} @${plan.rate}/s open-loop`,
    rps: summary.rps,
    p50_ms: summary.p50_ms,
    p99_ms: summary.p99_ms,
    cpu_cores: cpu,
    rss_mb: treeRssMb(path.pids),
  };
}

/** The saturation run: a short wrk warm-up, then the measured wrk run. */
export async function saturation(
  net: BenchNet,
  ns: string,
  path: BenchPath,
  plan: LoadPlan,
): Promise<BenchRow> {
  const seconds = (ms: number): number => Math.max(1, Math.round(ms / 1000));
  await net.exec(
    ns,
    'wrk',
    wrkArgs({ url: path.url, connections: plan.wrkConnections, seconds: seconds(plan.warmupMs) }),
    60_000,
  );
  const meter = startCpuMeter(path.pids);
  const out = await net.exec(
    ns,
    'wrk',
    wrkArgs({ url: path.url, connections: plan.wrkConnections, seconds: seconds(plan.durationMs) }),
    60_000,
  );
  const cpu = meter.stop();
  const r = parseWrkOutput(out);
  checkErrors(path.name, r.errors, Math.round(r.rps * seconds(plan.durationMs)));
  return {
    path: `${path.name} wrk -c${plan.wrkConnections} (saturation)`,
    rps: r.rps,
    p50_ms: r.p50_ms,
    p99_ms: r.p99_ms,
    cpu_cores: cpu,
    rss_mb: treeRssMb(path.pids),
  };
}
