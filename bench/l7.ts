/**
 * `l7`: the waypoint's cost in one run and one topology (issue 6 §6). Network namespaces
 * `wmb7-…` (client, proxy, backend on one bridge); the backend app is nginx returning 1 KiB.
 * Paths: direct; L4-only (client forwarder → HBONE → backend HBONE endpoint → app, small
 * processes built on common/hbone standing in for the two node agents); L4 + waypoint (the same
 * forwarder → HBONE → waypoint :15008, ten rules with a header match and a header filter →
 * HBONE → backend endpoint); and nginx (one worker, keep-alive upstream, the same rules as
 * `location`s) as a plaintext reverse proxy; and, for calibration, a plain Node `http` proxy
 * (issue 6's reference for its 0.6× target). Each path runs at a fixed 1,000 req/s (open loop)
 * and at saturation (wrk). CPU and RSS are those of the path's own processes (see docs/benchmarks.md).
 * `WAYMESH_BENCH_L7_PROFILE=1` runs the waypoint with `--cpu-prof` and prints its hot spots;
 * `WAYMESH_BENCH_L7_KEEP=1` keeps the temp directory with every log.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { medianBy, pairedDifference, pairedRatio, type Bench, type BenchRow } from './lib.ts';
import { openLoop, saturation, type LoadPlan } from './l7/measure.ts';
import { ensureBuilt } from './build.ts';
import {
  DIRECT_PATH,
  ENGINE_PATH,
  L4_PATH,
  NGINX_PATH,
  NODE_HTTP_PATH,
  WAYPOINT_PATH,
  startAll,
} from './l7/processes.ts';
import type { BenchPath } from './l7/processes.ts';
import { hotSpotsInDir } from './l7/profile.ts';
import { BenchNet } from './l7/topology.ts';

const PLAN: LoadPlan = { rate: 1000, warmupMs: 2000, durationMs: 8000, wrkConnections: 32 };
/**
 * Saturation rounds of the two paths `waypoint_vs_nginx_rps` compares, and of the plain Node
 * `http` proxy calibrating it, alternating the order. Measured once each, one after the other,
 * the ratio of the same code ranged from 0.52 to 0.63 between runs: nginx alone moved from 46k
 * to 58k req/s.
 */
const COMPARED_ROUNDS = 3;
/**
 * Fixed-rate rounds of the two paths `waypoint_added_p99_ms_at_1k` compares (L4 + waypoint and
 * L4-only), alternating which goes first; the ratio is the median of the per-round differences.
 * Measured once each, the L4-only pair's p99 ranged from 1.0 to 2.9 ms between runs of the same
 * code, so the difference came out anywhere from −1.1 to +0.8 ms. The same rounds measure direct,
 * the engine and nginx, for what one proxy hop adds to p99 on the machine of the run
 * (`nginx_added_p99_ms_at_1k`, `engine_added_p99_ms_at_1k`: calibration, no target).
 */
const LATENCY_ROUNDS = 3;

/** A target of issue 6 §6: printed with pass/fail, never asserted. */
interface Target {
  readonly key: string;
  readonly text: string;
  readonly pass: (v: number) => boolean;
}

const TARGETS: readonly Target[] = [
  { key: 'waypoint_vs_nginx_rps', text: '>= 0.6', pass: (v) => v >= 0.6 },
  { key: 'waypoint_added_p99_ms_at_1k', text: '<= 1.5 ms', pass: (v) => v <= 1.5 },
  { key: 'waypoint_cpu_cores_per_1k', text: '<= 0.35 core', pass: (v) => v <= 0.35 },
  { key: 'waypoint_rss_mb', text: '<= 120 MB', pass: (v) => v <= 120 },
];

const round3 = (n: number): number => Number(n.toFixed(3));

/** The four ratios of issue 6 §6 from the rows of one run and its paired rounds' medians. */
export function l7Ratios(
  rows: Readonly<Record<string, { at1k: BenchRow; sat: BenchRow }>>,
  engineVsNginx: number,
  addedP99Ms: number,
): Record<string, number> {
  const get = (name: string): { at1k: BenchRow; sat: BenchRow } => {
    const r = rows[name];
    if (r === undefined) throw new Error(`no rows for path ${name}`);
    return r;
  };
  const wp = get(WAYPOINT_PATH);
  return {
    // Issue 6 §6 compares "the waypoint's L7 engine against nginx": both plaintext, same place.
    // The median of the paired rounds (see COMPARED_ROUNDS).
    waypoint_vs_nginx_rps: round3(engineVsNginx),
    // The median of the paired fixed-rate rounds (see LATENCY_ROUNDS).
    waypoint_added_p99_ms_at_1k: round3(addedP99Ms),
    waypoint_cpu_cores_per_1k: round3(wp.at1k.cpu_cores / (wp.at1k.rps / 1000)),
    waypoint_rss_mb: Math.max(wp.at1k.rss_mb, wp.sat.rss_mb),
  };
}

/** The row with the median of `key` (the upper one of an even count), its path named with the count. */
function medianRow(rows: readonly BenchRow[], key: 'rps' | 'p99_ms'): BenchRow {
  const m = medianBy(rows, (r) => r[key], 'run of a path');
  return rows.length === 1 ? m : { ...m, path: `${m.path}, median of ${rows.length}` };
}

/**
 * Runs `measure` once for every path outside `compared`, then `rounds` rounds of the `compared`
 * paths alternating the order (forward, then reversed); the rows by path name.
 */
async function measurePaths(
  paths: readonly BenchPath[],
  compared: readonly string[],
  rounds: number,
  measure: (p: BenchPath) => Promise<BenchRow>,
): Promise<Map<string, BenchRow[]>> {
  const rowsOf = new Map<string, BenchRow[]>(paths.map((p) => [p.name, []]));
  const pair = paths.filter((p) => compared.includes(p.name));
  for (const p of paths) if (!pair.includes(p)) rowsOf.get(p.name)?.push(await measure(p));
  for (let r = 0; r < rounds; r++) {
    for (const p of r % 2 === 0 ? pair : [...pair].reverse()) rowsOf.get(p.name)?.push(await measure(p));
  }
  return rowsOf;
}

function printTargets(ratios: Readonly<Record<string, number>>): boolean {
  let allPass = true;
  for (const t of TARGETS) {
    const v = ratios[t.key] ?? Number.NaN;
    const pass = t.pass(v);
    allPass &&= pass;
    console.log(`target ${t.key} ${t.text}: ${v} ${pass ? 'PASS' : 'FAIL'}`);
  }
  return allPass;
}

export const l7Bench: Bench = {
  name: 'l7',
  description: 'waypoint L7 vs direct, L4-only HBONE and nginx, at 1,000 req/s and at saturation',
  async run() {
    const profile = process.env['WAYMESH_BENCH_L7_PROFILE'] === '1';
    const keep = profile || process.env['WAYMESH_BENCH_L7_KEEP'] === '1';
    const dir = mkdtempSync(join(tmpdir(), 'wmb7-'));
    const profDir = join(dir, 'cpu-prof');
    if (profile) mkdirSync(profDir);
    const root = fileURLToPath(new URL('..', import.meta.url));
    if (await ensureBuilt(root)) console.log('built dist/ (npm run build) for the waypoint and the helpers');
    const net = new BenchNet(root);
    try {
      const hosts = await net.create(['client', 'proxy', 'backend']);
      const { client, proxy, backend } = hosts as Record<
        'client' | 'proxy' | 'backend',
        (typeof hosts)[string]
      >;
      if (client === undefined || proxy === undefined || backend === undefined)
        throw new Error('the bench topology is missing a host');
      const started = await startAll(net, { client, proxy, backend }, dir, profile ? profDir : undefined);
      const byPath: Record<string, { at1k: BenchRow; sat: BenchRow }> = {};
      const at1kOf = await measurePaths(
        started.paths,
        [WAYPOINT_PATH, L4_PATH, DIRECT_PATH, ENGINE_PATH, NGINX_PATH],
        LATENCY_ROUNDS,
        (p) => openLoop(net, client.ns, p, PLAN),
      );
      const satOf = await measurePaths(
        started.paths,
        [ENGINE_PATH, NGINX_PATH, NODE_HTTP_PATH],
        COMPARED_ROUNDS,
        (p) => saturation(net, client.ns, p, PLAN),
      );
      const of = (rows: Map<string, BenchRow[]>, name: string, key: 'rps' | 'p99_ms'): number[] =>
        (rows.get(name) ?? []).map((row) => row[key]);
      const added = pairedDifference(of(at1kOf, WAYPOINT_PATH, 'p99_ms'), of(at1kOf, L4_PATH, 'p99_ms'));
      console.log(
        `waypoint − L4-only p99 at 1,000 req/s per round, ms (median is the ratio): ${added.perRound.map(round3).join(', ')}`,
      );
      const paired = pairedRatio(of(satOf, ENGINE_PATH, 'rps'), of(satOf, NGINX_PATH, 'rps'));
      console.log(
        `engine/nginx saturation per round (median is the ratio): ${paired.perRound.map(round3).join(', ')}`,
      );
      const calibration = pairedRatio(of(satOf, NODE_HTTP_PATH, 'rps'), of(satOf, NGINX_PATH, 'rps'));
      console.log(
        `calibration: plain Node http/nginx saturation per round (issue 6 expected ~0.6): ${calibration.perRound.map(round3).join(', ')}`,
      );
      const overDirect = (name: string): ReturnType<typeof pairedDifference> =>
        pairedDifference(of(at1kOf, name, 'p99_ms'), of(at1kOf, DIRECT_PATH, 'p99_ms'));
      const nginxAdded = overDirect(NGINX_PATH);
      const engineAdded = overDirect(ENGINE_PATH);
      console.log(
        `calibration: p99 over direct at 1,000 req/s per round, ms: nginx ${nginxAdded.perRound.map(round3).join(', ')}; engine ${engineAdded.perRound.map(round3).join(', ')}`,
      );
      const at1k = started.paths.map((p) => medianRow(at1kOf.get(p.name) ?? [], 'p99_ms'));
      const sat = started.paths.map((p) => medianRow(satOf.get(p.name) ?? [], 'rps'));
      started.paths.forEach((p, i) => {
        const a = at1k[i];
        const s = sat[i];
        if (a !== undefined && s !== undefined) byPath[p.name] = { at1k: a, sat: s };
      });
      const ratios = l7Ratios(byPath, paired.median, added.median);
      const allPass = printTargets(ratios);
      // Not a target: what the machine of the run gives the proxy the 0.6× target was set by.
      ratios['plain_node_http_vs_nginx_rps'] = round3(calibration.median);
      // Not targets either: what one proxy hop adds to p99 on this machine, nginx's and ours.
      ratios['nginx_added_p99_ms_at_1k'] = round3(nginxAdded.median);
      ratios['engine_added_p99_ms_at_1k'] = round3(engineAdded.median);
      if (profile) {
        await started.stopWaypoint();
        console.log(`waypoint CPU profile in ${profDir}; top self time:`);
        for (const h of hotSpotsInDir(profDir, 15))
          console.log(`  ${h.selfPercent.toFixed(1).padStart(5)} %  ${h.where}`);
      } else if (!allPass) {
        console.log('a target was missed: rerun with WAYMESH_BENCH_L7_PROFILE=1 for the waypoint hot spots');
      }
      return { rows: [...at1k, ...sat], ratios };
    } finally {
      await net.cleanup();
      if (keep) console.log(`bench files kept in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    }
  },
};
