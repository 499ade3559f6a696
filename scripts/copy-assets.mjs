#!/usr/bin/env node
// After `tsc` emits dist/, copies the non-TypeScript files the compiled code loads at run time:
// the .proto files, the native addon and the manifests (`waymesh install` applies install.yaml).
import { cpSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const assets = [
  'common/proto',
  'lab/otlp/proto',
  'node-agent/native/build/Release/waymesh_native.node',
  'manifests',
];
for (const rel of assets) {
  const from = join(root, rel);
  if (!existsSync(from)) {
    console.error(`waymesh: ${rel} is missing; run npm run build:native first`);
    process.exit(1);
  }
  cpSync(from, join(root, 'dist', rel), { recursive: true });
}
