/**
 * Field ownership of ordinary writes (create, update, JSON/merge/strategic patch), as
 * kube-apiserver records it: the writer's manager gets an `operation: Update` entry in
 * `metadata.managedFields` with every field the write added or changed, those fields leave
 * every other manager (an Update never conflicts: it takes them), and removed fields leave
 * everyone. A later server-side apply of a field an Update manager owns with another value is
 * then a conflict, as in a cluster (`kubectl edit` then `kubectl apply --server-side`).
 *
 * - The manager is the request's (field-manager.ts); an Update entry is keyed by manager,
 *   apiVersion and subresource.
 * - A write to the `status` subresource owns fields under `status` only; a write to the main
 *   resource never owns `status`. Server-owned metadata, `apiVersion`, `kind`, name and
 *   namespace are never owned.
 * - The managedFields the new object carries are the starting point when it carries any (a
 *   client may rewrite them, as in kube); otherwise the live object's are.
 * - At most {@link MAX_UPDATE_MANAGERS} Update entries are kept; the oldest are merged into
 *   `ancient-changes` (kube's capManagers).
 */
import type { Json, JsonObject, KubeObject } from '../types.ts';
import { ownedSet, stripServerFields, toEntry, type Entry } from './apply.ts';
import { leaves, pathId, pathReader, setOf } from './fields.ts';
import type { FieldPath } from './fields.ts';
import { isObject, jsonEqual } from './json.ts';
import { rootType } from './metadata.ts';

/** Options of one tracked write. */
export interface UpdateOptions {
  manager: string;
  kind: string;
  builtin: boolean;
  /** `group/version` the request used. */
  apiVersion: string;
  /** `status`, or '' for the main resource. */
  subresource: string;
  /** RFC 3339 time recorded when the manager's fields change. */
  now: string;
}

/** Update entries kept before the oldest are merged (kube's DefaultMaxUpdateManagers). */
export const MAX_UPDATE_MANAGERS = 10;
/** The manager the oldest Update entries are merged into. */
export const ANCIENT_CHANGES = 'ancient-changes';
/**
 * The part of `obj` a write to `subresource` may own, server-owned metadata stripped (the
 * sets are read, never written, so `status` is taken as it is).
 */
function scoped(obj: KubeObject, subresource: string): JsonObject {
  if (subresource !== 'status') return stripServerFields(obj);
  const status = obj['status'] as Json | undefined;
  return status === undefined ? {} : { status };
}

/**
 * The `managedFields` of `next` after a write by `opts.manager` turned `live` (undefined on
 * create) into `next`. Both are in the request's version.
 */
export function trackUpdate(live: KubeObject | undefined, next: KubeObject, opts: UpdateOptions): Json[] {
  const type = opts.builtin ? rootType(opts.kind) : undefined;
  const after = scoped(next, opts.subresource);
  const afterLeaves = leaves(ownedSet(after, type));
  const afterIds = new Set(afterLeaves.map(pathId));
  const before = live === undefined ? undefined : scoped(live, opts.subresource);
  const beforeLeaves = before === undefined ? [] : leaves(ownedSet(before, type));
  const beforeIds = new Set(beforeLeaves.map(pathId));

  // Added or changed: the writer's now, and nobody else's. Removed: nobody's.
  const read = pathReader();
  const taken = new Set<string>();
  const changed: FieldPath[] = [];
  for (const path of afterLeaves) {
    const id = pathId(path);
    const isNew = !beforeIds.has(id);
    if (
      isNew ||
      (path[path.length - 1] !== '.' && !jsonEqual(read(before as Json, path), read(after, path)))
    ) {
      taken.add(id);
      changed.push(path);
    }
  }
  for (const id of beforeIds) if (!afterIds.has(id)) taken.add(id);

  // Entries that do not read as a list (stored by an older lab) count as none, as kube resets
  // managedFields it cannot decode.
  const carried: unknown = next.metadata.managedFields;
  const stored: unknown = live?.metadata.managedFields;
  const start: readonly Json[] =
    opts.subresource === '' && Array.isArray(carried) && carried.length > 0
      ? (carried as Json[])
      : Array.isArray(stored)
        ? (stored as Json[])
        : [];
  const entries = start.map(toEntry).filter((e): e is Entry => e !== undefined);
  const mine = (e: Entry): boolean =>
    e.manager === opts.manager &&
    e.operation === 'Update' &&
    e.apiVersion === opts.apiVersion &&
    e.subresource === opts.subresource;

  const out: JsonObject[] = [];
  let placed = false;
  const own = (previous: Entry | undefined): JsonObject | undefined => {
    const kept = (previous?.leaves ?? []).filter((p) => !taken.has(pathId(p)) || afterIds.has(pathId(p)));
    const keptIds = new Set(kept.map(pathId));
    const gained = changed.filter((p) => !keptIds.has(pathId(p)));
    const owned = [...kept, ...gained];
    if (owned.length === 0) return undefined;
    const same = previous !== undefined && gained.length === 0 && kept.length === previous.leaves.length;
    if (same) return previous.raw;
    const entry: JsonObject = {
      manager: opts.manager,
      operation: 'Update',
      apiVersion: opts.apiVersion,
      time: opts.now,
      fieldsType: 'FieldsV1',
      fieldsV1: setOf(owned),
    };
    if (opts.subresource !== '') entry['subresource'] = opts.subresource;
    return entry;
  };
  for (const e of entries) {
    if (mine(e)) {
      placed = true;
      const entry = own(e);
      if (entry !== undefined) out.push(entry);
      continue;
    }
    const left = e.leaves.filter((p) => !taken.has(pathId(p)));
    if (left.length === e.leaves.length) out.push(e.raw);
    else if (left.length > 0) out.push({ ...e.raw, fieldsV1: setOf(left) });
  }
  if (!placed) {
    const entry = own(undefined);
    if (entry !== undefined) out.push(entry);
  }
  return capUpdateManagers(out);
}

const timeOf = (e: JsonObject): string => (typeof e['time'] === 'string' ? e['time'] : '');

/** Merges the oldest Update entries into `ancient-changes` until at most ten remain. */
function capUpdateManagers(entries: JsonObject[]): JsonObject[] {
  const isUpdate = (e: JsonObject): boolean => (e['operation'] ?? 'Update') === 'Update';
  let out = entries;
  while (out.filter(isUpdate).length > MAX_UPDATE_MANAGERS) {
    const oldest = out
      .filter((e) => isUpdate(e) && e['manager'] !== ANCIENT_CHANGES)
      .sort((a, b) => timeOf(a).localeCompare(timeOf(b)))[0];
    if (oldest === undefined) break;
    const bucketOf = (e: JsonObject): boolean =>
      e['manager'] === ANCIENT_CHANGES &&
      e['apiVersion'] === oldest['apiVersion'] &&
      (e['subresource'] ?? '') === (oldest['subresource'] ?? '');
    const bucket = out.find(bucketOf);
    const merged: JsonObject = {
      ...oldest,
      manager: ANCIENT_CHANGES,
      fieldsV1: setOf([
        ...leaves(isObject(bucket?.['fieldsV1']) ? bucket['fieldsV1'] : {}),
        ...leaves(isObject(oldest['fieldsV1']) ? oldest['fieldsV1'] : {}),
      ]),
    };
    out = out.filter((e) => e !== oldest && e !== bucket);
    out.push(merged);
  }
  return out;
}
