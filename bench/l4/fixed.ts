/**
 * The fixed-rate part of `l4`: 1,000 req/s open-loop runs through every path, interleaved like
 * the bulk downloads (`bulk.ts`). A warm-up round, then `rounds` rounds that each run once
 * through every path, the order rotating. A path's row is its run with the median p99;
 * `l4_added_p99_ms_at_1k` is the median of the per-round differences agents − direct, so each
 * difference compares two runs made seconds apart. Measured path after path, the path measured
 * first (direct) showed p99s from 0.31 to 0.74 ms between runs of the same code, as large as the
 * difference the ratio is about.
 *
 * The warm-up is a whole round, as long as the others, and is not counted (it is printed).
 * After a warm-up of one second per path, the first round had the highest p99 over direct for
 * the stunnel pair in all 4 runs that printed its rounds, for the Node relay pair in all 5, and
 * for the agents in 7 of 11 (2026-11-29: agents 2.73, 0.58, 0.85 ms; stunnel 2.12, 0.33,
 * 0.90; relays 1.34, 0.39, 0.51). Stunnel is not Node, so this is not (only) the agents' JIT
 * warming up; with three rounds, the median was then the larger of the two others.
 */
import { medianBy, rotatingRounds } from '../lib.ts';
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

/** The counted rounds and the warm-up round (one run per path), by path label. */
export interface FixedRounds {
  readonly warmup: FixedSamples;
  readonly counted: FixedSamples;
}

/** Runs `paths` at `ratePerSec` for `durationMs` per run, as the file comment says. */
export async function measureFixed(
  paths: readonly BenchPath[],
  rounds: number,
  ratePerSec: number,
  durationMs: number,
): Promise<FixedRounds> {
  const empty = (): Map<string, FixedSample[]> => new Map(paths.map((p) => [p.label, []]));
  const warmup = empty();
  const counted = empty();
  // Round 0 is the warm-up.
  await rotatingRounds(paths, rounds + 1, async (p, r) => {
    const { result, usage } = await sampleDuring(p.pids, () =>
      runFixedRate(p.target, ratePerSec, durationMs),
    );
    (r === 0 ? warmup : counted).get(p.label)?.push({ result, usage });
  });
  return { warmup, counted };
}

/** The run with the median p99 (the upper one of an even count). */
export function medianFixed(samples: readonly FixedSample[]): FixedSample {
  return medianBy(samples, (s) => s.result.p99Ms, 'fixed-rate run');
}
