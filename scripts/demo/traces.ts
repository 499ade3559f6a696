/**
 * The trace section: the lab addons (`manifests/lab/addons.yaml`: Redis and the `jaeger` trace
 * sink in waymesh-system) receive the waypoints' spans; `waymesh lab traces --last 1` renders
 * the newest trace as a waterfall. When the addons file is absent, the demo says so and skips it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MeshError } from '../../common/errors.ts';
import { REPO_ROOT, type Runner } from './run.ts';

/** The lab's addons manifest. */
export const LAB_ADDONS = join(REPO_ROOT, 'manifests', 'lab', 'addons.yaml');

/** Why the waterfall is skipped, or undefined when the addons can be installed. */
export function addonsMissing(): string | undefined {
  return existsSync(LAB_ADDONS)
    ? undefined
    : `skipped: ${LAB_ADDONS} is not in this checkout, so the lab has no trace sink (Service jaeger in waymesh-system)`;
}

/**
 * The waterfall of the newest trace, from `waymesh lab traces --last 1`; retried for up to
 * `waitMs` because waypoints export spans in batches.
 */
export async function lastTraceWaterfall(runner: Runner, labName: string, waitMs: number): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const res = await runner.waymesh(['lab', 'traces', '--name', labName, '--last', '1'], {
      allowFailure: true,
    });
    const text = res.stdout.trimEnd();
    if (res.code === 0 && /^trace [0-9a-f]+/m.test(text)) return text.split('\n');
    if (/unknown subcommand/.test(res.stderr))
      throw new MeshError('DEMO_TRACES', "this checkout's `waymesh lab` has no `traces` verb", {
        hint: 'update the checkout; the lab addons are installed but nothing can read their spans',
      });
    if (Date.now() > deadline)
      throw new MeshError(
        'DEMO_TRACES',
        `no trace arrived at the lab's trace sink within ${waitMs / 1000} s: ${(res.stderr || text).trim().slice(0, 400)}`,
        {
          hint: 'are the waypoints exporting to jaeger.waymesh-system.svc:4317? see `waymesh lab logs` of a waypoint pod',
        },
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
}
