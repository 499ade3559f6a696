/**
 * `l4` (issue 5 §6): the node agents' data path against a direct connection and a stunnel pair
 * (mutual TLS 1.3), measured in the same run in network namespaces: requests/s at saturation
 * (`wrk`), p50/p99 at a fixed 1,000 req/s (open-loop, 1 KiB responses, on connections that
 * already carried a request), a new connection's first request, single-connection bulk
 * throughput, the proxies' CPU and RSS, and the RSS of an agent with 100 captured pods. Targets
 * are printed next to the ratios, not asserted. For calibration the fixed-rate runs also go
 * through the stunnel pair and a pair of plain Node TCP relays (what the machine charges any two
 * processes, and any two Node processes, on a request's path). `WAYMESH_L4_CPU_PROF=<dir>`
 * makes the two agents write V8 CPU profiles there. See docs/benchmarks.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { inMemoryRootCa } from '../certs/index.ts';
import { loadNativeAddon } from '../node-agent/native/index.ts';
import { NetnsLab, assertRoot } from '../test/helpers/netns.ts';
import { measureBulk, medianSample, type BulkSample } from './l4/bulk.ts';
import { measureFixed, medianFixed, type FixedSample, type FixedSamples } from './l4/fixed.ts';
import { runWrk } from './l4/loads.ts';
import { agentRssWithPods } from './l4/many-pods.ts';
import { buildPaths, type BenchPath } from './l4/paths.ts';
import { measureSetup, setupPercentiles, type SetupSample } from './l4/setup.ts';
import { ProcessGroup, sampleDuring } from './l4/procs.ts';
import { round } from './l4/stats.ts';
import { TRUST_DOMAIN } from './l4/topology.ts';
import { ensureBuilt } from './build.ts';
import { pairedDifference, pairedRatio, type Bench, type BenchRow } from './lib.ts';

const WRK_SECONDS = 5;
const WARMUP_SECONDS = 1;
const FIXED_RATE = 1000;
const FIXED_MS = 5000;
const MANY_PODS = 100;
const BULK_ROUNDS = 5;
const FIXED_ROUNDS = 3;
const SETUP_ROUNDS = 3;
const SETUP_PER_ROUND = 100;

function cost(u: { cores: number; peakRssMb: number }): Pick<BenchRow, 'cpu_cores' | 'rss_mb'> {
  return { cpu_cores: round(u.cores, 2), rss_mb: round(u.peakRssMb, 1) };
}

/** A latency row from a run's requests/s, percentiles and its processes' usage. */
function latencyRow(
  path: string,
  rps: number,
  run: { p50Ms: number; p99Ms: number },
  usage: { cores: number; peakRssMb: number },
): BenchRow {
  return { path, rps: round(rps, 1), p50_ms: round(run.p50Ms), p99_ms: round(run.p99Ms), ...cost(usage) };
}

/** A path's saturation row: `wrk` after a warm-up. */
async function saturation(lab: NetnsLab, path: BenchPath): Promise<BenchRow> {
  await runWrk(lab, path.target, WARMUP_SECONDS);
  const sat = await sampleDuring(path.pids, () => runWrk(lab, path.target, WRK_SECONDS));
  const label = `${path.label}: saturation (wrk -t1 -c32 ${WRK_SECONDS}s)`;
  return latencyRow(label, sat.result.requestsPerSec, sat.result, sat.usage);
}

/** A path's fixed-rate row: its run with the median p99. */
function fixedRow(label: string, samples: readonly FixedSample[]): BenchRow {
  const m = medianFixed(samples);
  const path = `${label}: ${FIXED_RATE} req/s open loop, median p99 of ${samples.length}`;
  return latencyRow(path, m.result.achievedRps, m.result, m.usage);
}

/** A path's new-connection row: connect to first response, one connection after another. */
function setupRow(label: string, s: SetupSample): BenchRow {
  const path = `${label}: new connection + first request, ${s.latenciesMs.length} one after another (conn/s)`;
  return latencyRow(path, s.connectionsPerSec, setupPercentiles(s), s.usage);
}

/** A path's bulk row: its median download. */
function bulkRow(label: string, samples: readonly BulkSample[]): BenchRow {
  const m = medianSample(samples);
  return {
    path: `${label}: bulk 200 MiB, 1 conn, median of ${samples.length} (MB/s)`,
    rps: round(m.mbPerSec, 1),
    p50_ms: 0,
    p99_ms: 0,
    ...cost(m.usage),
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
      const all = [paths.direct, paths.stunnel, paths.agents];
      const sat: { path: BenchPath; row: BenchRow }[] = [];
      for (const path of all) sat.push({ path, row: await saturation(lab, path) });
      const fixedPaths = [...all, paths.nodeRelay];
      const rounds = await measureFixed(fixedPaths, FIXED_ROUNDS, FIXED_RATE, FIXED_MS);
      const fixed = rounds.counted;
      const p99sIn = (m: FixedSamples, p: BenchPath): number[] =>
        (m.get(p.label) ?? []).map((f) => f.result.p99Ms);
      const p99s = (p: BenchPath): number[] => p99sIn(fixed, p);
      const warm = (p: BenchPath): string =>
        round(
          (p99sIn(rounds.warmup, p)[0] ?? NaN) - (p99sIn(rounds.warmup, paths.direct)[0] ?? NaN),
        ).toString();
      console.log(
        `warm-up round (not counted), p99 − direct at ${FIXED_RATE} req/s: agents ${warm(paths.agents)}, stunnel pair ${warm(paths.stunnel)}, Node relay pair ${warm(paths.nodeRelay)}`,
      );
      const addedP99 = pairedDifference(p99s(paths.agents), p99s(paths.direct));
      const stunnelAddedP99 = pairedDifference(p99s(paths.stunnel), p99s(paths.direct));
      const relayAddedP99 = pairedDifference(p99s(paths.nodeRelay), p99s(paths.direct));
      const setup = await measureSetup(fixedPaths, SETUP_ROUNDS, SETUP_PER_ROUND);
      const setupOf = (p: BenchPath): SetupSample | undefined => setup.get(p.label);
      const bulk = await measureBulk(lab, all, BULK_ROUNDS);
      const bulkOf = (p: BenchPath): readonly BulkSample[] => bulk.get(p.label) ?? [];
      const mbs = (p: BenchPath): number[] => bulkOf(p).map((b) => b.mbPerSec);
      const bulkRatio = pairedRatio(mbs(paths.agents), mbs(paths.stunnel));
      await procs.stopAll();
      const many = await agentRssWithPods(lab, procs, ca, dir, MANY_PODS);
      const rows: BenchRow[] = [
        ...sat.flatMap(({ path, row }) => [row, fixedRow(path.label, fixed.get(path.label) ?? [])]),
        fixedRow(paths.nodeRelay.label, fixed.get(paths.nodeRelay.label) ?? []),
        ...fixedPaths.flatMap((p) => {
          const s = setupOf(p);
          return s === undefined ? [] : [setupRow(p.label, s)];
        }),
        ...all.map((p) => bulkRow(p.label, bulkOf(p))),
      ];
      const firstP50 = (p: BenchPath): number => {
        const s = setupOf(p);
        return s === undefined ? NaN : setupPercentiles(s).p50Ms;
      };
      const rpsOf = (p: BenchPath): number => sat.find((s) => s.path === p)?.row.rps ?? NaN;
      rows.push({
        path: `node agent: ${MANY_PODS} captured pods, idle`,
        rps: 0,
        p50_ms: 0,
        p99_ms: 0,
        cpu_cores: 0,
        rss_mb: round(many.rssMb, 1),
      });
      const ratios = {
        l4_vs_stunnel_rps: round(rpsOf(paths.agents) / rpsOf(paths.stunnel)),
        l4_added_p99_ms_at_1k: round(addedP99.median),
        l4_vs_stunnel_bulk: round(bulkRatio.median),
        agent_rss_mb_100_pods: round(many.rssMb, 1),
      };
      console.log(
        `p99 agents − direct at ${FIXED_RATE} req/s per round (median is the ratio): ${addedP99.perRound.map((r) => round(r)).join(', ')}`,
      );
      console.log(
        `bulk agents/stunnel per round (median is the ratio): ${bulkRatio.perRound.map((r) => round(r)).join(', ')}`,
      );
      console.log(
        `calibration: p99 stunnel pair − direct per round: ${stunnelAddedP99.perRound.map((r) => round(r)).join(', ')}`,
      );
      console.log(
        `calibration: p99 Node relay pair − direct per round: ${relayAddedP99.perRound.map((r) => round(r)).join(', ')}`,
      );
      console.log(
        `new connections, proxies' CPU per connection: ${fixedPaths.map((p) => `${p.label} ${round(setupOf(p)?.cpuMsPerConnection ?? NaN, 2)} ms`).join(', ')}`,
      );
      printTargets(ratios);
      // Not targets: what the reference tunnel, and two Node processes that only relay, add to
      // p99 on the machine of the run; and what the agents add to a new connection's first
      // request (its tunnel's setup, which the fixed-rate runs leave out).
      const calibration = {
        stunnel_added_p99_ms_at_1k: round(stunnelAddedP99.median),
        node_relay_added_p99_ms_at_1k: round(relayAddedP99.median),
        l4_added_first_request_p50_ms: round(firstP50(paths.agents) - firstP50(paths.direct)),
      };
      return { rows, ratios: { ...ratios, ...calibration } };
    } finally {
      await procs.stopAll();
      await lab.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
