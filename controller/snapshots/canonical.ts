/**
 * Canonical JSON and content versions of snapshots (DESIGN.md §5): object keys sorted, no
 * whitespace, `undefined` members dropped exactly as JSON.stringify drops them. Equal content
 * gives an equal string whatever order the keys were written in.
 */
import { createHash, type Hash } from 'node:crypto';

/**
 * Memo of canonical strings by object identity. One build passes the same memo to every
 * snapshot so a Service or Workload shared by a thousand node snapshots is serialised once.
 */
export type CanonicalMemo = WeakMap<object, string>;

/** The canonical JSON text of `value` (what JSON.stringify gives, with sorted object keys). */
export function canonicalJson(value: unknown, memo?: CanonicalMemo): string {
  return encode(value, memo) ?? 'null';
}

/** Encodes one value; `undefined` when JSON would omit it (undefined, functions, symbols). */
function encode(value: unknown, memo: CanonicalMemo | undefined): string | undefined {
  if (value === null) return 'null';
  if (typeof value !== 'object') {
    if (typeof value === 'bigint') return value.toString();
    return JSON.stringify(value);
  }
  const cached = memo?.get(value);
  if (cached !== undefined) return cached;
  let text: string;
  if (Array.isArray(value)) {
    text = `[${value.map((v: unknown) => encode(v, memo) ?? 'null').join(',')}]`;
  } else {
    const record = value as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const inner = encode(record[key], memo);
      if (inner !== undefined) parts.push(`${JSON.stringify(key)}:${inner}`);
    }
    text = `{${parts.join(',')}}`;
  }
  memo?.set(value, text);
  return text;
}

/**
 * sha256 (lowercase hex) of the canonical JSON of `value`: the version of a snapshot body.
 * The outer object and its lists are streamed into the hash rather than joined into one string:
 * a node snapshot of a large cluster is megabytes, and only its elements are worth memoising.
 */
export function contentVersion(value: unknown, memo?: CanonicalMemo): string {
  const hash = createHash('sha256');
  feed(hash, value, memo, 0);
  return hash.digest('hex');
}

/** Streams `value` into `hash`: the first two levels piece by piece, deeper values via the memo. */
function feed(hash: Hash, value: unknown, memo: CanonicalMemo | undefined, depth: number): void {
  if (depth >= 2 || value === null || typeof value !== 'object') {
    hash.update(canonicalJson(value, memo));
    return;
  }
  if (Array.isArray(value)) {
    hash.update('[');
    value.forEach((v: unknown, i) => {
      if (i > 0) hash.update(',');
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') hash.update('null');
      else feed(hash, v, memo, depth + 1);
    });
    hash.update(']');
    return;
  }
  const record = value as Record<string, unknown>;
  hash.update('{');
  let first = true;
  for (const key of Object.keys(record).sort()) {
    const inner = record[key];
    if (inner === undefined || typeof inner === 'function' || typeof inner === 'symbol') continue;
    if (!first) hash.update(',');
    first = false;
    hash.update(`${JSON.stringify(key)}:`);
    feed(hash, inner, memo, depth + 1);
  }
  hash.update('}');
}
