/**
 * `waymesh x explain`'s input: one list of every resource the controller watches
 * (controller/kube/resources.ts WATCHED), read with the current kubeconfig and assembled into the
 * same `World` the controller's WorldSource hands to translate(). A one-shot read, no informers.
 */
import type {
  V1Deployment,
  V1EndpointSlice,
  V1Namespace,
  V1Pod,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { MeshError } from '../common/errors.ts';
import { isKubeStatus } from '../controller/kube/rest.ts';
import { toList, WATCHED, type WireObject, type WorldField } from '../controller/kube/resources.ts';
import { WAYPOINT_GATEWAY_LABEL } from '../controller/kube/world-source.ts';
import type { CustomObject, World } from '../controller/translate/world.ts';

/** What the reader needs from a Kubernetes client (KubeRest implements it). */
export interface ListClient {
  list(path: string): Promise<unknown>;
}

function byNamespaceName(a: WireObject, b: WireObject): number {
  const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`;
  const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Ready replicas of waypoint Deployments by `namespace/gateway` (as the WorldSource computes them). */
export function waypointReadyReplicas(deployments: readonly V1Deployment[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of deployments) {
    const gateway = d.metadata?.labels?.[WAYPOINT_GATEWAY_LABEL];
    if (gateway === undefined || gateway === '') continue;
    const ready = d.status?.readyReplicas;
    const key = `${d.metadata?.namespace ?? 'default'}/${gateway}`;
    out[key] = (out[key] ?? 0) + (typeof ready === 'number' && ready > 0 ? ready : 0);
  }
  return out;
}

/**
 * Lists every watched resource once and builds the World. Our own CRDs may be absent (404):
 * their lists are empty and `missing` names them, so the explanation can say policies were not
 * read. Any other failure rejects with the API server's error.
 */
export async function readWorld(
  client: ListClient,
  trustDomain: string,
): Promise<{ world: World; missing: string[] }> {
  const lists = new Map<WorldField, WireObject[]>();
  const missing: string[] = [];
  await Promise.all(
    WATCHED.map(async (res) => {
      try {
        const { list } = toList(res.path, await client.list(res.path));
        lists.set(res.field, [...list.items].sort(byNamespaceName));
      } catch (err) {
        if (!res.optional || !isKubeStatus(err, 404)) {
          if (isKubeStatus(err, 401, 403))
            throw new MeshError('EXPLAIN_FORBIDDEN', `cannot list ${res.path}: ${err.message}`, {
              hint: 'x explain reads what the controller reads; use a kubeconfig that may list them cluster-wide',
            });
          throw err;
        }
        missing.push(res.path);
        lists.set(res.field, []);
      }
    }),
  );
  const items = <T>(field: WorldField): readonly T[] => (lists.get(field) ?? []) as unknown as readonly T[];
  const world: World = {
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
  return { world, missing: missing.sort() };
}
