/**
 * The pure half of `waymesh install` / `uninstall`: parse `manifests/install.yaml` into objects,
 * order them for applying (Namespaces, then CRDs, then the rest in file order) and for deleting
 * (workloads first so nothing recreates what follows, then the rest in reverse), name them as
 * kubectl does, and describe the objects the controller creates that install.yaml does not list.
 */
import yaml from 'js-yaml';
import { MeshError } from '../common/errors.ts';
import { ROOT_CONFIGMAP_LABEL } from '../controller/ca/root-configmap.ts';
import { XMESH } from '../controller/mesh/xmesh.ts';
import { WAYPOINT } from '../controller/provision/index.ts';

/** One Kubernetes object from a manifest, validated just enough to address it. */
export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

/** Parses a multi-document YAML manifest; empty documents are skipped, malformed ones throw. */
export function parseManifest(text: string, source: string): ManifestObject[] {
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text);
  } catch (err) {
    throw new MeshError('MANIFEST_INVALID', `${source} is not valid YAML: ${(err as Error).message}`);
  }
  const out: ManifestObject[] = [];
  docs.forEach((doc, i) => {
    if (doc === null || doc === undefined) return;
    const o = doc as Partial<ManifestObject>;
    const name = o.metadata?.name;
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof name !== 'string')
      throw new MeshError(
        'MANIFEST_INVALID',
        `${source}: document ${i + 1} lacks apiVersion, kind or metadata.name`,
        { hint: 'regenerate it with `npm run manifests`' },
      );
    out.push(o as ManifestObject);
  });
  return out;
}

/** The API group of an `apiVersion` (`''` for the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

/** kubectl's name for an object: `deployment.apps/waymesh-controller`, `namespace/waymesh-system`. */
export function displayName(o: Pick<ManifestObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  const group = groupOf(o.apiVersion);
  return `${o.kind.toLowerCase()}${group === '' ? '' : `.${group}`}/${o.metadata.name}`;
}

const isCrd = (o: ManifestObject): boolean =>
  o.kind === 'CustomResourceDefinition' && groupOf(o.apiVersion) === 'apiextensions.k8s.io';

/** Kinds whose pods act on the cluster (they are stopped before anything else is deleted). */
const WORKLOAD_KINDS: ReadonlySet<string> = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);

function rank(o: ManifestObject): number {
  if (o.kind === 'Namespace' && o.apiVersion === 'v1') return 0;
  return isCrd(o) ? 1 : 2;
}

/**
 * The apply order: Namespaces, then CRDs, then everything else, each group in file order (a CR
 * can only be created once its CRD is Established; namespaced objects need their Namespace).
 */
export function installOrder(objects: readonly ManifestObject[]): ManifestObject[] {
  return objects
    .map((o, i) => ({ o, i }))
    .sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i)
    .map((x) => x.o);
}

/** The CRDs among `objects` (the install waits for each to be Established). */
export function crdsOf(objects: readonly ManifestObject[]): ManifestObject[] {
  return objects.filter(isCrd);
}

/**
 * The delete order: workloads first (so the controller stops before its RBAC and the objects
 * it would recreate go), then the reverse of the apply order, so Namespaces and CRDs go last.
 */
export function uninstallOrder(objects: readonly ManifestObject[]): ManifestObject[] {
  const reversed = installOrder(objects).reverse();
  return [
    ...reversed.filter((o) => WORKLOAD_KINDS.has(o.kind)),
    ...reversed.filter((o) => !WORKLOAD_KINDS.has(o.kind)),
  ];
}

/** A set of objects the controller creates outside install.yaml, found by label in every namespace. */
export interface LeftoverQuery {
  readonly apiVersion: string;
  readonly kind: string;
  /** Cluster-wide list path (all namespaces). */
  readonly listPath: string;
  readonly labelSelector: string;
  /** Why they exist (printed by uninstall). */
  readonly why: string;
}

/** Everything the controller creates by label: waypoint objects and the root-certificate ConfigMaps. */
export const LEFTOVER_QUERIES: readonly LeftoverQuery[] = [
  ...(
    [
      ['apps/v1', 'Deployment', '/apis/apps/v1/deployments'],
      ['v1', 'Service', '/api/v1/services'],
      ['v1', 'ServiceAccount', '/api/v1/serviceaccounts'],
    ] as const
  ).map(([apiVersion, kind, listPath]) => ({
    apiVersion,
    kind,
    listPath,
    labelSelector: `${WAYPOINT.waypointLabel}=true`,
    why: 'waypoint',
  })),
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    listPath: '/api/v1/configmaps',
    labelSelector: `${ROOT_CONFIGMAP_LABEL}=true`,
    why: 'CA root certificate',
  },
];

/** Objects in the controller's namespace that go with it but are deleted explicitly (for the record). */
export function controllerStateObjects(namespace: string): ManifestObject[] {
  return [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'waymesh-ca', namespace } },
    {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'waymesh-controller', namespace },
    },
  ];
}

/** The experimental XMesh the leader keeps (controller/mesh/xmesh.ts), deleted when its CRD exists. */
export const XMESH_OBJECT: ManifestObject = {
  apiVersion: `${XMESH.group}/${XMESH.version}`,
  kind: 'XMesh',
  metadata: { name: XMESH.name },
};

/** kubectl's verdict for one server-side apply, from the resourceVersion before and after. */
export function applyVerdict(
  before: string | undefined,
  after: string | undefined,
): 'created' | 'configured' | 'unchanged' {
  if (before === undefined) return 'created';
  return before === after ? 'unchanged' : 'configured';
}
