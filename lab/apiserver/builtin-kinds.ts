/**
 * The built-in kinds the lab serves, described as ResourceDefs (names, short names, categories,
 * scope and subresources as upstream Kubernetes v1.32 lists them in discovery).
 */
import type { ResourceDef } from './types.ts';

/** Verbs of an ordinary stored resource. */
export const STANDARD_VERBS = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];

interface Spec {
  group: string;
  version: string;
  kind: string;
  plural: string;
  short?: string[];
  categories?: string[];
  namespaced: boolean;
  status?: boolean;
  verbs?: string[];
}

function def(s: Spec): ResourceDef {
  return {
    group: s.group,
    kind: s.kind,
    listKind: `${s.kind}List`,
    plural: s.plural,
    singular: s.kind.toLowerCase(),
    shortNames: s.short ?? [],
    categories: s.categories ?? [],
    namespaced: s.namespaced,
    versions: [
      {
        name: s.version,
        served: true,
        storage: true,
        subresources: s.status === true ? { status: true } : {},
      },
    ],
    builtin: true,
    verbs: s.verbs ?? STANDARD_VERBS,
  };
}

/** Every built-in resource, in discovery order. */
export const BUILTIN_DEFS: readonly ResourceDef[] = [
  def({
    group: '',
    version: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    short: ['ns'],
    namespaced: false,
    status: true,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  }),
  def({
    group: '',
    version: 'v1',
    kind: 'Pod',
    plural: 'pods',
    short: ['po'],
    categories: ['all'],
    namespaced: true,
    status: true,
  }),
  def({
    group: '',
    version: 'v1',
    kind: 'Service',
    plural: 'services',
    short: ['svc'],
    categories: ['all'],
    namespaced: true,
    status: true,
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  }),
  def({
    group: '',
    version: 'v1',
    kind: 'ServiceAccount',
    plural: 'serviceaccounts',
    short: ['sa'],
    namespaced: true,
  }),
  def({ group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true }),
  def({ group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', short: ['cm'], namespaced: true }),
  def({
    group: '',
    version: 'v1',
    kind: 'Node',
    plural: 'nodes',
    short: ['no'],
    namespaced: false,
    status: true,
  }),
  def({ group: '', version: 'v1', kind: 'Endpoints', plural: 'endpoints', short: ['ep'], namespaced: true }),
  def({ group: '', version: 'v1', kind: 'Event', plural: 'events', short: ['ev'], namespaced: true }),
  def({
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    plural: 'deployments',
    short: ['deploy'],
    categories: ['all'],
    namespaced: true,
    status: true,
  }),
  def({
    group: 'apps',
    version: 'v1',
    kind: 'DaemonSet',
    plural: 'daemonsets',
    short: ['ds'],
    categories: ['all'],
    namespaced: true,
    status: true,
  }),
  def({
    group: 'discovery.k8s.io',
    version: 'v1',
    kind: 'EndpointSlice',
    plural: 'endpointslices',
    namespaced: true,
  }),
  def({ group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true }),
  // Stored so install manifests apply as on a real cluster; the lab does not enforce them.
  def({
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'ClusterRole',
    plural: 'clusterroles',
    namespaced: false,
  }),
  def({
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'ClusterRoleBinding',
    plural: 'clusterrolebindings',
    namespaced: false,
  }),
  def({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'Role', plural: 'roles', namespaced: true }),
  def({
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'RoleBinding',
    plural: 'rolebindings',
    namespaced: true,
  }),
  def({
    group: 'authentication.k8s.io',
    version: 'v1',
    kind: 'TokenReview',
    plural: 'tokenreviews',
    namespaced: false,
    verbs: ['create'],
  }),
  def({
    group: 'apiextensions.k8s.io',
    version: 'v1',
    kind: 'CustomResourceDefinition',
    plural: 'customresourcedefinitions',
    short: ['crd', 'crds'],
    namespaced: false,
    status: true,
  }),
];

/** Subresources listed in discovery for built-ins, besides `status`: resource → [sub, kind, verbs]. */
export const BUILTIN_EXTRA_SUBRESOURCES: Readonly<
  Record<string, readonly { name: string; group: string; version: string; kind: string; verbs: string[] }[]>
> = {
  serviceaccounts: [
    { name: 'token', group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] },
  ],
};

/** Resources that exist only as create-and-answer (never stored). */
export const VIRTUAL_RESOURCES = new Set(['tokenreviews.authentication.k8s.io']);

/** Well-known upstream kinds the lab deliberately does not serve (for a clear 404 message). */
export const UNSUPPORTED_GROUPS: Readonly<Record<string, string>> = {
  'admissionregistration.k8s.io': 'admission policies and webhooks',
  'networking.k8s.io': 'Ingress and NetworkPolicy',
  batch: 'Jobs and CronJobs',
  policy: 'PodDisruptionBudgets',
  autoscaling: 'autoscalers',
  'storage.k8s.io': 'storage classes',
};
