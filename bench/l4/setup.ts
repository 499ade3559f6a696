/**
 * New connections in the `l4` benchmark: the time from a client's `connect` to the end of the
 * first response on that connection, one connection after another. Through the node agents
 * this is where a connection's tunnel is set up (the kernel accepts the client before the agent
 * has opened its HBONE stream, so the first request waits for it), a cost the fixed-rate runs
 * leave out (`openloop.ts` primes its connections). Interleaved like the other loads: `rounds`
 * rounds of `perRound` connections through every path, the order rotating.
 */
import { connectInNetns } from '../../node-agent/native/index.ts';
import { GET_ROOT, type Target } from './loads.ts';
import { primed } from './openloop.ts';
import type { BenchPath } from './paths.ts';
import { sampleDuring, type Usage } from './procs.ts';
import { percentile } from './stats.ts';
import { rotatingRounds } from '../lib.ts';

/** One path's connections: each one's connect-to-first-response time, and the proxies' usage. */
export interface SetupSample {
  readonly latenciesMs: readonly number[];
  /** Over all the path's rounds: CPU per connection of the proxies, in ms. */
  readonly cpuMsPerConnection: number;
  /** Connections made per second of the path's rounds (one after another). */
  readonly connectionsPerSec: number;
  readonly usage: Usage;
}

async function firstRequestMs(t: Target): Promise<number> {
  const start = performance.now();
  const socket = await connectInNetns(t.ns.path, t.host, t.port, { timeoutMs: 5000, noDelay: true });
  try {
    await primed(socket, GET_ROOT);
    return performance.now() - start;
  } finally {
    socket.destroy();
  }
}

/** Runs the rounds; see the file comment. */
export async function measureSetup(
  paths: readonly BenchPath[],
  rounds: number,
  perRound: number,
): Promise<ReadonlyMap<string, SetupSample>> {
  const runs = new Map<string, { latencies: number[]; cpuSec: number; wallSec: number; peak: number }>(
    paths.map((p) => [p.label, { latencies: [], cpuSec: 0, wallSec: 0, peak: 0 }]),
  );
  await rotatingRounds(paths, rounds, async (p) => {
    const acc = runs.get(p.label);
    if (acc === undefined) return;
    const t0 = performance.now();
    const { usage } = await sampleDuring(p.pids, async () => {
      for (let n = 0; n < perRound; n++) acc.latencies.push(await firstRequestMs(p.target));
    });
    const wallSec = (performance.now() - t0) / 1000;
    acc.cpuSec += usage.cores * wallSec;
    acc.wallSec += wallSec;
    acc.peak = Math.max(acc.peak, usage.peakRssMb);
  });
  const out = new Map<string, SetupSample>();
  for (const [label, acc] of runs) {
    out.set(label, {
      latenciesMs: acc.latencies,
      cpuMsPerConnection: (acc.cpuSec * 1000) / Math.max(1, acc.latencies.length),
      connectionsPerSec: acc.latencies.length / Math.max(acc.wallSec, 1e-9),
      usage: { cores: acc.cpuSec / Math.max(acc.wallSec, 1e-9), peakRssMb: acc.peak },
    });
  }
  return out;
}

/** p50 and p99 of a path's connect-to-first-response times. */
export function setupPercentiles(s: SetupSample): { p50Ms: number; p99Ms: number } {
  const sorted = Float64Array.from(s.latenciesMs).sort();
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
}
