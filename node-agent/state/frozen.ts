/**
 * Maps and sets that refuse mutation once built, so a live index cannot be changed by accident
 * (STYLE.md: snapshots are frozen and swapped whole). Reads cost the same as a plain Map/Set.
 */
import { MeshError } from '../../common/errors.ts';

const sealed = new WeakSet<object>();

function refuse(): never {
  throw new MeshError('NODE_STATE_FROZEN', 'the node state index is read-only', {
    hint: 'build a new state with buildNodeState() from the next snapshot instead of editing this one',
  });
}

/** A Map that throws on `set`, `delete` and `clear` after construction. */
export class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super(entries);
    sealed.add(this);
    Object.freeze(this);
  }

  override set(key: K, value: V): this {
    if (sealed.has(this)) refuse();
    return super.set(key, value);
  }

  override delete(): boolean {
    refuse();
  }

  override clear(): void {
    refuse();
  }
}

/** A Set that throws on `add`, `delete` and `clear` after construction. */
export class FrozenSet<T> extends Set<T> {
  constructor(values: Iterable<T>) {
    super(values);
    sealed.add(this);
    Object.freeze(this);
  }

  override add(value: T): this {
    if (sealed.has(this)) refuse();
    return super.add(value);
  }

  override delete(): boolean {
    refuse();
  }

  override clear(): void {
    refuse();
  }
}

/** Freezes every map value of `m` into a FrozenMap of frozen arrays. */
export function freezeGroups<K, V>(m: Map<K, V[]>): FrozenMap<K, readonly V[]> {
  return new FrozenMap([...m].map(([k, v]) => [k, Object.freeze(v)] as const));
}

/** Appends `value` to the list at `key`, creating it. */
export function pushTo<K, V>(m: Map<K, V[]>, key: K, value: V): void {
  const list = m.get(key);
  if (list === undefined) m.set(key, [value]);
  else list.push(value);
}
