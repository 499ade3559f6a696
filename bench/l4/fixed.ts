/**
 * The fixed-rate part of `l4`: 1,000 req/s open-loop runs through every path, interleaved like
 * the bulk downloads (`bulk.ts`). One warm-up run per path, then `rounds` rounds that each run
 * once through every path, the order rotating. A path's row is its run with the median p99;
 * `l4_added_p99_ms_at_1k` is the median of the per-round differences agents − direct, so each
 * difference compares two runs made seconds apart. Measured path after path, the path measured
 * first (direct) showed p99s from 0.31 to 0.74 ms between runs of the same code, as large as the
 * difference the ratio is about.
 */
import { medianBy } from '../lib.ts';
import type { OpenLoopResult } from './openloop.ts';
import { runFixedRate } from './loads.ts';
import type { BenchPath } from './paths.ts';
import { sampleDuring, type Usage } from './procs.ts';

/** One fixed-rate run and the path's processes' CPU and peak RSS meanwhile. */
export interface FixedSample {
  readonly result: OpenLoopResult;
  readonly usage: Usage;
}

/** Every path's runs, by path label, in round order. */
export type FixedSamples = ReadonlyMap<string, readonly FixedSample[]>;

/** Runs `paths` at `ratePerSec` for `durationMs` per run, as the file comment says. */
export async function measureFixed(
  paths: readonly BenchPath[],
  rounds: number,
  ratePerSec: number,
  durationMs: number,
  warmupMs: number,
): Promise<FixedSamples> {
  for (const p of paths) await runFixedRate(p.target, ratePerSec, warmupMs);
  const samples = new Map<string, FixedSample[]>(paths.map((p) => [p.label, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < paths.length; i++) {
      const p = paths[(r + i) % paths.length];
      if (p === undefined) continue;
      const { result, usage } = await sampleDuring(p.pids, () =>
        runFixedRate(p.target, ratePerSec, durationMs),
      );
      samples.get(p.label)?.push({ result, usage });
    }
  }
  return samples;
}

/** The run with the median p99 (the upper one of an even count). */
export function medianFixed(samples: readonly FixedSample[]): FixedSample {
  return medianBy(samples, (s) => s.result.p99Ms, 'fixed-rate run');
}
