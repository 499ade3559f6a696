/**
 * Pure comparison of a desired waypoint object with the live one: whether the live object is
 * ours, and the JSON merge patch (RFC 7386) that restores the fields we manage. Fields the API
 * server defaults or other controllers add (clusterIP, status, extra labels) are left alone.
 */
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { KubeObjectLike } from './objects.ts';

/** A live object as read from the API server or an informer cache (fields are untrusted). */
export interface LiveObject {
  readonly metadata?: V1ObjectMeta;
  readonly spec?: unknown;
}

/** The uid of the Gateway that controls `obj`, if any (its controller ownerReference). */
export function controllingGatewayUid(obj: LiveObject): string | undefined {
  const refs = obj.metadata?.ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  const ref = refs.find((r) => r.controller === true && r.kind === 'Gateway');
  return typeof ref?.uid === 'string' ? ref.uid : undefined;
}

/** True when every field of `want` is present with the same value in `have` (arrays by position). */
export function containsSubset(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) {
    return (
      Array.isArray(have) && want.length === have.length && want.every((w, i) => containsSubset(w, have[i]))
    );
  }
  if (typeof want === 'object' && want !== null) {
    if (typeof have !== 'object' || have === null || Array.isArray(have)) return false;
    const h = have as Record<string, unknown>;
    return Object.entries(want as Record<string, unknown>).every(([k, v]) => containsSubset(v, h[k]));
  }
  return want === have;
}

function selectorOf(spec: unknown): unknown {
  return typeof spec === 'object' && spec !== null
    ? (spec as Record<string, unknown>)['selector']
    : undefined;
}

/** How to bring `live` back to `desired`. */
export type DriftAction =
  | { readonly type: 'none' }
  | { readonly type: 'patch'; readonly patch: Readonly<Record<string, unknown>> }
  /** A Deployment's selector is immutable: the object must be deleted and created again. */
  | { readonly type: 'recreate' };

/** Compares the managed fields (labels, ownerReferences, spec) of `desired` and `live`. */
export function driftAction(desired: KubeObjectLike, live: LiveObject): DriftAction {
  const labelsOk = containsSubset(desired.metadata.labels ?? {}, live.metadata?.labels ?? {});
  const ownersOk = containsSubset(
    desired.metadata.ownerReferences ?? [],
    live.metadata?.ownerReferences ?? [],
  );
  // A selector selects exactly: extra live matchLabels are drift too, not defaults. (Compared
  // both ways rather than by prototype: informer caches may hold client-node model instances.)
  const want = selectorOf(desired.spec);
  const have = selectorOf(live.spec);
  if (desired.kind === 'Deployment' && !(containsSubset(want, have) && containsSubset(have, want)))
    return { type: 'recreate' };
  const specOk = desired.spec === undefined || containsSubset(desired.spec, live.spec);
  if (labelsOk && ownersOk && specOk) return { type: 'none' };
  const metadata: Record<string, unknown> = {};
  if (!labelsOk) metadata['labels'] = desired.metadata.labels;
  if (!ownersOk) metadata['ownerReferences'] = desired.metadata.ownerReferences;
  const patch: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) patch['metadata'] = metadata;
  if (!specOk) patch['spec'] = desired.spec;
  return { type: 'patch', patch };
}
