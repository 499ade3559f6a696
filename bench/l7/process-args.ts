/**
 * Flags and identity files of the bench's helper processes (`*-main.ts`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import {
  parseAuthority,
  type HboneClientTls,
  type HboneTlsMaterial,
  type HostPort,
} from '../../common/hbone/index.ts';
import { MeshError } from '../../common/errors.ts';
import type { TrustBundle } from '../../certs/index.ts';
import { benchId, tlsMaterial } from './identities.ts';

/** Parses `--name value` flags; every name in `required` must be present. */
export function readArgs<K extends string>(
  required: readonly K[],
  optional: readonly string[] = [],
): Record<K, string> & Partial<Record<string, string>> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: Object.fromEntries([...required, ...optional].map((n) => [n, { type: 'string' as const }])),
  });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') out[k] = v;
  const missing = required.filter((k) => out[k] === undefined);
  if (missing.length > 0)
    throw new MeshError('BENCH_ARGS', `missing flag(s): ${missing.map((m) => `--${m}`).join(' ')}`);
  return out;
}

/** Reads the identity files written by `writeIdentities` for service account `sa`. */
export function readIdentity(
  dir: string,
  sa: string,
): { server: HboneTlsMaterial; client: HboneClientTls; bundle: TrustBundle } {
  const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
  return tlsMaterial(benchId(sa), {
    cert: read(`${sa}.crt`),
    key: read(`${sa}.key`),
    ca: read(`${sa}-ca.crt`),
  });
}

/** `HOST:PORT` of flag `--flag`; throws `BENCH_ARGS` when it is not one. */
export function addressArg(flag: string, text: string): HostPort {
  const hp = parseAuthority(text);
  if (hp === undefined)
    throw new MeshError('BENCH_ARGS', `--${flag} must be HOST:PORT, got ${JSON.stringify(text)}`);
  return hp;
}
