/**
 * One World from one list per watched resource: shared by the controller's WorldSource (its
 * informer caches) and `waymesh x explain` (a one-shot read), so both hand translate() the same
 * shape, sorted the same way.
 */
import type {
  V1Deployment,
  V1EndpointSlice,
  V1Namespace,
  V1Pod,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import type { CustomObject, World } from '../translate/world.ts';
import type { WireObject, WorldField } from './resources.ts';

/** The label the provisioner puts on a waypoint Deployment (the Gateway's name). */
export const WAYPOINT_GATEWAY_LABEL = 'gateway.networking.k8s.io/gateway-name';

/** Orders objects by `namespace/name`, the order of every World list. */
export function byNamespaceName(a: WireObject, b: WireObject): number {
  const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`;
  const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Ready replicas of waypoint Deployments by `namespace/gateway`, keys sorted. */
export function waypointReadyReplicas(deployments: readonly V1Deployment[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of deployments) {
    const gateway = d.metadata?.labels?.[WAYPOINT_GATEWAY_LABEL];
    if (gateway === undefined || gateway === '') continue;
    const ready = d.status?.readyReplicas;
    const key = `${d.metadata?.namespace ?? 'default'}/${gateway}`;
    // Two Deployments claiming one Gateway (e.g. a rename in progress) add up their replicas.
    out[key] = (out[key] ?? 0) + (typeof ready === 'number' && ready > 0 ? ready : 0);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(v: unknown): boolean {
  return v === undefined || typeof v === 'string';
}

/**
 * True for an object whose metadata has the shapes the API server guarantees and translate()
 * relies on: an object, with name and namespace strings when set and annotations a string map.
 * Every other field (labels included) is read defensively. Anything else (a hand-written list
 * for `x explain`, a broken server) is left out of the World rather than allowed to throw.
 */
export function wellFormed(o: unknown): o is WireObject {
  if (!isRecord(o) || !isRecord(o['metadata'])) return false;
  const m = o['metadata'];
  const annotations = m['annotations'];
  return (
    optionalString(m['name']) &&
    optionalString(m['namespace']) &&
    (annotations === undefined ||
      (isRecord(annotations) && Object.values(annotations).every((x) => typeof x === 'string')))
  );
}

/** The World of `trustDomain` from `listOf(field)`, each list already in {@link byNamespaceName} order. */
export function worldFromLists(
  trustDomain: string,
  listOf: (field: WorldField) => readonly WireObject[],
): World {
  const items = <T>(field: WorldField): readonly T[] => {
    const list: readonly unknown[] = listOf(field);
    // Copies only in the rare case that something is dropped.
    return (list.every(wellFormed) ? list : list.filter(wellFormed)) as unknown as readonly T[];
  };
  return {
    trustDomain,
    namespaces: items<V1Namespace>('namespaces'),
    pods: items<V1Pod>('pods'),
    services: items<V1Service>('services'),
    serviceAccounts: items<V1ServiceAccount>('serviceAccounts'),
    endpointSlices: items<V1EndpointSlice>('endpointSlices'),
    gatewayClasses: items<CustomObject>('gatewayClasses'),
    gateways: items<CustomObject>('gateways'),
    httpRoutes: items<CustomObject>('httpRoutes'),
    grpcRoutes: items<CustomObject>('grpcRoutes'),
    referenceGrants: items<CustomObject>('referenceGrants'),
    authorizationPolicies: items<CustomObject>('authorizationPolicies'),
    rateLimitPolicies: items<CustomObject>('rateLimitPolicies'),
    waypointReadyReplicas: waypointReadyReplicas(items<V1Deployment>('deployments')),
  };
}
