/**
 * In-memory object store: objects keyed by resource/namespace/name with a uid index and the one
 * global resourceVersion counter. Objects handed out are deep copies; callers never mutate state.
 */
import type { KubeObject } from './types.ts';

/** A stored object with the resource it belongs to. */
export interface StoredEntry {
  resource: string;
  object: KubeObject;
}

function key(resource: string, namespace: string, name: string): string {
  return `${resource}\u0000${namespace}\u0000${name}`;
}

/** Sort order of lists: namespace, then name (stable continue tokens rely on it). */
export function compareObjects(a: KubeObject, b: KubeObject): number {
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  const ma = a.metadata.name ?? '';
  const mb = b.metadata.name ?? '';
  return ma === mb ? 0 : ma < mb ? -1 : 1;
}

/** The object store. */
export class ObjectStore {
  readonly #objects = new Map<string, StoredEntry>();
  readonly #byUid = new Map<string, string>();
  #rv = 0;

  /** The latest resourceVersion handed out. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** Restores the counter (WAL replay). */
  restoreResourceVersion(rv: number): void {
    if (rv > this.#rv) this.#rv = rv;
  }

  /** Reserves the next resourceVersion. */
  nextResourceVersion(): number {
    this.#rv += 1;
    return this.#rv;
  }

  /** A copy of one object. */
  get(resource: string, namespace: string, name: string): KubeObject | undefined {
    const e = this.#objects.get(key(resource, namespace, name));
    return e === undefined ? undefined : structuredClone(e.object);
  }

  /** A copy of the object with `uid`, with its resource. */
  byUid(uid: string): StoredEntry | undefined {
    const k = this.#byUid.get(uid);
    const e = k === undefined ? undefined : this.#objects.get(k);
    return e === undefined ? undefined : { resource: e.resource, object: structuredClone(e.object) };
  }

  /** Copies of the objects of `resource` (in `namespace` when given), sorted. */
  list(resource: string, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const e of this.#objects.values()) {
      if (e.resource !== resource) continue;
      if (namespace !== undefined && (e.object.metadata.namespace ?? '') !== namespace) continue;
      out.push(structuredClone(e.object));
    }
    return out.sort(compareObjects);
  }

  /** Every entry (copies), for snapshots, GC and namespace cleanup. */
  entries(): StoredEntry[] {
    return [...this.#objects.values()].map((e) => ({
      resource: e.resource,
      object: structuredClone(e.object),
    }));
  }

  /** Stores `object` (a copy is kept). */
  put(resource: string, object: KubeObject): void {
    const k = key(resource, object.metadata.namespace ?? '', object.metadata.name ?? '');
    const prev = this.#objects.get(k);
    if (prev?.object.metadata.uid !== undefined) this.#byUid.delete(prev.object.metadata.uid);
    this.#objects.set(k, { resource, object: structuredClone(object) });
    if (object.metadata.uid !== undefined) this.#byUid.set(object.metadata.uid, k);
  }

  /** Removes an object; returns whether it existed. */
  remove(resource: string, namespace: string, name: string): boolean {
    const k = key(resource, namespace, name);
    const prev = this.#objects.get(k);
    if (prev === undefined) return false;
    if (prev.object.metadata.uid !== undefined) this.#byUid.delete(prev.object.metadata.uid);
    this.#objects.delete(k);
    return true;
  }

  /** Number of stored objects. */
  get size(): number {
    return this.#objects.size;
  }
}
