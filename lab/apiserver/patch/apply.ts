/**
 * Server-side apply, simplified: merges an applied configuration into the live object and keeps
 * `metadata.managedFields` (FieldsV1) so that fields are owned by the managers that set them.
 *
 * - Fields in `applied` are set (maps merge, lists with a patch merge key merge by item, lists
 *   of a `merge` primitive field form a set, every other list is atomic; custom resources have
 *   no patch metadata, so all their lists are atomic).
 * - Fields this manager applied last time but omits now are removed, unless another manager
 *   also owns them.
 * - A field owned by another manager with a different value is a 409 Conflict, unless `force`
 *   (ownership then moves to this manager).
 * - Never set from `applied`: `status` (apply to the main resource leaves it alone) and the
 *   server-owned `metadata.resourceVersion/uid/creationTimestamp/generation/managedFields/
 *   selfLink/deletionTimestamp/deletionGracePeriodSeconds`. `apiVersion`, `kind`,
 *   `metadata.name` and `metadata.namespace` are applied but never owned.
 * - A live object without managedFields is treated as wholly owned by `before-first-apply`
 *   (operation Update), as Kubernetes does. Malformed managedFields entries are dropped.
 * - Manager `kubectl` takes over fields that client-side `kubectl apply` set, as kube does
 *   (see last-applied.ts).
 *
 * Not modelled: struct-vs-map distinctions beyond a fixed list of map fields (`.` markers),
 * item reordering by the applied order, and CR list maps (`x-kubernetes-list-map-keys`).
 */
import { ApiError } from '../types.ts';
import type { Json, JsonObject, KubeObject, ObjectMeta } from '../types.ts';
import { deleteAll, fieldSetOf, itemKey, leaves, pathId, pathReader, setOf, showPath } from './fields.ts';
import type { FieldPath } from './fields.ts';
import { cloneJson, isObject, isPrimitive, jsonEqual, jsonIdentity, ownValue, setKey } from './json.ts';
import { clientSideApplyFields, syncLastApplied, UPGRADING_MANAGER } from './last-applied.ts';
import { applyKeys, fieldMeta, mergesLists, rootType } from './metadata.ts';

/** Options of one apply request. */
export interface ApplyOptions {
  manager: string;
  force: boolean;
  kind: string;
  builtin: boolean;
  /** RFC 3339 time recorded in this manager's managedFields entry. */
  now: string;
}

/** Metadata the server owns: never applied, never in a field set. */
export const SERVER_META: readonly string[] = [
  'resourceVersion',
  'uid',
  'creationTimestamp',
  'generation',
  'managedFields',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
];

/** One readable `managedFields` entry. */
export interface Entry {
  readonly raw: JsonObject;
  readonly manager: string;
  readonly operation: string;
  readonly apiVersion: string;
  readonly subresource: string;
  readonly leaves: FieldPath[];
  /** The live entry this one was derived from (itself unless ownership moved away). */
  readonly origin: JsonObject;
}

/** Applies `applied` (a server-side apply body) on top of `live` for field manager `opts.manager`. */
export function serverSideApply(
  live: KubeObject | undefined,
  applied: KubeObject,
  opts: ApplyOptions,
): KubeObject {
  if (!isObject(applied as unknown as Json) || !isObject(applied.metadata as Json)) {
    throw new ApiError(400, 'BadRequest', 'apply body must be an object with metadata');
  }
  if (opts.manager === '') {
    throw new ApiError(400, 'BadRequest', 'fieldManager is required for apply requests');
  }
  const type = opts.builtin ? rootType(opts.kind) : undefined;
  const config = stripServerFields(applied);
  validateKeys(config, type, '');
  const appliedSet = ownedSet(config, type);
  const appliedLeaves = leaves(appliedSet);
  const mine = (e: Entry): boolean =>
    e.manager === opts.manager && e.operation === 'Apply' && e.subresource === '';

  const entries = live === undefined ? [] : readEntries(live, type, opts.now);
  const others = entries.filter((e) => !mine(e));
  const previous = entries.find(mine);

  // Fields are looked up in sets, never by scanning a manager's fields per applied field: a
  // 3 MiB body holds ~100,000 fields, and scanning held the API server for hours.
  const conflicts: { entry: Entry; path: FieldPath }[] = [];
  if (live !== undefined) {
    const owned = others.map((entry) => ({ entry, ids: new Set(entry.leaves.map(pathId)) }));
    const read = pathReader();
    for (const path of appliedLeaves) {
      if (path[path.length - 1] === '.') continue;
      const id = pathId(path);
      let differs: boolean | undefined;
      for (const { entry, ids } of owned) {
        if (!ids.has(id)) continue;
        differs ??= !jsonEqual(read(live as unknown as Json, path), read(config, path));
        if (differs) conflicts.push({ entry, path });
      }
    }
  }
  if (conflicts.length > 0 && !opts.force) {
    const allowed =
      opts.manager === UPGRADING_MANAGER
        ? clientSideApplyFields(live, (c) => new Set(leaves(ownedSet(c, type)).map(pathId)))
        : undefined;
    const refused = allowed === undefined ? conflicts : conflicts.filter((c) => !allowed.has(pathId(c.path)));
    if (refused.length > 0) throw conflictError(refused);
  }

  const taken = new Set(conflicts.map((c) => pathId(c.path)));
  const kept = others
    .map((e) =>
      taken.size === 0
        ? e
        : withLeaves(
            e,
            e.leaves.filter((p) => !taken.has(pathId(p))),
          ),
    )
    .filter((e) => e.leaves.length > 0);

  const merged = mergeValue(live === undefined ? undefined : stripForMerge(live), config, type) as JsonObject;
  if (previous !== undefined) {
    const now = new Set(appliedLeaves.map(pathId));
    const othersLeaves = kept.flatMap((e) => e.leaves);
    const othersOwn = new Set(othersLeaves.map(pathId));
    // A field stays while another manager owns it or anything under it, or this apply sets
    // something under it.
    const underOthers = ancestorIds(othersLeaves);
    const underApplied = ancestorIds(appliedLeaves);
    const dropped: FieldPath[] = [];
    for (const path of previous.leaves) {
      const id = pathId(path);
      if (now.has(id) || othersOwn.has(id)) continue;
      const node = path[path.length - 1] === '.' ? path.slice(0, -1) : path;
      const nodeId = pathId(node);
      if (underOthers.has(nodeId) || underApplied.has(nodeId)) continue;
      dropped.push(path);
    }
    deleteAll(merged, dropped);
  }

  const entry: JsonObject = {
    manager: opts.manager,
    operation: 'Apply',
    apiVersion: applied.apiVersion,
    time: opts.now,
    fieldsType: 'FieldsV1',
    fieldsV1: appliedSet,
  };
  const managedFields: Json[] = [];
  let placed = false;
  for (const e of entries) {
    if (mine(e)) {
      managedFields.push(entry);
      placed = true;
    } else {
      const k = kept.find((x) => x.origin === e.raw);
      if (k !== undefined) managedFields.push(k.raw);
    }
  }
  if (!placed) managedFields.push(entry);

  const result = merged as unknown as KubeObject;
  const meta: ObjectMeta = { ...(result.metadata ?? {}) };
  if (live !== undefined) {
    for (const key of SERVER_META) if (live.metadata[key] !== undefined) meta[key] = live.metadata[key];
  }
  meta.managedFields = managedFields;
  result.metadata = meta;
  result.apiVersion = applied.apiVersion;
  result.kind = applied.kind;
  if (live !== undefined && live['status'] !== undefined)
    result['status'] = cloneJson(live['status'] as Json);
  if (opts.manager === UPGRADING_MANAGER) syncLastApplied(live, applied, result);
  return result;
}

/** The ids of every proper ancestor of `paths` (the nodes some path lies under). */
function ancestorIds(paths: readonly FieldPath[]): Set<string> {
  const out = new Set<string>();
  for (const p of paths) for (let k = 1; k < p.length; k++) out.add(pathId(p.slice(0, k)));
  return out;
}

/** A copy of `applied` without `status` and the server-owned metadata ({@link SERVER_META}). */
export function stripServerFields(applied: KubeObject): JsonObject {
  const copy = cloneJson(applied as unknown as JsonObject);
  delete copy['status'];
  const meta = copy['metadata'] as JsonObject;
  for (const key of SERVER_META) delete meta[key];
  return copy;
}

function stripForMerge(live: KubeObject): JsonObject {
  const copy = cloneJson(live as unknown as JsonObject);
  delete copy['status'];
  return copy;
}

/** The field set a manager owns for `obj`: everything but apiVersion, kind, name and namespace. */
export function ownedSet(obj: JsonObject, type: string | undefined): JsonObject {
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  const meta = isObject(rest['metadata']) ? { ...rest['metadata'] } : {};
  delete meta['name'];
  delete meta['namespace'];
  delete meta['managedFields'];
  const body: JsonObject = { ...rest };
  if (Object.keys(meta).length > 0) body['metadata'] = meta;
  else delete body['metadata'];
  return fieldSetOf(body, type);
}

/** Keyed lists must carry their key fields in every item, each key once (else 422 as upstream). */
function validateKeys(value: Json, type: string | undefined, path: string): void {
  if (!isObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const meta = fieldMeta(type, k);
    const sub = `${path}.${k}`;
    if (Array.isArray(v) && mergesLists(meta)) {
      const keys = applyKeys(meta);
      const seen = new Set<string>();
      v.forEach((item, i) => {
        if (keys === undefined) {
          if (!isPrimitive(item)) throw invalid(`${sub}: element ${i}: a set may hold only primitive values`);
          return;
        }
        const primary = meta.mergeKey ?? '';
        if (!isObject(item) || item[primary] === undefined) {
          throw invalid(
            `${sub}: element ${i}: associative list with keys has an element that omits key field "${primary}"`,
          );
        }
        const id = itemKey(keys, item);
        if (seen.has(id)) throw invalid(`${sub}: duplicate entries for key ${id.slice(2)}`);
        seen.add(id);
        validateKeys(item, meta.type, `${sub}[${i}]`);
      });
    } else if (isObject(v)) {
      validateKeys(v, meta.type, sub);
    }
  }
}

function invalid(message: string): ApiError {
  return new ApiError(422, 'Invalid', message);
}

function mergeValue(live: Json | undefined, applied: Json, type: string | undefined): Json {
  if (isObject(applied)) {
    const out: JsonObject = isObject(live) ? cloneJson(live) : {};
    for (const [k, v] of Object.entries(applied)) {
      const meta = fieldMeta(type, k);
      const before = ownValue(out, k);
      const after =
        Array.isArray(v) && mergesLists(meta)
          ? mergeList(before, v, applyKeys(meta), meta.type)
          : mergeValue(before, v, meta.type);
      setKey(out, k, after);
    }
    return out;
  }
  return cloneJson(applied);
}

function mergeList(
  live: Json | undefined,
  applied: Json[],
  keys: readonly string[] | undefined,
  type: string | undefined,
): Json[] {
  const out: Json[] = Array.isArray(live) ? cloneJson(live) : [];
  // Items are found through a map from their key (or value) to their first place, not by a
  // scan per applied item: ~100,000 items fit in an apply body.
  const idOf = (o: Json): string | undefined =>
    keys === undefined ? jsonIdentity(o) : isObject(o) ? itemKey(keys, o) : undefined;
  const places = new Map<string, number>();
  out.forEach((o, i) => {
    const id = idOf(o);
    if (id !== undefined && !places.has(id)) places.set(id, i);
  });
  for (const item of applied) {
    const id = idOf(item);
    const at = id === undefined ? undefined : places.get(id);
    if (at === undefined) {
      if (id !== undefined) places.set(id, out.length);
      out.push(cloneJson(item));
    } else if (keys !== undefined) out[at] = mergeValue(out[at], item, type);
  }
  return out;
}

function readEntries(live: KubeObject, type: string | undefined, now: string): Entry[] {
  const raw: unknown = live.metadata.managedFields;
  // Entries that do not read as a list (stored by an older lab) count as none.
  if (!Array.isArray(raw) || raw.length === 0) {
    const set = ownedSet(stripForMerge(live), type);
    const entry: JsonObject = {
      manager: 'before-first-apply',
      operation: 'Update',
      apiVersion: live.apiVersion,
      time: now,
      fieldsType: 'FieldsV1',
      fieldsV1: set,
    };
    return [toEntry(entry)].filter((e): e is Entry => e !== undefined && e.leaves.length > 0);
  }
  return raw.map(toEntry).filter((e): e is Entry => e !== undefined);
}

/** The entry `raw` holds (undefined when it is malformed: no manager or no fieldsV1). */
export function toEntry(raw: Json): Entry | undefined {
  if (!isObject(raw) || typeof raw['manager'] !== 'string' || !isObject(raw['fieldsV1'])) return undefined;
  return {
    raw,
    manager: raw['manager'],
    operation: typeof raw['operation'] === 'string' ? raw['operation'] : 'Update',
    apiVersion: typeof raw['apiVersion'] === 'string' ? raw['apiVersion'] : '',
    subresource: typeof raw['subresource'] === 'string' ? raw['subresource'] : '',
    leaves: leaves(raw['fieldsV1']),
    origin: raw,
  };
}

function withLeaves(e: Entry, kept: FieldPath[]): Entry {
  return { ...e, raw: { ...e.raw, fieldsV1: setOf(kept) }, leaves: kept };
}

/** How Kubernetes names a manager in conflict messages (apiserver fieldmanager printManager). */
function showManager(e: Entry): string {
  let s = JSON.stringify(e.manager);
  if (e.subresource !== '') s += ` with subresource ${JSON.stringify(e.subresource)}`;
  return e.operation === 'Update' ? `${s} using ${e.apiVersion}` : s;
}

function conflictError(conflicts: { entry: Entry; path: FieldPath }[]): ApiError {
  const causes: Json[] = conflicts.map((c) => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${showManager(c.entry)}`,
    field: showPath(c.path),
  }));
  let message: string;
  const first = conflicts[0];
  if (conflicts.length === 1 && first !== undefined) {
    message = `Apply failed with 1 conflict: conflict with ${showManager(first.entry)}: ${showPath(first.path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const name = showManager(c.entry);
      const list = byManager.get(name);
      if (list === undefined) byManager.set(name, [showPath(c.path)]);
      else list.push(showPath(c.path));
    }
    const lines = [...byManager.keys()]
      .sort()
      .flatMap((m) => [`conflicts with ${m}:`, ...(byManager.get(m) ?? []).map((p) => `- ${p}`)]);
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new ApiError(409, 'Conflict', message, { causes });
}
