/**
 * The resources the controller watches (issue 4 §1), one line each: where to list and watch
 * them, which World field they fill, and whether a missing CRD is tolerated.
 */
import type { KubernetesListObject, KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';
import { MeshError } from '../../common/errors.ts';

/** The World list a resource fills (waypoint Deployments feed `waypointReadyReplicas`). */
export type WorldField =
  | 'namespaces'
  | 'pods'
  | 'services'
  | 'serviceAccounts'
  | 'endpointSlices'
  | 'gatewayClasses'
  | 'gateways'
  | 'httpRoutes'
  | 'grpcRoutes'
  | 'referenceGrants'
  | 'authorizationPolicies'
  | 'rateLimitPolicies'
  | 'deployments';

/** One watched resource. */
export interface WatchedResource {
  readonly field: WorldField;
  /** List and watch path across all namespaces. */
  readonly path: string;
  /** True for our own CRDs: when absent the list is empty and the informer keeps retrying. */
  readonly optional: boolean;
}

const GW = '/apis/gateway.networking.k8s.io';
const POLICY = '/apis/policy.waymesh.io/v1alpha1';

/** Every resource the WorldSource watches, in World order. */
export const WATCHED: readonly WatchedResource[] = [
  { field: 'namespaces', path: '/api/v1/namespaces', optional: false },
  { field: 'pods', path: '/api/v1/pods', optional: false },
  { field: 'services', path: '/api/v1/services', optional: false },
  { field: 'serviceAccounts', path: '/api/v1/serviceaccounts', optional: false },
  { field: 'endpointSlices', path: '/apis/discovery.k8s.io/v1/endpointslices', optional: false },
  { field: 'gatewayClasses', path: `${GW}/v1/gatewayclasses`, optional: false },
  { field: 'gateways', path: `${GW}/v1/gateways`, optional: false },
  { field: 'httpRoutes', path: `${GW}/v1/httproutes`, optional: false },
  { field: 'grpcRoutes', path: `${GW}/v1/grpcroutes`, optional: false },
  { field: 'referenceGrants', path: `${GW}/v1beta1/referencegrants`, optional: false },
  { field: 'authorizationPolicies', path: `${POLICY}/authorizationpolicies`, optional: true },
  { field: 'rateLimitPolicies', path: `${POLICY}/ratelimitpolicies`, optional: true },
  // Every Deployment: the informer takes no label selector, so the waypoint label
  // (`gateway.networking.k8s.io/gateway-name`) is applied when the snapshot is taken.
  { field: 'deployments', path: '/apis/apps/v1/deployments', optional: false },
];

/** A wire-form object as the informer caches it. */
export interface WireObject extends KubernetesObject {
  readonly metadata: V1ObjectMeta;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Narrows a list response at the edge: items without an object `metadata` are dropped (they
 * could not be keyed in the cache anyway) and counted in `dropped`.
 */
export function toList(
  path: string,
  body: unknown,
): { list: KubernetesListObject<WireObject>; dropped: number } {
  if (!isRecord(body) || !Array.isArray(body['items'])) {
    throw new MeshError('KUBE_LIST_INVALID', `GET ${path}: the response is not a list`, {
      hint: 'is the path served by a Kubernetes API server?',
    });
  }
  const items = (body['items'] as unknown[]).filter(
    (i): i is WireObject => isRecord(i) && isRecord(i['metadata']),
  );
  const meta = isRecord(body['metadata']) ? body['metadata'] : {};
  const resourceVersion = typeof meta['resourceVersion'] === 'string' ? meta['resourceVersion'] : '';
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  return {
    list: {
      apiVersion: text(body['apiVersion']),
      kind: text(body['kind']),
      metadata: { resourceVersion },
      items,
    },
    dropped: body['items'].length - items.length,
  };
}
