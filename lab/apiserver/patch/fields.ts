/**
 * FieldsV1 field sets for server-side apply: the tree `metadata.managedFields[].fieldsV1`
 * holds (`f:<field>` for map keys, `k:{"name":"x"}` for list items by merge key, `v:<value>`
 * for items of primitive sets, `.` for "the node itself"), plus the path operations apply needs:
 * leaves of a set, reading and deleting the value a path names. Pure.
 */
import type { Json, JsonObject } from '../types.ts';
import { isObject, isPrimitive, jsonIdentity, ownValue, setKey } from './json.ts';
import { applyKeys, fieldMeta, keyValue, mergesLists } from './metadata.ts';

/** A path through an object as FieldsV1 element strings, e.g. `['f:spec', 'f:replicas']`. */
export type FieldPath = readonly string[];

/** Object-valued fields that are maps (their existence is owned, marked with `.`), not structs. */
const GRANULAR_MAPS: ReadonlySet<string> = new Set([
  'labels',
  'annotations',
  'matchLabels',
  'nodeSelector',
  'data',
  'binaryData',
  'stringData',
  'limits',
  'requests',
]);

/** The field set `value` covers; `type` is its patch-metadata struct (undefined: lists atomic). */
export function fieldSetOf(value: JsonObject, type: string | undefined): JsonObject {
  const set: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    const meta = fieldMeta(type, k);
    if (isObject(v) && Object.keys(v).length > 0) {
      const child = fieldSetOf(v, meta.type);
      set[`f:${k}`] = GRANULAR_MAPS.has(k) ? { '.': {}, ...child } : child;
    } else if (Array.isArray(v) && mergesLists(meta) && v.length > 0) {
      const items: JsonObject = {};
      const keys = applyKeys(meta);
      for (const item of v) {
        if (keys === undefined) {
          if (isPrimitive(item)) items[`v:${JSON.stringify(item)}`] = {};
        } else if (isObject(item)) {
          items[itemKey(keys, item)] = { '.': {}, ...fieldSetOf(item, meta.type) };
        }
      }
      set[`f:${k}`] = items;
    } else {
      set[`f:${k}`] = {};
    }
  }
  return set;
}

/** The `k:{...}` element of a list item identified by the (sorted) key fields `keys`. */
export function itemKey(keys: readonly string[], item: JsonObject): string {
  return `k:${JSON.stringify(Object.fromEntries(keys.map((k) => [k, keyValue(item, k)])))}`;
}

/** Every leaf path of a field set (`.` markers included, as their own last element). */
export function leaves(set: JsonObject, prefix: FieldPath = []): FieldPath[] {
  const out: FieldPath[] = [];
  for (const [el, child] of Object.entries(set)) {
    const path = [...prefix, el];
    if (el === '.' || !isObject(child) || Object.keys(child).length === 0) out.push(path);
    else out.push(...leaves(child, path));
  }
  return out;
}

/** A field set holding exactly `paths`. */
export function setOf(paths: readonly FieldPath[]): JsonObject {
  const root: JsonObject = {};
  for (const path of paths) {
    let node = root;
    for (const el of path) {
      const next = ownValue(node, el);
      const child: JsonObject = isObject(next) ? next : {};
      setKey(node, el, child);
      node = child;
    }
  }
  return root;
}

/** Stable string form of a path, for set membership. */
export function pathId(path: FieldPath): string {
  return JSON.stringify(path);
}

/** Kubernetes' display form of a path: `.spec.containers[name="web"].image`. */
export function showPath(path: FieldPath): string {
  return path
    .filter((el) => el !== '.')
    .map((el) => {
      if (el.startsWith('f:')) return `.${el.slice(2)}`;
      if (el.startsWith('v:')) return `[=${el.slice(2)}]`;
      const key = JSON.parse(el.slice(2)) as JsonObject;
      return `[${Object.entries(key)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',')}]`;
    })
    .join('');
}

/**
 * Reads the value a path names inside a root (undefined when absent), for objects that do not
 * change while the reader is used: list items are found through an index built once per list
 * and element form, not by a scan per lookup (a 3 MiB apply holds ~100,000 list items).
 * `indexIn` is the first place of a `k:`/`v:` element.
 */
export interface PathReader {
  (root: Json, path: FieldPath): Json | undefined;
  indexIn(list: Json[], el: string): number;
}

/** A new {@link PathReader}; drop it once any list it read may have changed. */
export function pathReader(): PathReader {
  const indexes = new WeakMap<Json[], Map<string, Map<string, number>>>();
  const indexIn = (list: Json[], el: string): number => {
    let forms = indexes.get(list);
    if (forms === undefined) indexes.set(list, (forms = new Map<string, Map<string, number>>()));
    const value = JSON.parse(el.slice(2)) as Json;
    const keyed = el.startsWith('k:');
    // A malformed `k:` element (from stored managedFields) names no item.
    if (keyed && !isObject(value)) return -1;
    // `v:` items are matched whole; `k:` items on the key fields the element names.
    const names = keyed && isObject(value) ? Object.keys(value).sort() : undefined;
    const project = (item: Json): string | undefined => {
      if (names === undefined) return jsonIdentity(item);
      if (!isObject(item)) return undefined;
      return jsonIdentity(Object.fromEntries(names.map((n) => [n, ownValue(item, n) ?? null])));
    };
    const form = names === undefined ? 'v' : `k${JSON.stringify(names)}`;
    let index = forms.get(form);
    if (index === undefined) {
      index = new Map();
      for (let i = 0; i < list.length; i++) {
        const item = list[i] as Json;
        // A missing key field never matches (jsonEqual(undefined, v) is false for JSON values).
        if (names !== undefined && isObject(item) && names.some((n) => ownValue(item, n) === undefined))
          continue;
        const id = project(item);
        if (id !== undefined && !index.has(id)) index.set(id, i);
      }
      forms.set(form, index);
    }
    const id = names === undefined ? jsonIdentity(value) : project(value);
    return id === undefined ? -1 : (index.get(id) ?? -1);
  };
  const read = ((root: Json, path: FieldPath): Json | undefined => {
    let node: Json | undefined = root;
    for (const el of path) {
      if (el === '.') break;
      if (el.startsWith('f:')) node = isObject(node) ? ownValue(node, el.slice(2)) : undefined;
      else if (Array.isArray(node)) {
        const at = indexIn(node, el);
        node = at >= 0 ? node[at] : undefined;
      } else node = undefined;
      if (node === undefined) return undefined;
    }
    return node;
  }) as PathReader;
  read.indexIn = indexIn;
  return read;
}

/**
 * Deletes what each of `paths` names from `root` (mutating it; callers pass their own copy).
 * Maps the deletions leave empty are removed too (list items included), except top-level
 * fields such as `metadata`. In time linear in the paths: map keys are deleted at once, list
 * items marked and filtered out of each list in one pass at the end, and the maps left empty
 * removed after, each checked once — checking a map's emptiness reads all its keys, and
 * removing list items one by one shifted the list each time.
 */
export function deleteAll(root: JsonObject, paths: readonly FieldPath[]): void {
  // Lists change only in the last step, so one reader serves throughout.
  const read = pathReader();
  const dropItems = new Map<Json[], Set<number>>();
  const remove = (parent: Json | undefined, el: string): boolean => {
    if (el.startsWith('f:')) {
      if (!isObject(parent)) return false;
      delete parent[el.slice(2)];
      return true;
    }
    if (!Array.isArray(parent)) return false;
    const at = read.indexIn(parent, el);
    if (at < 0) return false;
    const set = dropItems.get(parent);
    if (set === undefined) dropItems.set(parent, new Set([at]));
    else set.add(at);
    return true;
  };
  const parents = new Map<string, FieldPath>();
  for (const path of paths) {
    const target = path[path.length - 1] === '.' ? path.slice(0, -1) : path;
    const last = target[target.length - 1];
    // Nothing happens when the path's parent is missing; otherwise maps left empty go too, up
    // to (not including) the top-level fields.
    if (last === undefined || !remove(read(root, target.slice(0, -1)), last)) continue;
    for (let k = target.length - 1; k >= 2; k--) parents.set(pathId(target.slice(0, k)), target.slice(0, k));
  }
  const deepestFirst = [...parents.values()].sort((a, b) => b.length - a.length);
  for (const node of deepestFirst) {
    const value = read(root, node);
    if (!isObject(value) || Object.keys(value).length > 0) continue;
    const last = node[node.length - 1];
    if (last !== undefined) remove(read(root, node.slice(0, -1)), last);
  }
  for (const [list, drop] of dropItems) {
    let w = 0;
    for (let i = 0; i < list.length; i++) if (!drop.has(i)) list[w++] = list[i] as Json;
    list.length = w;
  }
}
