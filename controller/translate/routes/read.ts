/**
 * Defensive readers for the untrusted JSON of Gateway API objects (world.ts: every field may be
 * missing or malformed). They never throw: a value of the wrong type reads as absent.
 */

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

/** A string, or undefined. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** An integer, or undefined (floats and numeric strings are not integers here). */
export function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

/** The outcome of reading one piece of user input: a value, or why it was rejected. */
export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string; readonly message: string };

/** A successful Result. */
export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** A failed Result with a Gateway API reason and an operator-facing message. */
export function fail<T>(reason: string, message: string): Result<T> {
  return { ok: false, reason, message };
}

/** True when `source` compiles as a JavaScript regular expression (what the waypoint runs). */
export function compiles(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

const DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const PART = /([0-9]{1,5})(ms|h|m|s)/g;
const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Milliseconds of a Gateway API Duration (GEP-2257, e.g. `1m30s`), or undefined when malformed. */
export function durationMs(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(PART)) total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  return total;
}
