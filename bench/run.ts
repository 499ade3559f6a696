/**
 * `npm run bench -- [name…]`: runs the named benchmarks (all when none is named), prints
 * each table and writes `bench/results/<name>.json`.
 */
import { caBench } from './ca.ts';
import { controllerBench } from './controller.ts';
import { l4Bench } from './l4.ts';
import { l7Bench } from './l7.ts';
import { report, type Bench } from './lib.ts';

const BENCHES: readonly Bench[] = [caBench, controllerBench, l4Bench, l7Bench];

async function main(names: readonly string[]): Promise<number> {
  const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark(s): ${unknown.join(', ')}; available: ${BENCHES.map((b) => b.name).join(', ')}`,
    );
    return 2;
  }
  for (const bench of BENCHES.filter((b) => names.length === 0 || names.includes(b.name))) {
    console.log(`running ${bench.name}: ${bench.description}`);
    report(bench.name, await bench.run());
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
