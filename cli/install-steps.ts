/**
 * Steps of `waymesh install` / `uninstall` that talk to the API server: the Gateway API
 * prerequisite check, deleting install.yaml's objects in order, and sweeping what the
 * controller created by label (waypoints, root-certificate ConfigMaps, XMesh).
 */
import { MeshError } from '../common/errors.ts';
import type { KubeRest } from '../controller/kube/rest.ts';
import { deleteObject, type ResourcePaths } from './kube-ops.ts';
import {
  controllerStateObjects,
  displayName,
  LEFTOVER_QUERIES,
  uninstallOrder,
  XMESH_OBJECT,
  type ManifestObject,
} from './manifest.ts';
import type { CommandIO } from './main.ts';

const GATEWAY_CRD = 'gateways.gateway.networking.k8s.io';
const BUNDLE_VERSION = 'gateway.networking.k8s.io/bundle-version';
const GATEWAY_API_HINT =
  'install the Gateway API CRDs (standard channel, v1.2 or newer) first: kubectl apply -f ' +
  'https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml';

/** Whether a Gateway API bundle version (`v1.2.1`) is at least v1.2; undefined when unreadable. */
export function gatewayApiRecentEnough(bundleVersion: string): boolean | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(bundleVersion);
  if (m === null) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 1 || (major === 1 && minor >= 2);
}

/** Fails with an actionable message unless the Gateway API CRDs (v1.2+) are installed. */
export async function checkGatewayApi(rest: KubeRest): Promise<void> {
  const crd = (await rest.find(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${GATEWAY_CRD}`)) as
    { metadata?: { annotations?: Record<string, string> } } | undefined;
  if (crd === undefined)
    throw new MeshError('GATEWAY_API_MISSING', `the Gateway API is not installed (no CRD ${GATEWAY_CRD})`, {
      hint: GATEWAY_API_HINT,
    });
  const version = crd.metadata?.annotations?.[BUNDLE_VERSION];
  if (version !== undefined && gatewayApiRecentEnough(version) === false)
    throw new MeshError(
      'GATEWAY_API_TOO_OLD',
      `the Gateway API installed is ${version}; waymesh needs v1.2 or newer`,
      {
        hint: GATEWAY_API_HINT,
      },
    );
}

interface Listed {
  items?: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } }[];
}

/**
 * Deletes what the controller creates outside install.yaml: every object matching
 * {@link LEFTOVER_QUERIES} in any namespace, and the XMesh when its CRD is served. Prints one
 * line per object deleted; returns how many.
 */
export async function sweepLeftovers(rest: KubeRest, paths: ResourcePaths, io: CommandIO): Promise<number> {
  let deleted = 0;
  for (const q of LEFTOVER_QUERIES) {
    const list = (await rest.list(
      `${q.listPath}?labelSelector=${encodeURIComponent(q.labelSelector)}`,
    )) as Listed;
    for (const item of list.items ?? []) {
      const name = item.metadata?.name;
      if (name === undefined) continue;
      const o: ManifestObject = {
        apiVersion: q.apiVersion,
        kind: q.kind,
        metadata: {
          name,
          ...(item.metadata?.namespace === undefined ? {} : { namespace: item.metadata.namespace }),
        },
      };
      if (await deleteObject(rest, paths, o)) {
        deleted++;
        io.out(`${displayName(o)} deleted (${q.why}, namespace ${o.metadata.namespace ?? '-'})`);
      }
    }
  }
  if (await deleteObject(rest, paths, XMESH_OBJECT)) {
    deleted++;
    io.out(`${displayName(XMESH_OBJECT)} deleted`);
  }
  return deleted;
}

async function deleteListed(
  rest: KubeRest,
  paths: ResourcePaths,
  objects: readonly ManifestObject[],
  io: CommandIO,
): Promise<void> {
  for (const o of objects) if (await deleteObject(rest, paths, o)) io.out(`${displayName(o)} deleted`);
}

/**
 * The uninstall proper: stop the workloads, sweep the controller's objects, delete its CA Secret
 * and Lease, then everything else in install.yaml in reverse order (CRDs and Namespaces last).
 */
export async function deleteAll(
  rest: KubeRest,
  paths: ResourcePaths,
  objects: readonly ManifestObject[],
  namespaces: readonly string[],
  io: CommandIO,
): Promise<void> {
  const order = uninstallOrder(objects);
  const isWorkload = (o: ManifestObject): boolean =>
    ['Deployment', 'DaemonSet', 'StatefulSet'].includes(o.kind);
  await deleteListed(rest, paths, order.filter(isWorkload), io);
  await sweepLeftovers(rest, paths, io);
  await deleteListed(rest, paths, namespaces.flatMap(controllerStateObjects), io);
  await deleteListed(
    rest,
    paths,
    order.filter((o) => !isWorkload(o)),
    io,
  );
}

/** After the namespace is gone: deletes again anything a draining replica recreated. */
export async function sweepControllerObjects(
  rest: KubeRest,
  paths: ResourcePaths,
  objects: readonly ManifestObject[],
  io: CommandIO,
): Promise<void> {
  await sweepLeftovers(rest, paths, io);
  await deleteListed(rest, paths, uninstallOrder(objects), io);
}

/** `namespace/name` of every waymesh waypoint Gateway (users' objects: uninstall leaves them). */
export async function userWaypointGateways(rest: KubeRest): Promise<string[]> {
  const list = (await rest.find('/apis/gateway.networking.k8s.io/v1/gateways')) as
    | { items?: { metadata?: { name?: string; namespace?: string }; spec?: { gatewayClassName?: string } }[] }
    | undefined;
  return (list?.items ?? [])
    .filter((g) => g.spec?.gatewayClassName === 'waymesh-waypoint')
    .map((g) => `${g.metadata?.namespace ?? ''}/${g.metadata?.name ?? ''}`)
    .sort();
}
