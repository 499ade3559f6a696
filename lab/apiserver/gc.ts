/**
 * Reactions to committed changes that keep the store consistent, run after the write that
 * caused them (asynchronously, like the upstream controllers): cascading deletion through
 * ownerReferences (Background, Foreground with blockOwnerDeletion, Orphan), namespace
 * termination, CRD install/removal with their objects, and ClusterIP release. Metadata is read
 * tolerantly and every object is handled in its own step, so that one malformed object (stored
 * by an older lab) never stops the collection of the others.
 */
import type { ServerContext } from './context.ts';
import { Deleter, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, type Propagation } from './handlers/delete.ts';
import { finalizersOf, ownerRefsOf } from './object-meta.ts';
import { crdToDef, resourceKey } from './registry.ts';
import type { JsonObject, KubeObject, OwnerReference } from './types.ts';
import type { ChangeEvent } from './watch.ts';

const CRD_KEY = 'customresourcedefinitions.apiextensions.k8s.io';

/** Installs the post-commit reactions on `ctx`; returns a function that waits for queued work. */
export function installGarbageCollector(ctx: ServerContext): { idle(): Promise<void>; stop(): void } {
  const deleter = new Deleter(ctx);
  const queue: (() => void)[] = [];
  let scheduled = false;
  let stopped = false;
  let waiters: (() => void)[] = [];
  const run = (): void => {
    scheduled = false;
    while (queue.length > 0 && !stopped) {
      const job = queue.shift();
      try {
        job?.();
      } catch (err) {
        ctx.log.warn('garbage collection step failed', { err: String(err) });
      }
    }
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  };
  const later = (job: () => void): void => {
    queue.push(job);
    if (!scheduled) {
      scheduled = true;
      setImmediate(run);
    }
  };

  /** Runs `fn` on every item; a failure is logged and skips only that item. */
  const each = <T>(items: T[], fn: (item: T) => void): void => {
    for (const item of items) {
      try {
        fn(item);
      } catch (err) {
        ctx.log.warn('garbage collection of one object failed', { err: String(err) });
      }
    }
  };

  const del = (resource: string, obj: KubeObject, policy: Propagation): void => {
    const def = ctx.registry.byKey(resource);
    const live = ctx.store.get(resource, obj.metadata.namespace ?? '', obj.metadata.name ?? '');
    if (def === undefined || live === undefined || live.metadata.uid !== obj.metadata.uid) return;
    deleter.deleteObject(def, live, {
      propagationPolicy: policy,
      gracePeriodSeconds: undefined,
      preconditions: {},
      dryRun: false,
    });
  };

  const dependentsOf = (uid: string): { resource: string; object: KubeObject }[] =>
    ctx.store.entries().filter((e) => ownerRefsOf(e.object.metadata).some((r) => r.uid === uid));

  const rewriteOwners = (resource: string, obj: KubeObject, keep: (r: OwnerReference) => boolean): void => {
    const def = ctx.registry.byKey(resource);
    const live = ctx.store.get(resource, obj.metadata.namespace ?? '', obj.metadata.name ?? '');
    if (def === undefined || live === undefined) return;
    const next = structuredClone(live);
    const refs = ownerRefsOf(live.metadata).filter(keep);
    if (refs.length === 0) delete next.metadata.ownerReferences;
    else next.metadata.ownerReferences = refs;
    ctx.commitPut(def, next, live);
  };

  const removeFinalizer = (resource: string, obj: KubeObject, finalizer: string): void => {
    const def = ctx.registry.byKey(resource);
    const live = ctx.store.get(resource, obj.metadata.namespace ?? '', obj.metadata.name ?? '');
    if (def === undefined || live === undefined || !finalizersOf(live.metadata).includes(finalizer)) return;
    const next = structuredClone(live);
    const rest = finalizersOf(live.metadata).filter((f) => f !== finalizer);
    if (rest.length === 0) delete next.metadata.finalizers;
    else next.metadata.finalizers = rest;
    const stored = ctx.commitPut(def, next, live);
    if (rest.length === 0 && (stored.metadata.deletionGracePeriodSeconds ?? 0) === 0)
      ctx.commitRemove(def, stored);
  };

  /** An owner in foreground deletion goes once no blocking dependent remains. */
  const checkForegroundOwner = (resource: string, owner: KubeObject): void => {
    const uid = owner.metadata.uid ?? '';
    const blocking = dependentsOf(uid).filter((d) =>
      ownerRefsOf(d.object.metadata).some((r) => r.uid === uid && r.blockOwnerDeletion === true),
    );
    if (blocking.length === 0) removeFinalizer(resource, owner, FOREGROUND_FINALIZER);
  };

  const onTerminating = (ev: ChangeEvent): void => {
    const o = ev.object;
    const fins = finalizersOf(o.metadata);
    const uid = o.metadata.uid ?? '';
    if (fins.includes(ORPHAN_FINALIZER)) {
      later(() => {
        each(dependentsOf(uid), (d) => rewriteOwners(d.resource, d.object, (r) => r.uid !== uid));
        removeFinalizer(ev.resource, o, ORPHAN_FINALIZER);
      });
    }
    if (fins.includes(FOREGROUND_FINALIZER) && ev.prev?.metadata.deletionTimestamp === undefined) {
      later(() => {
        each(dependentsOf(uid), (d) => del(d.resource, d.object, 'Foreground'));
        checkForegroundOwner(ev.resource, o);
      });
    }
  };

  const finalizeNamespace = (ns: string): void => {
    const live = ctx.store.get('namespaces', '', ns);
    if (live?.metadata.deletionTimestamp === undefined) return;
    const remaining = ctx.store
      .entries()
      .some((e) => e.resource !== 'namespaces' && e.object.metadata.namespace === ns);
    if (remaining) return;
    const def = ctx.registry.byKey('namespaces');
    if (def === undefined) return;
    if (finalizersOf(live.metadata).length > 0) return; // metadata finalizers hold it, as upstream
    ctx.commitRemove(def, live);
  };

  const onNamespaceTerminating = (ns: string): void => {
    later(() => {
      const inside = ctx.store
        .entries()
        .filter((e) => e.resource !== 'namespaces' && e.object.metadata.namespace === ns);
      each(inside, (e) => del(e.resource, e.object, 'Background'));
      finalizeNamespace(ns);
    });
  };

  const onRemoved = (ev: ChangeEvent): void => {
    const o = ev.object;
    const uid = o.metadata.uid ?? '';
    if (ev.resource === 'services') {
      const ip = ((o['spec'] ?? {}) as JsonObject)['clusterIP'];
      if (typeof ip === 'string' && ip !== 'None' && ip !== '') ctx.ips.release(ip);
    }
    if (ev.resource === CRD_KEY) {
      const def = crdToDef(o);
      const key = resourceKey(def);
      const served = ctx.registry.byKey(key);
      if (served !== undefined && !served.builtin) {
        each(ctx.store.list(key), (cr) => ctx.commitRemove(served, cr));
        ctx.registry.removeCrd(o);
      }
    }
    later(() => {
      each(dependentsOf(uid), (d) => {
        const others = ownerRefsOf(d.object.metadata).filter(
          (r) => r.uid !== uid && ctx.store.byUid(r.uid) !== undefined,
        );
        if (others.length === 0) del(d.resource, d.object, 'Background');
        else rewriteOwners(d.resource, d.object, (r) => r.uid !== uid);
      });
      for (const ref of ownerRefsOf(o.metadata)) {
        const owner = ctx.store.byUid(ref.uid);
        if (owner !== undefined && owner.object.metadata.deletionTimestamp !== undefined)
          checkForegroundOwner(owner.resource, owner.object);
      }
      if (o.metadata.namespace !== undefined && ev.resource !== 'namespaces')
        finalizeNamespace(o.metadata.namespace);
    });
  };

  ctx.onCommit((ev) => {
    if (stopped) return;
    if (ev.resource === CRD_KEY && ev.type !== 'DELETED') ctx.registry.applyCrd(ev.object);
    if (ev.type === 'DELETED') return onRemoved(ev);
    if (ev.object.metadata.deletionTimestamp !== undefined) {
      if (ev.resource === 'namespaces' && ev.prev?.metadata.deletionTimestamp === undefined)
        onNamespaceTerminating(ev.object.metadata.name ?? '');
      else onTerminating(ev);
    }
  });

  return {
    idle: () =>
      new Promise<void>((resolve) => {
        if (!scheduled && queue.length === 0) resolve();
        else waiters.push(resolve);
      }),
    stop: () => {
      stopped = true;
      queue.length = 0;
    },
  };
}
