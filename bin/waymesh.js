#!/usr/bin/env node
// The `waymesh` executable: loads the TypeScript CLI through tsx's ESM loader, or, with
// WAYMESH_COMPILED=1, the JavaScript `npm run build` wrote under dist/ (lab/programs.ts).
import { existsSync } from 'node:fs';

const compiled = process.env.WAYMESH_COMPILED === '1';
const entry = new URL(compiled ? '../dist/cli/main.js' : '../cli/main.ts', import.meta.url);
if (compiled && !existsSync(entry)) {
  console.error('waymesh: WAYMESH_COMPILED=1 runs dist/, which is not built (run `npm run build`)');
  process.exit(1);
}
if (!compiled) {
  const { register } = await import('tsx/esm/api');
  register();
}
const { main, stdio } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2), stdio);
