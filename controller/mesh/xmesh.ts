/**
 * The experimental Mesh resource (GEP-3949): when the `xmeshes.gateway.networking.x-k8s.io` CRD
 * is installed, the leader keeps an XMesh named `waymesh` with our `controllerName`, and writes the
 * status of every XMesh that names us: `Accepted`, `Programmed` and the sorted
 * `supportedFeatures`. XMeshes of other controllers are ignored, as the GEP requires.
 */
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { isKubeStatus, kubeCall, kubeGet, type KubeTransport } from '../kube/rest.ts';
import { NAMES } from '../translate/world.ts';

/** Where XMesh lives (cluster-scoped, experimental channel). */
export const XMESH = {
  group: 'gateway.networking.x-k8s.io',
  version: 'v1alpha1',
  plural: 'xmeshes',
  name: 'waymesh',
} as const;

const COLLECTION = `/apis/${XMESH.group}/${XMESH.version}/${XMESH.plural}`;

/**
 * The Gateway API mesh features waymesh implements end to end (names from the Gateway API's
 * `pkg/features/mesh.go`), sorted as the CRD requires. Each is exercised by the lab's journey tests.
 */
export const SUPPORTED_MESH_FEATURES: readonly string[] = [
  'Mesh',
  'MeshClusterIPMatching',
  'MeshConsumerRoute',
  'MeshHTTPRouteBackendRequestHeaderModification',
  'MeshHTTPRouteNamedRouteRule',
  'MeshHTTPRouteQueryParamMatching',
  'MeshHTTPRouteRedirectPath',
  'MeshHTTPRouteRedirectPort',
  'MeshHTTPRouteRewritePath',
  'MeshHTTPRouteSchemeRedirect',
];

/** An XMesh as read from the API server (only the fields used here). */
export interface XMeshObject {
  readonly metadata?: { readonly name?: string; readonly generation?: number };
  readonly spec?: { readonly controllerName?: unknown; readonly parametersRef?: unknown };
  readonly status?: { readonly conditions?: readonly MeshCondition[]; readonly supportedFeatures?: unknown };
}

/** A status condition (metav1.Condition). */
export interface MeshCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
}

/** The status waymesh wants on `mesh`; transition times kept from `mesh` when a condition did not change. */
export function desiredXMeshStatus(
  mesh: XMeshObject,
  replica: string,
  now: Date,
): { conditions: MeshCondition[]; supportedFeatures: { name: string }[] } {
  const generation = mesh.metadata?.generation ?? 0;
  // No implementation-specific parameters exist yet: a parametersRef cannot be honoured.
  const params = mesh.spec?.parametersRef;
  const accepted: Omit<MeshCondition, 'lastTransitionTime'> =
    params === undefined || params === null
      ? {
          type: 'Accepted',
          status: 'True',
          reason: 'Accepted',
          message: `accepted by waymesh (controller replica ${replica})`,
          observedGeneration: generation,
        }
      : {
          type: 'Accepted',
          status: 'False',
          reason: 'InvalidParameters',
          message:
            'waymesh takes no parametersRef; remove it (mesh settings live in the controller Deployment)',
          observedGeneration: generation,
        };
  const programmed: Omit<MeshCondition, 'lastTransitionTime'> = {
    type: 'Programmed',
    status: accepted.status,
    reason: accepted.status === 'True' ? 'Programmed' : 'Invalid',
    message: accepted.status === 'True' ? 'waymesh is running' : 'the Mesh is not accepted',
    observedGeneration: generation,
  };
  const previous = new Map((mesh.status?.conditions ?? []).map((c) => [c.type, c]));
  const withTime = (c: Omit<MeshCondition, 'lastTransitionTime'>): MeshCondition => {
    const old = previous.get(c.type);
    const same = old !== undefined && old.status === c.status;
    return {
      ...c,
      lastTransitionTime: same ? old.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z'),
    };
  };
  return {
    conditions: [withTime(accepted), withTime(programmed)],
    supportedFeatures: accepted.status === 'True' ? SUPPORTED_MESH_FEATURES.map((name) => ({ name })) : [],
  };
}

function sameStatus(live: XMeshObject['status'], want: ReturnType<typeof desiredXMeshStatus>): boolean {
  const strip = (cs: readonly MeshCondition[] | undefined): string =>
    JSON.stringify(
      (cs ?? []).map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration ?? 0]).sort(),
    );
  return (
    strip(live?.conditions) === strip(want.conditions) &&
    JSON.stringify(live?.supportedFeatures ?? []) === JSON.stringify(want.supportedFeatures)
  );
}

/** What {@link reconcileXMesh} did. */
export type XMeshResult = 'no-crd' | 'unchanged' | 'updated';

/**
 * Leader-only: creates XMesh `waymesh` when the CRD is installed and it is missing, then writes
 * the status of each XMesh naming `waymesh.io/mesh-controller` when it differs from the wanted one.
 */
export async function reconcileXMesh(
  client: KubeTransport,
  replica: string,
  logger: Logger,
  now: () => Date = () => new Date(),
): Promise<XMeshResult> {
  // Discovery answers 404 for a group/version nobody installed.
  if ((await kubeGet(client, `/apis/${XMESH.group}/${XMESH.version}`)) === undefined) return 'no-crd';
  let list = (await kubeCall(client, { method: 'GET', path: COLLECTION })) as { items?: XMeshObject[] };
  if (!(list.items ?? []).some((m) => m.metadata?.name === XMESH.name)) {
    try {
      await kubeCall(client, {
        method: 'POST',
        path: COLLECTION,
        body: {
          apiVersion: `${XMESH.group}/${XMESH.version}`,
          kind: 'XMesh',
          metadata: { name: XMESH.name },
          spec: { controllerName: NAMES.meshControllerName, description: 'waymesh ambient service mesh' },
        },
      });
      logger.info('XMesh created', { xmesh: XMESH.name });
    } catch (err) {
      if (!isKubeStatus(err, 409)) throw err;
    }
    list = (await kubeCall(client, { method: 'GET', path: COLLECTION })) as { items?: XMeshObject[] };
  }
  let result: XMeshResult = 'unchanged';
  for (const mesh of list.items ?? []) {
    const name = mesh.metadata?.name;
    if (name === undefined || mesh.spec?.controllerName !== NAMES.meshControllerName) continue;
    const want = desiredXMeshStatus(mesh, replica, now());
    if (sameStatus(mesh.status, want)) continue;
    try {
      await kubeCall(client, {
        method: 'PATCH',
        path: `${COLLECTION}/${encodeURIComponent(name)}/status`,
        body: { status: want },
        contentType: 'application/merge-patch+json',
      });
      result = 'updated';
    } catch (err) {
      logger.warn('XMesh status not written', { xmesh: name, error: errorMessage(err) });
      throw err;
    }
  }
  return result;
}
