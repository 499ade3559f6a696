/**
 * The state every handler works on, and the single commit path: assign the next
 * resourceVersion, append + fsync to the WAL, update the store, fan out to watches, then run
 * the side effects that follow a write (CRD registry sync, ClusterIP release, GC).
 */
import type { Logger } from '../../common/log.ts';
import type { TokenSigner } from './auth.ts';
import { apiVersionOf, resourceKey, type Registry } from './registry.ts';
import type { ServiceIpAllocator } from './service-ip.ts';
import type { ObjectStore } from './store.ts';
import type { KubeObject, ResourceDef } from './types.ts';
import type { WriteAheadLog } from './wal.ts';
import type { ChangeEvent, WatchHub } from './watch.ts';
import type { ApiServerHooks } from './server.ts';

/** Reaction to a committed change (registered by gc.ts and the kind-specific modules). */
export type AfterCommit = (ev: ChangeEvent) => void;

/** Shared server state. */
export class ServerContext {
  readonly store: ObjectStore;
  readonly registry: Registry;
  readonly hub: WatchHub;
  readonly wal: WriteAheadLog;
  readonly ips: ServiceIpAllocator;
  readonly signer: TokenSigner;
  readonly hooks: ApiServerHooks;
  readonly log: Logger;
  readonly now: () => Date;
  readonly #after: AfterCommit[] = [];
  #closed = false;

  constructor(parts: {
    store: ObjectStore;
    registry: Registry;
    hub: WatchHub;
    wal: WriteAheadLog;
    ips: ServiceIpAllocator;
    signer: TokenSigner;
    hooks: ApiServerHooks;
    log: Logger;
    now: () => Date;
  }) {
    this.store = parts.store;
    this.registry = parts.registry;
    this.hub = parts.hub;
    this.wal = parts.wal;
    this.ips = parts.ips;
    this.signer = parts.signer;
    this.hooks = parts.hooks;
    this.log = parts.log;
    this.now = parts.now;
  }

  /** Registers a reaction that runs after every commit. */
  onCommit(fn: AfterCommit): void {
    this.#after.push(fn);
  }

  /** Marks the server closed: later writes are refused. */
  close(): void {
    this.#closed = true;
    this.wal.close();
  }

  /** The current time as Kubernetes renders timestamps (second precision). */
  timestamp(offsetSeconds = 0): string {
    return new Date(this.now().getTime() + offsetSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  /** Stores `next` (create or replace) durably; returns it with its new resourceVersion. */
  commitPut(def: ResourceDef, next: KubeObject, prev: KubeObject | undefined): KubeObject {
    this.#checkOpen();
    const resource = resourceKey(def);
    const rv = this.store.nextResourceVersion();
    const obj = structuredClone(next);
    obj.metadata.resourceVersion = String(rv);
    const due = this.wal.append({ op: 'put', rv, resource, object: obj });
    this.store.put(resource, obj);
    if (due) this.#compact();
    this.#publish({ rv, resource, type: prev === undefined ? 'ADDED' : 'MODIFIED', object: obj, prev });
    return structuredClone(obj);
  }

  /** Removes `obj` durably; returns it carrying the deletion's resourceVersion. */
  commitRemove(def: ResourceDef, obj: KubeObject): KubeObject {
    this.#checkOpen();
    const resource = resourceKey(def);
    const rv = this.store.nextResourceVersion();
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    const due = this.wal.append({ op: 'remove', rv, resource, namespace: ns, name });
    this.store.remove(resource, ns, name);
    if (due) this.#compact();
    const gone = structuredClone(obj);
    gone.metadata.resourceVersion = String(rv);
    this.#publish({ rv, resource, type: 'DELETED', object: gone, prev: obj });
    return structuredClone(gone);
  }

  /** Presents a stored object in the requested version (CRD versions share one storage; no conversion). */
  present(def: ResourceDef, version: string, obj: KubeObject): KubeObject {
    const out = structuredClone(obj);
    out.apiVersion = apiVersionOf(def.group, version);
    out.kind = def.kind;
    return out;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('the API server is closed');
  }

  /** Fans out a committed change; a failing watcher or reaction never fails the write itself. */
  #publish(ev: ChangeEvent): void {
    try {
      this.hub.publish(ev);
    } catch (err) {
      this.log.error('a watch failed to take a change and was ended', {
        err: String(err),
        resource: ev.resource,
        name: ev.object.metadata.name,
      });
    }
    for (const fn of this.#after) {
      try {
        fn(ev);
      } catch (err) {
        this.log.error('post-commit reaction failed', {
          err: String(err),
          resource: ev.resource,
          name: ev.object.metadata.name,
        });
      }
    }
  }

  #compact(): void {
    this.wal.compact({ resourceVersion: this.store.resourceVersion, entries: this.store.entries() });
  }
}
