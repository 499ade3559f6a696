/**
 * Defensive readers for the untrusted objects of the World (world.ts: every field may be missing
 * or malformed, even where client-node's types say otherwise). They never throw: a value of the
 * wrong type reads as absent.
 */
import { isIP } from 'node:net';

/** A JSON object, or undefined when `v` is not one. */
export function obj(v: unknown): Readonly<Record<string, unknown>> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Readonly<Record<string, unknown>>)
    : undefined;
}

/** A JSON array, or an empty list when `v` is not one. */
export function list(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? (v as readonly unknown[]) : [];
}

/** A non-empty string, or undefined. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** An integer, or undefined (floats and numeric strings are not integers here). */
export function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

/** A TCP/UDP port number (1–65535), or undefined. */
export function portNumber(v: unknown): number | undefined {
  const n = int(v);
  return n !== undefined && n >= 1 && n <= 65535 ? n : undefined;
}

/** A string map with only string values kept, keys sorted (labels, selectors). */
export function stringMap(v: unknown): Readonly<Record<string, string>> {
  const o = obj(v) ?? {};
  const out: Record<string, string> = {};
  for (const k of Object.keys(o).sort()) {
    const value = o[k];
    if (typeof value === 'string') out[k] = value;
  }
  return out;
}

/** The object's metadata fields the directory uses. */
export interface Meta {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly generation: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly deleting: boolean;
}

/** Reads `metadata`; undefined when the object has no name. */
export function meta(o: unknown): Meta | undefined {
  const m = obj(obj(o)?.['metadata']);
  const name = str(m?.['name']);
  if (m === undefined || name === undefined) return undefined;
  return {
    name,
    namespace: str(m['namespace']) ?? '',
    uid: str(m['uid']) ?? '',
    generation: int(m['generation']) ?? 0,
    labels: stringMap(m['labels']),
    deleting: m['deletionTimestamp'] !== undefined && m['deletionTimestamp'] !== null,
  };
}

/** IP family of an address, or undefined when it is not an IP literal. */
export function ipFamily(ip: string): 'IPv4' | 'IPv6' | undefined {
  const v = isIP(ip);
  return v === 4 ? 'IPv4' : v === 6 ? 'IPv6' : undefined;
}

/** The valid IP literals of a list, first occurrence kept, order preserved. */
export function ipList(values: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (typeof v === 'string' && ipFamily(v) !== undefined && !out.includes(v)) out.push(v);
  }
  return out;
}
