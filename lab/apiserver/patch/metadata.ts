/**
 * Patch metadata of built-in kinds: for each field that is not a plain "replace" list, its
 * patch strategy and merge key, as upstream's Go types declare them with
 * `patchStrategy:"merge" patchMergeKey:"name"` (k8s.io/api core/v1, apps/v1, ...). Nested
 * structs name the struct type they hold so the lookup can descend. Everything not listed is
 * a map that merges recursively or a list that is replaced as a whole.
 *
 * Used by strategic merge patch and by server-side apply (which derives its `k:{...}` list
 * keys from the same merge keys).
 */
import type { Json, JsonObject } from '../types.ts';

/** What a field of a struct is, for patching. */
export interface FieldPatchMeta {
  /** `merge`: lists merge (by `mergeKey`, or as a set of primitives); `retainKeys` may be added. */
  readonly strategy?: 'merge' | 'merge,retainKeys' | 'retainKeys';
  /** Field identifying list elements, e.g. `name` for containers. */
  readonly mergeKey?: string;
  /** The struct type the field (or each list element) holds, for nested lookups. */
  readonly type?: string;
  /**
   * Server-side apply's list-map keys when they differ from the merge key (upstream
   * `+listMapKey` markers), e.g. `containerPort` + `protocol` so 53/TCP and 53/UDP coexist.
   */
  readonly applyKeys?: readonly string[];
}

/** Defaults of key fields the server fills in before keys are compared (upstream defaulting). */
const KEY_DEFAULTS: Readonly<Record<string, string>> = { protocol: 'TCP' };

type Struct = Readonly<Record<string, FieldPatchMeta>>;

const merge = (mergeKey: string, type?: string): FieldPatchMeta =>
  type === undefined ? { strategy: 'merge', mergeKey } : { strategy: 'merge', mergeKey, type };
const struct = (type: string): FieldPatchMeta => ({ type });

/** Struct types by name. Lists not listed here (tolerations, envFrom, subsets, ...) replace. */
const STRUCTS: Readonly<Record<string, Struct>> = {
  ObjectMeta: {
    finalizers: { strategy: 'merge' },
    ownerReferences: merge('uid'),
  },
  PodTemplateSpec: { metadata: struct('ObjectMeta'), spec: struct('PodSpec') },
  PodSpec: {
    containers: merge('name', 'Container'),
    initContainers: merge('name', 'Container'),
    ephemeralContainers: merge('name', 'Container'),
    volumes: { strategy: 'merge,retainKeys', mergeKey: 'name' },
    imagePullSecrets: merge('name'),
    hostAliases: merge('ip'),
    topologySpreadConstraints: merge('topologyKey'),
    resourceClaims: { strategy: 'merge,retainKeys', mergeKey: 'name' },
    schedulingGates: merge('name'),
  },
  Container: {
    ports: { ...merge('containerPort'), applyKeys: ['containerPort', 'protocol'] },
    env: merge('name'),
    volumeMounts: merge('mountPath'),
    volumeDevices: merge('devicePath'),
  },
  PodStatus: {
    conditions: merge('type'),
    podIPs: merge('ip'),
    hostIPs: merge('ip'),
  },
  Pod: { metadata: struct('ObjectMeta'), spec: struct('PodSpec'), status: struct('PodStatus') },
  PodTemplate: { metadata: struct('ObjectMeta'), template: struct('PodTemplateSpec') },
  WorkloadSpec: {
    template: struct('PodTemplateSpec'),
    strategy: { strategy: 'retainKeys' },
  },
  WorkloadStatus: { conditions: merge('type') },
  Workload: {
    metadata: struct('ObjectMeta'),
    spec: struct('WorkloadSpec'),
    status: struct('WorkloadStatus'),
  },
  ServiceSpec: { ports: { ...merge('port'), applyKeys: ['port', 'protocol'] } },
  ServiceStatus: { conditions: merge('type') },
  Service: { metadata: struct('ObjectMeta'), spec: struct('ServiceSpec'), status: struct('ServiceStatus') },
  NodeStatus: { conditions: merge('type'), addresses: merge('type') },
  Node: { metadata: struct('ObjectMeta'), status: struct('NodeStatus') },
  NamespaceStatus: { conditions: merge('type') },
  Namespace: { metadata: struct('ObjectMeta'), status: struct('NamespaceStatus') },
  ServiceAccount: { metadata: struct('ObjectMeta'), secrets: merge('name') },
  /** Kinds whose only patch metadata is their ObjectMeta (EndpointSlice/Endpoints lists replace). */
  Plain: { metadata: struct('ObjectMeta') },
};

/** Root struct type of each built-in kind. Kinds not listed get no patch metadata at all. */
const KIND_ROOTS: Readonly<Record<string, string>> = {
  Pod: 'Pod',
  PodTemplate: 'PodTemplate',
  Deployment: 'Workload',
  DaemonSet: 'Workload',
  ReplicaSet: 'Workload',
  StatefulSet: 'Workload',
  Job: 'Workload',
  Service: 'Service',
  Node: 'Node',
  Namespace: 'Namespace',
  ServiceAccount: 'ServiceAccount',
  ConfigMap: 'Plain',
  Secret: 'Plain',
  Endpoints: 'Plain',
  EndpointSlice: 'Plain',
  Event: 'Plain',
  Lease: 'Plain',
  CustomResourceDefinition: 'Plain',
};

/** Root struct type name of `kind`, or undefined for kinds without patch metadata. */
export function rootType(kind: string): string | undefined {
  return KIND_ROOTS[kind];
}

/** Patch metadata of `field` inside struct `type` (empty when nothing is declared). */
export function fieldMeta(type: string | undefined, field: string): FieldPatchMeta {
  if (type === undefined) return {};
  const s = STRUCTS[type];
  return (s !== undefined && Object.hasOwn(s, field) ? s[field] : undefined) ?? {};
}

/** True when the field's lists merge rather than replace. */
export function mergesLists(meta: FieldPatchMeta): boolean {
  return meta.strategy === 'merge' || meta.strategy === 'merge,retainKeys';
}

/** Server-side apply's key fields of a keyed list, sorted; undefined for sets and atomic lists. */
export function applyKeys(meta: FieldPatchMeta): readonly string[] | undefined {
  if (!mergesLists(meta) || meta.mergeKey === undefined) return undefined;
  return [...(meta.applyKeys ?? [meta.mergeKey])].sort();
}

/** The value of key field `field` of a list item, with the server's default when it is absent. */
export function keyValue(item: JsonObject, field: string): Json {
  return item[field] ?? KEY_DEFAULTS[field] ?? null;
}
