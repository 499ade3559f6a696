/**
 * Defensive readers for the untrusted JSON of policy objects (world.ts: any field may be missing
 * or malformed), and the small Result type the policy readers return. Nothing here throws.
 */
import type { CustomObject } from '../world.ts';

/** A JSON object, or undefined when `v` is not one. */
export function obj(v: unknown): Readonly<Record<string, unknown>> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Readonly<Record<string, unknown>>)
    : undefined;
}

/** A string, or undefined. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A rejected piece of user input: the field path and an operator-facing message. */
export interface Invalid {
  readonly field: string;
  readonly message: string;
}

/** The outcome of reading one piece of user input. */
export type Result<T> = { readonly ok: true; readonly value: T } | ({ readonly ok: false } & Invalid);

/** A successful Result. */
export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** A failed Result for `field`. */
export function invalid<T>(field: string, message: string): Result<T> {
  return { ok: false, field, message };
}

/** An optional list at `field`: absent or null reads as empty, anything else but a list fails. */
export function optionalList(v: unknown, field: string): Result<readonly unknown[]> {
  if (v === undefined || v === null) return ok([]);
  return Array.isArray(v) ? ok(v as readonly unknown[]) : invalid(field, 'must be a list');
}

/** An optional list of strings at `field`, each checked by `check` (which returns a normalized value or an error). */
export function stringList(
  v: unknown,
  field: string,
  check: (s: string) => string | { readonly error: string },
): Result<readonly string[]> {
  const items = optionalList(v, field);
  if (!items.ok) return items;
  const out: string[] = [];
  for (const [i, item] of items.value.entries()) {
    const at = `${field}[${i}]`;
    if (typeof item !== 'string') return invalid(at, 'must be a string');
    const checked = check(item);
    if (typeof checked !== 'string') return invalid(at, `${JSON.stringify(item)}: ${checked.error}`);
    if (!out.includes(checked)) out.push(checked);
  }
  return ok(out);
}

/** Identity of a policy object as read from its metadata (undefined when unusable). */
export interface PolicyMeta {
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  /** ISO timestamp, `''` when missing: older objects sort first, missing ones last among equals. */
  readonly created: string;
}

/** Reads metadata; an object without a namespace or name cannot carry status and is skipped. */
export function policyMeta(o: CustomObject): PolicyMeta | undefined {
  const m = obj(o.metadata);
  const namespace = str(m?.['namespace']);
  const name = str(m?.['name']);
  if (namespace === undefined || namespace === '' || name === undefined || name === '') return undefined;
  const gen = m?.['generation'];
  const created = m?.['creationTimestamp'];
  return {
    namespace,
    name,
    generation: typeof gen === 'number' && Number.isInteger(gen) && gen >= 0 ? gen : 0,
    created:
      typeof created === 'string'
        ? created
        : created instanceof Date && !Number.isNaN(created.getTime())
          ? created.toISOString()
          : '',
  };
}

/** Orders policies oldest first (GEP-713 conflict resolution), then by namespace/name. */
export function olderFirst(a: PolicyMeta, b: PolicyMeta): number {
  if (a.created !== b.created) {
    if (a.created === '') return 1;
    if (b.created === '') return -1;
    return a.created < b.created ? -1 : 1;
  }
  return compare(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`);
}

/** Locale-independent string comparison for deterministic sorting. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
