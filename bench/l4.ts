/**
 * `l4` (issue 5 §6): the node agents' data path against a direct connection and a stunnel pair
 * (mutual TLS 1.3), measured in the same run in network namespaces: requests/s at saturation
 * (`wrk`), p50/p99 at a fixed 1,000 req/s (open-loop, 1 KiB responses), single-connection bulk
 * throughput, the proxies' CPU and RSS, and the RSS of an agent with 100 captured pods. Targets
 * are printed next to the ratios, not asserted. `WAYMESH_L4_CPU_PROF=<dir>` makes the two agents
 * write V8 CPU profiles there. See docs/benchmarks.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { inMemoryRootCa } from '../certs/index.ts';
import { loadNativeAddon } from '../node-agent/native/index.ts';
import { NetnsLab, assertRoot } from '../test/helpers/netns.ts';
import { measureBulk, medianSample, type BulkSample } from './l4/bulk.ts';
import { runFixedRate, runWrk } from './l4/loads.ts';
import { agentRssWithPods } from './l4/many-pods.ts';
import { buildPaths, type BenchPath } from './l4/paths.ts';
import { ProcessGroup, sampleDuring } from './l4/procs.ts';
import { round } from './l4/stats.ts';
import { TRUST_DOMAIN } from './l4/topology.ts';
import { ensureBuilt } from './build.ts';
import { pairedRatio, type Bench, type BenchRow } from './lib.ts';

const WRK_SECONDS = 5;
const WARMUP_SECONDS = 1;
const FIXED_RATE = 1000;
const FIXED_MS = 5000;
const MANY_PODS = 100;
const BULK_ROUNDS = 5;

/** The figures of one path. */
interface PathFigures {
  readonly saturation: BenchRow;
  readonly fixed: BenchRow;
}

async function measurePath(lab: NetnsLab, path: BenchPath): Promise<PathFigures> {
  const { target, pids } = path;
  await runWrk(lab, target, WARMUP_SECONDS);
  const sat = await sampleDuring(pids, () => runWrk(lab, target, WRK_SECONDS));
  await runFixedRate(target, FIXED_RATE, WARMUP_SECONDS * 1000);
  const fixed = await sampleDuring(pids, () => runFixedRate(target, FIXED_RATE, FIXED_MS));
  const cost = (u: { cores: number; peakRssMb: number }): Pick<BenchRow, 'cpu_cores' | 'rss_mb'> => ({
    cpu_cores: round(u.cores, 2),
    rss_mb: round(u.peakRssMb, 1),
  });
  return {
    saturation: {
      path: `${path.label}: saturation (wrk -t1 -c32 ${WRK_SECONDS}s)`,
      rps: round(sat.result.requestsPerSec, 1),
      p50_ms: round(sat.result.p50Ms),
      p99_ms: round(sat.result.p99Ms),
      ...cost(sat.usage),
    },
    fixed: {
      path: `${path.label}: ${FIXED_RATE} req/s open loop`,
      rps: round(fixed.result.achievedRps, 1),
      p50_ms: round(fixed.result.p50Ms),
      p99_ms: round(fixed.result.p99Ms),
      ...cost(fixed.usage),
    },
  };
}

/** A path's bulk row: its median download. */
function bulkRow(label: string, samples: readonly BulkSample[]): BenchRow {
  const m = medianSample(samples);
  return {
    path: `${label}: bulk 200 MiB, 1 conn, median of ${samples.length} (MB/s)`,
    rps: round(m.mbPerSec, 1),
    p50_ms: 0,
    p99_ms: 0,
    cpu_cores: round(m.usage.cores, 2),
    rss_mb: round(m.usage.peakRssMb, 1),
  };
}

/** Prints each ratio with its target and pass/fail (issue 5 §6). */
function printTargets(ratios: Readonly<Record<string, number>>): void {
  const targets: readonly [string, '>=' | '<=', number][] = [
    ['l4_vs_stunnel_rps', '>=', 0.9],
    ['l4_added_p99_ms_at_1k', '<=', 0.6],
    ['l4_vs_stunnel_bulk', '>=', 0.8],
    ['agent_rss_mb_100_pods', '<=', 80],
  ];
  console.log('targets:');
  for (const [key, op, limit] of targets) {
    const v = ratios[key] ?? NaN;
    const pass = op === '>=' ? v >= limit : v <= limit;
    console.log(
      `  ${key.padEnd(24)} ${String(v).padStart(8)}  target ${op} ${limit}  ${pass ? 'PASS' : 'FAIL'}`,
    );
  }
}

/** The `l4` benchmark; see the file comment. */
export const l4Bench: Bench = {
  name: 'l4',
  description: 'node agents (HBONE) vs direct vs a stunnel mTLS pair, in network namespaces',
  async run() {
    assertRoot();
    loadNativeAddon();
    const root = fileURLToPath(new URL('..', import.meta.url));
    if (await ensureBuilt(root)) console.log('built dist/ (npm run build) for the agents');
    const lab = new NetnsLab();
    const procs = new ProcessGroup();
    const dir = mkdtempSync(join(tmpdir(), 'waymesh-l4-'));
    const profDir = process.env.WAYMESH_L4_CPU_PROF;
    try {
      const ca = inMemoryRootCa(TRUST_DOMAIN);
      const paths = await buildPaths(lab, procs, ca, dir, profDir);
      const direct = await measurePath(lab, paths.direct);
      const stunnel = await measurePath(lab, paths.stunnel);
      const agents = await measurePath(lab, paths.agents);
      const bulk = await measureBulk(lab, [paths.direct, paths.stunnel, paths.agents], BULK_ROUNDS);
      const bulkOf = (p: BenchPath): readonly BulkSample[] => bulk.get(p.label) ?? [];
      const mbs = (p: BenchPath): number[] => bulkOf(p).map((b) => b.mbPerSec);
      const bulkRatio = pairedRatio(mbs(paths.agents), mbs(paths.stunnel));
      await procs.stopAll();
      const many = await agentRssWithPods(lab, procs, ca, dir, MANY_PODS);
      const rows: BenchRow[] = [
        ...[direct, stunnel, agents].flatMap((f) => [f.saturation, f.fixed]),
        ...[paths.direct, paths.stunnel, paths.agents].map((p) => bulkRow(p.label, bulkOf(p))),
      ];
      rows.push({
        path: `node agent: ${MANY_PODS} captured pods, idle`,
        rps: 0,
        p50_ms: 0,
        p99_ms: 0,
        cpu_cores: 0,
        rss_mb: round(many.rssMb, 1),
      });
      const ratios = {
        l4_vs_stunnel_rps: round(agents.saturation.rps / stunnel.saturation.rps),
        l4_added_p99_ms_at_1k: round(agents.fixed.p99_ms - direct.fixed.p99_ms),
        l4_vs_stunnel_bulk: round(bulkRatio.median),
        agent_rss_mb_100_pods: round(many.rssMb, 1),
      };
      console.log(
        `bulk agents/stunnel per round (median is the ratio): ${bulkRatio.perRound.map((r) => round(r)).join(', ')}`,
      );
      printTargets(ratios);
      return { rows, ratios };
    } finally {
      await procs.stopAll();
      await lab.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
