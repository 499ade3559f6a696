/**
 * Precompiled matchers for AuthorizationPolicy value sets (issue 5 §3). Globs are turned into
 * plain prefix/suffix lists once per snapshot, so matching a connection never compiles a regex
 * and allocates nothing.
 */
import { MeshError } from '../../common/errors.ts';
import type { MatchSet } from '../../common/ir/index.ts';

/** A compiled list of strings: `*`, `prefix*`, `*suffix` and exact values. */
export interface StringMatcher {
  /** True when the list holds `*` (any present value matches). */
  readonly any: boolean;
  readonly exact: ReadonlySet<string>;
  readonly prefixes: readonly string[];
  readonly suffixes: readonly string[];
}

/** A compiled MatchSet of strings; an undefined side puts no constraint. */
export interface CompiledStringSet {
  readonly values: StringMatcher | undefined;
  readonly not: StringMatcher | undefined;
}

/** A compiled MatchSet of ports; an undefined side puts no constraint. */
export interface CompiledPortSet {
  readonly values: ReadonlySet<number> | undefined;
  readonly not: ReadonlySet<number> | undefined;
}

/** Compiles a list of values (Istio glob forms) into a matcher; undefined for an empty list. */
export function compileStrings(list: readonly string[]): StringMatcher | undefined {
  if (list.length === 0) return undefined;
  let any = false;
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  for (const v of list) {
    if (v === '*') any = true;
    else if (v.endsWith('*')) prefixes.push(v.slice(0, -1));
    else if (v.startsWith('*')) suffixes.push(v.slice(1));
    else exact.add(v);
  }
  return Object.freeze({
    any,
    exact,
    prefixes: Object.freeze(prefixes),
    suffixes: Object.freeze(suffixes),
  });
}

/** True when `value` matches one entry of `m`. */
export function matchesString(m: StringMatcher, value: string): boolean {
  if (m.any || m.exact.has(value)) return true;
  for (const p of m.prefixes) if (value.startsWith(p)) return true;
  for (const s of m.suffixes) if (value.endsWith(s)) return true;
  return false;
}

/**
 * True when `value` satisfies the set: it matches `values` (when set) and not `not`. An absent
 * value (a plaintext peer has no principal or namespace) never matches `values` and is never
 * excluded by `not`, as Envoy's authenticated-principal matcher behaves.
 */
export function inStringSet(set: CompiledStringSet, value: string | undefined): boolean {
  if (set.values !== undefined && (value === undefined || !matchesString(set.values, value))) return false;
  if (set.not !== undefined && value !== undefined && matchesString(set.not, value)) return false;
  return true;
}

/** True when `port` satisfies the set. */
export function inPortSet(set: CompiledPortSet, port: number): boolean {
  if (set.values !== undefined && !set.values.has(port)) return false;
  if (set.not !== undefined && set.not.has(port)) return false;
  return true;
}

/** True when a MatchSet puts any constraint. */
export function isUsed(m: MatchSet): boolean {
  return m.values.length > 0 || m.not.length > 0;
}

/** Compiles a MatchSet of strings. */
export function compileStringSet(m: MatchSet): CompiledStringSet {
  return Object.freeze({ values: compileStrings(m.values), not: compileStrings(m.not) });
}

function compilePorts(list: readonly string[], where: string): ReadonlySet<number> | undefined {
  if (list.length === 0) return undefined;
  const out = new Set<number>();
  for (const text of list) {
    const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      throw new MeshError(
        'NODE_SNAPSHOT_INVALID',
        `${where}: port ${JSON.stringify(text)} is not a number from 1 to 65535`,
        {
          hint: 'the controller validates policy ports; check that controller and node agent versions match',
        },
      );
    }
    out.add(port);
  }
  return out;
}

/** Compiles a MatchSet of ports (decimal strings); throws `NODE_SNAPSHOT_INVALID` on a bad one. */
export function compilePortSet(m: MatchSet, where: string): CompiledPortSet {
  return Object.freeze({ values: compilePorts(m.values, where), not: compilePorts(m.not, where) });
}
