#!/usr/bin/env node
// The `waymesh` executable: loads the TypeScript CLI through tsx's ESM loader.
import { register } from 'tsx/esm/api';

register();
const { main, stdio } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2), stdio);
