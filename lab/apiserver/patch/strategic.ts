/**
 * Strategic merge patch (`application/strategic-merge-patch+json`) for built-in kinds, after
 * k8s.io/apimachinery/pkg/util/strategicpatch: maps merge recursively, `null` deletes a key,
 * lists merge by their patch merge key (or as a set of primitives) when the field's strategy is
 * `merge` and are replaced otherwise. Directives: `$patch: replace|merge|delete` on maps and
 * list elements, `$retainKeys`, `$deleteFromPrimitiveList/<field>` and
 * `$setElementOrder/<field>`. Kinds without patch metadata behave as a JSON merge patch in
 * which list directives are refused. Pure: inputs are never mutated.
 */
import { ApiError } from '../types.ts';
import type { Json, JsonObject } from '../types.ts';
import { cloneJson, isObject, isPrimitive, jsonIdentity as identity, ownValue, setKey } from './json.ts';
import { fieldMeta, mergesLists, rootType } from './metadata.ts';
import type { FieldPatchMeta } from './metadata.ts';

const DELETE_PREFIX = '$deleteFromPrimitiveList/';
const ORDER_PREFIX = '$setElementOrder/';
const DELETED = Symbol('deleted');

function bad(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

/** Applies strategic merge patch `patch` to `live`, an object of built-in `kind`. */
export function strategicMergePatch(live: Json, patch: Json, kind: string): Json {
  if (!isObject(patch)) throw bad('strategic merge patch must be a JSON object');
  const merged = mergeMap(isObject(live) ? live : {}, patch, rootType(kind), '');
  if (merged === DELETED) throw bad('$patch: delete is not allowed at the root of a patch');
  return merged;
}

function directive(patch: JsonObject, path: string): 'replace' | 'merge' | 'delete' | undefined {
  const d = patch['$patch'];
  if (d === undefined) return undefined;
  if (d === 'replace' || d === 'merge' || d === 'delete') return d;
  throw bad(`unknown patch type: ${JSON.stringify(d)} in map at ${path || '<root>'}`);
}

function stringList(value: Json | undefined, what: string): string[] {
  if (!Array.isArray(value)) throw bad(`${what} must be a list of strings`);
  return value.map((v) => {
    if (typeof v !== 'string') throw bad(`${what} must be a list of strings`);
    return v;
  });
}

function mergeMap(
  original: JsonObject,
  patch: JsonObject,
  type: string | undefined,
  path: string,
): JsonObject | typeof DELETED {
  const d = directive(patch, path);
  if (d === 'delete') return DELETED;
  if (d === 'replace') {
    const { $patch: _ignored, ...rest } = patch;
    const replaced = mergeMap({}, rest, type, path);
    return replaced === DELETED ? {} : replaced;
  }
  let result: JsonObject = cloneJson(original);
  const keys = Object.keys(patch).filter((k) => !k.startsWith('$'));
  if (patch['$retainKeys'] !== undefined) {
    const retain = stringList(patch['$retainKeys'], `$retainKeys at ${path || '<root>'}`);
    const missing = keys.find((k) => !retain.includes(k));
    if (missing !== undefined) throw bad(`${path}.${missing} is not present in the $retainKeys list`);
    result = Object.fromEntries(Object.entries(result).filter(([k]) => retain.includes(k)));
  }
  for (const k of Object.keys(patch)) {
    if (!k.startsWith(DELETE_PREFIX)) continue;
    const field = k.slice(DELETE_PREFIX.length);
    const drop = patch[k];
    if (!Array.isArray(drop)) throw bad(`${k} must be a list`);
    const current = ownValue(result, field);
    if (current === undefined) continue;
    if (!Array.isArray(current) || !current.every(isPrimitive)) {
      throw bad(`${k}: ${path}.${field} is not a list of primitives`);
    }
    const dropped = new Set(drop.map(identity));
    setKey(
      result,
      field,
      current.filter((v) => !dropped.has(identity(v))),
    );
  }
  for (const k of keys) {
    const pv = patch[k] as Json;
    const meta = fieldMeta(type, k);
    const sub = `${path}.${k}`;
    if (pv === null) {
      delete result[k];
    } else if (isObject(pv)) {
      const ov = ownValue(result, k);
      const merged = mergeMap(isObject(ov) ? ov : {}, pv, meta.type, sub);
      if (merged === DELETED) delete result[k];
      else setKey(result, k, merged);
    } else if (Array.isArray(pv)) {
      const ov = ownValue(result, k);
      setKey(result, k, mergeList(Array.isArray(ov) ? ov : [], pv, meta, sub));
    } else {
      setKey(result, k, pv);
    }
  }
  for (const k of Object.keys(patch)) {
    if (k.startsWith(ORDER_PREFIX)) {
      const field = k.slice(ORDER_PREFIX.length);
      const order = patch[k];
      if (!Array.isArray(order)) throw bad(`${k} must be a list`);
      const current = ownValue(result, field);
      if (Array.isArray(current)) {
        const sorted = applyOrder(
          current,
          asList(ownValue(original, field)),
          order,
          fieldMeta(type, field),
          `${path}.${field}`,
        );
        setKey(result, field, sorted);
      }
    } else if (k.startsWith('$') && k !== '$patch' && k !== '$retainKeys' && !k.startsWith(DELETE_PREFIX)) {
      throw bad(`unknown directive ${k} at ${path || '<root>'}`);
    }
  }
  return result;
}

function asList(value: Json | undefined): Json[] {
  return Array.isArray(value) ? value : [];
}

/** Lists of a field whose strategy is not `merge` replace; directives inside them are refused. */
function replaceList(patch: Json[], path: string): Json[] {
  for (const el of patch) {
    if (isObject(el) && el['$patch'] !== undefined) {
      throw bad(`$patch directive in ${path}, a list without a patch merge strategy`);
    }
  }
  return cloneJson(patch);
}

function mergeList(original: Json[], patch: Json[], meta: FieldPatchMeta, path: string): Json[] {
  if (!mergesLists(meta)) return replaceList(patch, path);
  const replace = patch.some((el) => isObject(el) && directive(el, path) === 'replace');
  const key = meta.mergeKey;
  if (key === undefined) {
    const values = patch.filter((el) => !(isObject(el) && el['$patch'] !== undefined));
    if (!values.every(isPrimitive))
      throw bad(`${path}: a merging list without a merge key must hold primitives`);
    if (replace) return cloneJson(values);
    const out = [...original];
    const seen = new Set(out.map(identity));
    for (const v of values) {
      const id = identity(v);
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(v);
    }
    return out;
  }
  // Elements are found through a map from merge key to their places, never by scanning the
  // list per patch element: a 3 MiB patch holds ~100,000 elements, and scanning made one
  // request hold the API server for hours. `undefined` marks a deleted place.
  const out: (Json | undefined)[] = replace ? [] : cloneJson(original);
  const places = new Map<string, number[]>();
  const place = (k: string, at: number): void => {
    const list = places.get(k);
    if (list === undefined) places.set(k, [at]);
    else list.push(at);
  };
  out.forEach((o, at) => {
    if (isObject(o) && o[key] !== undefined) place(identity(o[key]), at);
  });
  for (const el of patch) {
    if (!isObject(el)) throw bad(`${path}: list elements must be objects carrying merge key "${key}"`);
    const d = directive(el, path);
    if (d === 'replace') continue;
    const id = el[key];
    if (id === undefined)
      throw bad(`${path}: element ${JSON.stringify(el)} does not contain declared merge key: ${key}`);
    const idKey = identity(id);
    const at = places.get(idKey)?.[0];
    if (d === 'delete') {
      for (const i of places.get(idKey) ?? []) out[i] = undefined;
      places.delete(idKey);
      continue;
    }
    const base = at === undefined ? undefined : out[at];
    const merged = mergeMap(
      isObject(base) ? base : {},
      el,
      meta.type,
      `${path}[${key}=${JSON.stringify(id)}]`,
    );
    if (merged === DELETED) continue;
    if (at !== undefined) out[at] = merged;
    else {
      place(idKey, out.length);
      out.push(merged);
    }
  }
  return out.filter((o): o is Json => o !== undefined);
}

/**
 * `$setElementOrder/<field>`: listed elements follow the given order; elements only the server
 * has keep their position relative to the original list (strategicpatch's mergeSortedSlice).
 */
function applyOrder(
  merged: Json[],
  original: Json[],
  order: Json[],
  meta: FieldPatchMeta,
  path: string,
): Json[] {
  if (!mergesLists(meta)) throw bad(`$setElementOrder for ${path}, a list without a patch merge strategy`);
  const key = meta.mergeKey;
  const idOf = (el: Json | undefined): Json | undefined =>
    key === undefined ? el : isObject(el) ? el[key] : undefined;
  // First places by identity, as findIndex would give them, built once (see mergeList).
  const firstPlaces = (list: Json[]): Map<string, number> => {
    const m = new Map<string, number>();
    list.forEach((o, i) => {
      const k = identity(idOf(o));
      if (!m.has(k)) m.set(k, i);
    });
    return m;
  };
  const inOrder = firstPlaces(order);
  const inOriginal = firstPlaces(original);
  const indexIn = (m: Map<string, number>, el: Json): number => m.get(identity(idOf(el))) ?? -1;
  const ordered = merged
    .filter((el) => indexIn(inOrder, el) >= 0)
    .sort((a, b) => indexIn(inOrder, a) - indexIn(inOrder, b));
  const serverOnly = merged.filter((el) => indexIn(inOrder, el) < 0);
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < ordered.length) {
    const left = serverOnly[i];
    const right = ordered[j];
    if (right === undefined) out.push(serverOnly[i++] as Json);
    else if (left === undefined) out.push(ordered[j++] as Json);
    else {
      const li = indexIn(inOriginal, left);
      const ri = indexIn(inOriginal, right);
      if (li >= 0 && ri >= 0 && li < ri) out.push(serverOnly[i++] as Json);
      else out.push(ordered[j++] as Json);
    }
  }
  return out;
}
