/**
 * The bulk part of `l4`: single-connection 200 MiB downloads through every path, interleaved.
 * One warm-up download per path (a cold one mostly measures TCP buffer autotuning and JIT
 * warm-up: on every path the first ran at about half the speed of the next ones), then
 * `rounds` rounds that each download once through every path, the order rotating from round to
 * round. A path's figure is its median download; the agents/stunnel ratio is the median of the
 * per-round ratios, so each ratio compares two downloads made seconds apart. On this two-core
 * machine, where a download saturates both cores, the speed of the same path varied by ±20 %
 * from minute to minute; measured path after path, the ratio swung from 0.5 to 0.85 between
 * runs of the same code.
 */
import type { NetnsLab } from '../../test/helpers/netns.ts';
import { medianBy, rotatingRounds } from '../lib.ts';
import { runBulk } from './loads.ts';
import type { BenchPath } from './paths.ts';
import { sampleDuring, type Usage } from './procs.ts';

/** One download: MB/s, and the path's processes' CPU and peak RSS meanwhile. */
export interface BulkSample {
  readonly mbPerSec: number;
  readonly usage: Usage;
}

/** Every path's downloads, by path label, in round order. */
export type BulkSamples = ReadonlyMap<string, readonly BulkSample[]>;

/** Downloads through `paths` as the file comment says. */
export async function measureBulk(
  lab: NetnsLab,
  paths: readonly BenchPath[],
  rounds: number,
): Promise<BulkSamples> {
  for (const p of paths) await runBulk(lab, p.target);
  const samples = new Map<string, BulkSample[]>(paths.map((p) => [p.label, []]));
  await rotatingRounds(paths, rounds, async (p) => {
    const { result, usage } = await sampleDuring(p.pids, () => runBulk(lab, p.target));
    samples.get(p.label)?.push({ mbPerSec: result, usage });
  });
  return samples;
}

/** The median sample by MB/s (the upper one of an even count). */
export function medianSample(samples: readonly BulkSample[]): BulkSample {
  return medianBy(samples, (s) => s.mbPerSec, 'bulk download');
}
