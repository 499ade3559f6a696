/**
 * DELETE of one object or a collection: preconditions, finalizers and deletionTimestamp,
 * graceful pod deletion (left for the kubelet), namespace termination and the propagation
 * policy that gc.ts carries out.
 */
import type { ServerContext } from '../context.ts';
import { finalizersOf } from '../object-meta.ts';
import { resourceKey } from '../registry.ts';
import { conflict, notFound } from '../rules.ts';
import { matches, type Selector } from '../selectors.ts';
import { ApiError, type Json, type JsonObject, type KubeObject, type ResourceDef } from '../types.ts';

/** How dependents are treated. */
export type Propagation = 'Foreground' | 'Background' | 'Orphan';

/** Parsed DeleteOptions (body and query merged). */
export interface DeleteOptions {
  propagationPolicy: Propagation | undefined;
  gracePeriodSeconds: number | undefined;
  preconditions: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

/** The finalizer that holds an owner until its blocking dependents are gone. */
export const FOREGROUND_FINALIZER = 'foregroundDeletion';
/** The finalizer that makes GC orphan dependents before the owner goes. */
export const ORPHAN_FINALIZER = 'orphan';

const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);

/** Reads DeleteOptions from a request body and query (query wins). */
export function parseDeleteOptions(body: Json, query: URLSearchParams): DeleteOptions {
  const b = body !== null && typeof body === 'object' && !Array.isArray(body) ? body : {};
  const pol =
    query.get('propagationPolicy') ??
    (typeof b['propagationPolicy'] === 'string' ? b['propagationPolicy'] : undefined);
  const orphan =
    b['orphanDependents'] ??
    (query.get('orphanDependents') === null ? undefined : query.get('orphanDependents') === 'true');
  let policy: Propagation | undefined;
  if (pol !== undefined && pol !== '') {
    if (pol !== 'Foreground' && pol !== 'Background' && pol !== 'Orphan') {
      throw new ApiError(
        422,
        'Invalid',
        `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${pol}": supported values: "Foreground", "Background", "Orphan"`,
      );
    }
    policy = pol;
  } else if (orphan === true) policy = 'Orphan';
  const gq = query.get('gracePeriodSeconds');
  const grace =
    gq !== null
      ? Number(gq)
      : typeof b['gracePeriodSeconds'] === 'number'
        ? b['gracePeriodSeconds']
        : undefined;
  if (grace !== undefined && (!Number.isInteger(grace) || grace < 0))
    throw new ApiError(400, 'BadRequest', 'gracePeriodSeconds must be a non-negative integer');
  const pre = (b['preconditions'] ?? {}) as JsonObject;
  const dry =
    query.getAll('dryRun').includes('All') || (Array.isArray(b['dryRun']) && b['dryRun'].includes('All'));
  return {
    propagationPolicy: policy,
    gracePeriodSeconds: grace,
    preconditions: {
      ...(typeof pre['uid'] === 'string' ? { uid: pre['uid'] } : {}),
      ...(typeof pre['resourceVersion'] === 'string' ? { resourceVersion: pre['resourceVersion'] } : {}),
    },
    dryRun: dry,
  };
}

/** Deletion logic shared by HTTP handlers, GC and namespace cleanup. */
export class Deleter {
  readonly #ctx: ServerContext;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** Deletes one object by name (404 when missing). */
  delete(def: ResourceDef, namespace: string | undefined, name: string, o: DeleteOptions): KubeObject {
    const live = this.#ctx.store.get(resourceKey(def), namespace ?? '', name);
    if (live === undefined) throw notFound(def, name);
    return this.deleteObject(def, live, o);
  }

  /** Deletes every object matching `sel` in scope; returns what was deleted. */
  deleteCollection(
    def: ResourceDef,
    namespace: string | undefined,
    sel: Selector,
    o: DeleteOptions,
  ): KubeObject[] {
    const items = this.#ctx.store.list(resourceKey(def), namespace).filter((x) => matches(sel, x));
    return items.map((x) => this.deleteObject(def, x, { ...o, preconditions: {} }));
  }

  /** Deletes a live object under Kubernetes rules; returns its final or terminating state. */
  deleteObject(def: ResourceDef, live: KubeObject, o: DeleteOptions): KubeObject {
    const name = live.metadata.name ?? '';
    if (o.preconditions.uid !== undefined && o.preconditions.uid !== live.metadata.uid) {
      throw new ApiError(
        409,
        'Conflict',
        `Precondition failed: UID in precondition: ${o.preconditions.uid}, UID in object meta: ${live.metadata.uid ?? ''}`,
        { name, group: def.group, kind: def.plural },
      );
    }
    if (
      o.preconditions.resourceVersion !== undefined &&
      o.preconditions.resourceVersion !== live.metadata.resourceVersion
    ) {
      throw conflict(def, name);
    }
    const key = resourceKey(def);
    if (key === 'namespaces') return this.#deleteNamespace(def, live, o);
    const policy = o.propagationPolicy ?? 'Background';
    const next = structuredClone(live);
    const m = next.metadata;
    const finalizers = finalizersOf(m);
    if (policy === 'Orphan' && !finalizers.includes(ORPHAN_FINALIZER)) finalizers.push(ORPHAN_FINALIZER);
    if (policy === 'Foreground' && !finalizers.includes(FOREGROUND_FINALIZER))
      finalizers.push(FOREGROUND_FINALIZER);
    const grace = this.#podGrace(key, live, o);
    if (finalizers.length === 0 && grace === 0) {
      if (o.dryRun) return live;
      return this.#ctx.commitRemove(def, live);
    }
    if (
      m.deletionTimestamp !== undefined &&
      grace >= (m.deletionGracePeriodSeconds ?? 0) &&
      finalizers.length === finalizersOf(live.metadata).length
    ) {
      return live; // already terminating; a longer or equal grace period changes nothing
    }
    m.finalizers = finalizers;
    if (finalizers.length === 0) delete m.finalizers;
    m.deletionTimestamp =
      m.deletionTimestamp === undefined || grace < (m.deletionGracePeriodSeconds ?? 0)
        ? this.#ctx.timestamp(grace)
        : m.deletionTimestamp;
    m.deletionGracePeriodSeconds = grace;
    if (o.dryRun) return next;
    return this.#ctx.commitPut(def, next, live);
  }

  /** Grace period of a delete: scheduled pods wait for their kubelet; everything else is immediate. */
  #podGrace(key: string, live: KubeObject, o: DeleteOptions): number {
    if (key !== 'pods') return 0;
    const spec = (live['spec'] ?? {}) as JsonObject;
    const node = spec['nodeName'];
    if (typeof node !== 'string' || node === '') return 0;
    const phase = ((live['status'] ?? {}) as JsonObject)['phase'];
    if (phase === 'Succeeded' || phase === 'Failed') return o.gracePeriodSeconds ?? 0;
    if (o.gracePeriodSeconds !== undefined) return o.gracePeriodSeconds;
    const t = spec['terminationGracePeriodSeconds'];
    return typeof t === 'number' ? t : 30;
  }

  #deleteNamespace(def: ResourceDef, live: KubeObject, o: DeleteOptions): KubeObject {
    const name = live.metadata.name ?? '';
    if (PROTECTED_NAMESPACES.has(name)) {
      throw new ApiError(
        403,
        'Forbidden',
        `namespaces "${name}" is forbidden: this namespace may not be deleted`,
        { name, kind: 'namespaces' },
      );
    }
    if (live.metadata.deletionTimestamp !== undefined) return live;
    const next = structuredClone(live);
    next.metadata.deletionTimestamp = this.#ctx.timestamp();
    next.metadata.deletionGracePeriodSeconds = 0;
    next['status'] = { ...((live['status'] ?? {}) as JsonObject), phase: 'Terminating' };
    if (o.dryRun) return next;
    return this.#ctx.commitPut(def, next, live);
  }
}
