/**
 * The mesh's processes are benchmarked as they ship: compiled JavaScript, what the production
 * image runs (`dist/`), never through the TypeScript loader (tsx alone adds ~35 MB of RSS and
 * slows start-up). {@link ensureBuilt} runs `npm run build` plus the benchmark's own entry points
 * (`tsconfig.bench.json`: the l4 agent process, the l7 helpers) when dist/ is missing or older
 * than any TypeScript source they are compiled from.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { MeshError } from '../common/errors.ts';

const execFileAsync = promisify(execFile);

/** Compiled entry points the benchmarks start, relative to the repository root. */
export const BENCH_JS = {
  waypoint: 'dist/waypoint/main.js',
  l4Agent: 'dist/bench/l4/agent-process.js',
  l4Relay: 'dist/bench/l4/relay-process.js',
  l7Engine: 'dist/bench/l7/engine-main.js',
  l7Forwarder: 'dist/bench/l7/forwarder-main.js',
  l7Endpoint: 'dist/bench/l7/endpoint-main.js',
  l7OpenLoop: 'dist/bench/l7/openloop-main.js',
  l7NodeHttp: 'dist/bench/l7/node-http-main.js',
} as const;

/** Source folders those files are compiled from. */
const SOURCES = ['waypoint', 'node-agent', 'common', 'certs', 'bench'];

function newestTs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'build' && entry.name !== 'results') newest = Math.max(newest, newestTs(path));
    } else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** True when a compiled entry point is missing or older than a source it may be built from. */
export function distIsStale(root: string): boolean {
  const built = Object.values(BENCH_JS).map((rel) => {
    const path = join(root, rel);
    return existsSync(path) ? statSync(path).mtimeMs : 0;
  });
  const oldest = Math.min(...built);
  return oldest === 0 || SOURCES.some((dir) => newestTs(join(root, dir)) > oldest);
}

async function run(root: string, command: string, args: string[]): Promise<void> {
  try {
    await execFileAsync(command, args, { cwd: root, timeout: 300_000, maxBuffer: 16 << 20 });
  } catch (err) {
    const out =
      typeof err === 'object' && err !== null && 'stdout' in err ? String(err.stdout).slice(-4000) : '';
    throw new MeshError('BENCH_BUILD', `${command} ${args.join(' ')} failed before the benchmark:\n${out}`, {
      hint: 'fix the compile errors (npx tsc -p tsconfig.bench.json), then rerun the benchmark',
      cause: err,
    });
  }
}

/** Builds dist/ and the benchmark entry points when stale; returns whether it built. */
export async function ensureBuilt(root: string): Promise<boolean> {
  if (!distIsStale(root)) return false;
  await run(root, 'npm', ['run', 'build']);
  await run(root, process.execPath, [
    join(root, 'node_modules/typescript/bin/tsc'),
    '-p',
    'tsconfig.bench.json',
  ]);
  return true;
}
