/**
 * The waypoint is benchmarked as it ships: compiled JavaScript (`dist/waypoint/main.js`, what the
 * production image runs). {@link ensureBuilt} runs `npm run build` when dist/ is missing or older
 * than any TypeScript source the waypoint is compiled from.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { MeshError } from '../../common/errors.ts';

const execFileAsync = promisify(execFile);

/** The waypoint entry point, relative to the repository root. */
export const WAYPOINT_MAIN_JS = 'dist/waypoint/main.js';

/** Source folders the waypoint's dist/ is built from (the folder rule: waypoint → common, certs). */
const SOURCES = ['waypoint', 'common', 'certs'];

function newestTs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestTs(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** True when `dist/waypoint/main.js` is missing or older than a waypoint/common/certs source. */
export function distIsStale(root: string): boolean {
  const main = join(root, WAYPOINT_MAIN_JS);
  if (!existsSync(main)) return true;
  const built = statSync(main).mtimeMs;
  return SOURCES.some((dir) => newestTs(join(root, dir)) > built);
}

/** Builds dist/ when stale; returns whether it built. */
export async function ensureBuilt(root: string): Promise<boolean> {
  if (!distIsStale(root)) return false;
  try {
    await execFileAsync('npm', ['run', 'build'], { cwd: root, timeout: 300_000, maxBuffer: 16 << 20 });
  } catch (err) {
    const out =
      typeof err === 'object' && err !== null && 'stdout' in err ? String(err.stdout).slice(-4000) : '';
    throw new MeshError('BENCH_BUILD', `npm run build failed before the l7 benchmark:\n${out}`, {
      hint: 'fix the compile errors (npx tsc -p tsconfig.build.json), then rerun the benchmark',
      cause: err,
    });
  }
  return true;
}
