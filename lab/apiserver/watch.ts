/**
 * Watch fan-out: a bounded ring of recent change events (so watches can resume from a
 * resourceVersion, or get 410 Gone when it was compacted away) and the set of live watchers.
 * Selector transitions follow upstream: an object entering a watch's selector is ADDED, one
 * leaving it is DELETED.
 */
import { matches, type Selector } from './selectors.ts';
import type { KubeObject } from './types.ts';

/** A committed change. */
export interface ChangeEvent {
  rv: number;
  resource: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  /** The object before the change (MODIFIED/DELETED). */
  prev: KubeObject | undefined;
}

/** What a watch receives. */
export interface WatchFrame {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

/** Which changes a watch wants. */
export interface WatchFilter {
  resource: string;
  namespace: string | undefined;
  selector: Selector;
}

function inScope(f: WatchFilter, o: KubeObject): boolean {
  return f.namespace === undefined || (o.metadata.namespace ?? '') === f.namespace;
}

/** Translates a change into the frame a watch with `filter` sees, or undefined (pure). */
export function frameFor(filter: WatchFilter, ev: ChangeEvent): WatchFrame | undefined {
  if (ev.resource !== filter.resource) return undefined;
  const now = inScope(filter, ev.object) && matches(filter.selector, ev.object);
  const before = ev.prev !== undefined && inScope(filter, ev.prev) && matches(filter.selector, ev.prev);
  if (ev.type === 'DELETED') return before || now ? { type: 'DELETED', object: ev.object } : undefined;
  if (ev.type === 'ADDED') return now ? { type: 'ADDED', object: ev.object } : undefined;
  if (now && before) return { type: 'MODIFIED', object: ev.object };
  if (now) return { type: 'ADDED', object: ev.object };
  if (before) return { type: 'DELETED', object: ev.object };
  return undefined;
}

/** Bounded history of change events. */
export class WatchHistory {
  readonly #capacity: number;
  readonly #events: ChangeEvent[] = [];
  /** Events with rv <= this are no longer known. */
  #compactedRv: number;

  /** `startRv`: the resourceVersion at startup (older versions are already unknown). */
  constructor(capacity: number, startRv: number) {
    this.#capacity = Math.max(1, capacity);
    this.#compactedRv = startRv;
  }

  /** Records a change, evicting the oldest when full. */
  push(ev: ChangeEvent): void {
    this.#events.push(ev);
    while (this.#events.length > this.#capacity) {
      const old = this.#events.shift();
      if (old !== undefined) this.#compactedRv = old.rv;
    }
  }

  /** Events after `rv`, or 'expired' when some of them were evicted. */
  since(rv: number): ChangeEvent[] | 'expired' {
    if (rv < this.#compactedRv) return 'expired';
    return this.#events.filter((e) => e.rv > rv);
  }

  /** The oldest resourceVersion a watch may still start from. */
  get oldestResumable(): number {
    return this.#compactedRv;
  }
}

/** A live watch; `deliver` must not block (sinks buffer and drop the watch when overfull). */
export interface Watcher {
  filter: WatchFilter;
  deliver(frame: WatchFrame, rv: number): void;
  /** Called when the server closes (end the stream). */
  end(): void;
}

/** History + live watchers. */
export class WatchHub {
  readonly history: WatchHistory;
  readonly #watchers = new Set<Watcher>();

  constructor(capacity: number, startRv: number) {
    this.history = new WatchHistory(capacity, startRv);
  }

  /**
   * Records and fans out a committed change, in commit order. A watcher whose `deliver` throws
   * is removed and ended; every other watcher still gets the change, and the first such error
   * is rethrown afterwards for the caller to log (the change itself is committed).
   */
  publish(ev: ChangeEvent): void {
    this.history.push(ev);
    let failure: Error | undefined;
    for (const w of this.#watchers) {
      const frame = frameFor(w.filter, ev);
      if (frame === undefined) continue;
      try {
        w.deliver(frame, ev.rv);
      } catch (err) {
        failure ??= err instanceof Error ? err : new Error(String(err));
        this.#watchers.delete(w);
        try {
          w.end();
        } catch {
          // already reported through `failure`
        }
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** Adds a watcher; returns the function that removes it. */
  subscribe(w: Watcher): () => void {
    this.#watchers.add(w);
    return () => this.#watchers.delete(w);
  }

  /** Number of live watchers. */
  get size(): number {
    return this.#watchers.size;
  }

  /** Ends every watch. */
  closeAll(): void {
    for (const w of [...this.#watchers]) w.end();
    this.#watchers.clear();
  }
}
