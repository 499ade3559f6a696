#!/usr/bin/env node
// Builds the node-agent's N-API addon with node-gyp. Run by `npm ci`/`npm install` through the
// root package's own `install` script (npm 11 does not run dependencies' install scripts, but it
// does run the project's own). `--force` rebuilds even when the .node file is newer than its sources.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = join(root, 'node-agent', 'native');
const out = join(dir, 'build', 'Release', 'waymesh_native.node');
const force = process.argv.includes('--force');

function newestSource() {
  const files = ['binding.gyp', ...readdirSync(join(dir, 'src')).map((f) => join('src', f))];
  return Math.max(...files.map((f) => statSync(join(dir, f)).mtimeMs));
}

if (!existsSync(join(dir, 'binding.gyp'))) {
  console.error(`waymesh: ${dir}/binding.gyp is missing; the checkout is incomplete`);
  process.exit(1);
}
if (!force && existsSync(out) && statSync(out).mtimeMs >= newestSource()) {
  process.exit(0);
}

// Prefer the project's pinned node-gyp; fall back to the one npm bundles (for --omit=dev installs).
let gyp;
try {
  gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  gyp = process.env.npm_config_node_gyp;
}
if (!gyp) {
  console.error('waymesh: node-gyp not found; install dev dependencies or run through npm');
  process.exit(1);
}
// Build against the headers of the running Node when they are installed beside it (Debian's
// nodejs ships them in /usr/include/node), so no header download is ever attempted.
const args = [gyp, 'rebuild', '--directory', dir];
const prefix = dirname(dirname(process.execPath));
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
const res = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (res.status !== 0) {
  console.error('waymesh: building the native addon failed (needs python3, make and g++ with Node headers)');
  process.exit(res.status ?? 1);
}
