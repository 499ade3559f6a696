/** Small helpers over Kubernetes objects shared by the lab's controllers and kubelets. */
import { createHash } from 'node:crypto';
import type { KubernetesObject, V1LabelSelector, V1OwnerReference, V1Pod } from '@kubernetes/client-node';

/** `namespace/name` of an object. */
export function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/** True when `labels` satisfy `selector` (matchLabels and matchExpressions). */
export function matchesSelector(
  selector: V1LabelSelector | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (selector === undefined) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    const value = l[e.key];
    const values = e.values ?? [];
    if (e.operator === 'In' && !(has && values.includes(value ?? ''))) return false;
    if (e.operator === 'NotIn' && has && values.includes(value ?? '')) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** True when `labels` contain every pair of a plain map selector (Service `spec.selector`). */
export function matchesMap(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (selector === undefined || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** True when `obj` is controlled by the owner with `uid`. */
export function ownedBy(obj: KubernetesObject, uid: string | undefined): boolean {
  return (
    uid !== undefined &&
    (obj.metadata?.ownerReferences ?? []).some((r) => r.uid === uid && r.controller === true)
  );
}

/** The controller owner reference pointing at `owner`. */
export function controllerRef(owner: KubernetesObject): V1OwnerReference {
  return {
    apiVersion: owner.apiVersion ?? '',
    kind: owner.kind ?? '',
    name: owner.metadata?.name ?? '',
    uid: owner.metadata?.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** A stable short hash of any JSON value (pod-template-hash and friends). */
export function shortHash(value: unknown, length = 10): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, length);
}

/** JSON with object keys sorted, so equal values hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

/** A random lowercase suffix as Kubernetes appends to generated names. */
export function randomSuffix(length = 5): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

/** True when the pod's Ready condition is True. */
export function isPodReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** True when the pod is being deleted or has finished. */
export function isPodGone(pod: V1Pod): boolean {
  return (
    pod.metadata?.deletionTimestamp !== undefined ||
    pod.status?.phase === 'Succeeded' ||
    pod.status?.phase === 'Failed'
  );
}

/** API path of a namespaced object of the core group. */
export function corePath(resource: string, namespace: string, name?: string, sub?: string): string {
  return `/api/v1/namespaces/${namespace}/${resource}${name === undefined ? '' : `/${name}`}${sub === undefined ? '' : `/${sub}`}`;
}

/** API path of a namespaced object of a named group. */
export function groupPath(
  gv: string,
  resource: string,
  namespace: string,
  name?: string,
  sub?: string,
): string {
  return `/apis/${gv}/namespaces/${namespace}/${resource}${name === undefined ? '' : `/${name}`}${sub === undefined ? '' : `/${sub}`}`;
}
