/**
 * Go types of every built-in object's `metadata` (ObjectMeta) and of the fields of built-in
 * kinds that manifests most often get wrong, checked as kube-apiserver's JSON decoder checks
 * them: `data: {port: 8080}` in a ConfigMap, an env `value: 8080`, `args: [--port, 8080]` or
 * `containerPort: "8080"` is a 400 there — the object cannot be decoded into its Go struct —
 * and must be here too, or a manifest that works in the lab fails in a cluster (and a number
 * reaches a program that expected a string).
 *
 * The message is kube's: `ConfigMap in version "v1" cannot be handled as a ConfigMap: json:
 * cannot unmarshal number into Go struct field ConfigMap.data of type string` (Go's
 * UnmarshalTypeError: the innermost struct, the JSON path from the root without indices or map
 * keys, the Go type). `null` decodes to the zero value, as in Go. Only the fields below are
 * typed; the rest of a built-in object is stored as sent (custom resources have their schemas).
 */
import { ApiError, type Json, type KubeObject, type ResourceDef } from './types.ts';
import { resourceKey } from './registry.ts';

/** A Go type the decoder checks, and how Go prints it. */
type GoType =
  | { readonly t: 'string' | 'bool' }
  | { readonly t: 'int'; readonly bits: 32 | 64 }
  | { readonly t: 'bytes' }
  | { readonly t: 'map'; readonly of: GoType; readonly go: string }
  | { readonly t: 'list'; readonly of: GoType; readonly go: string }
  | {
      readonly t: 'struct';
      readonly name: string;
      readonly go: string;
      readonly fields: Readonly<Record<string, GoType>>;
    };

const STRING: GoType = { t: 'string' };
const BOOL: GoType = { t: 'bool' };
const INT32: GoType = { t: 'int', bits: 32 };
const INT64: GoType = { t: 'int', bits: 64 };
const BYTES: GoType = { t: 'bytes' };
const STRINGS: GoType = { t: 'list', of: STRING, go: '[]string' };
const STRING_MAP: GoType = { t: 'map', of: STRING, go: 'map[string]string' };

const struct = (name: string, pkg: string, fields: Record<string, GoType>): GoType => ({
  t: 'struct',
  name,
  go: `${pkg}.${name}`,
  fields,
});
const listOf = (of: GoType): GoType => ({ t: 'list', of, go: `[]${goName(of)}` });

const OBJECT_META = struct('ObjectMeta', 'v1', {
  name: STRING,
  generateName: STRING,
  namespace: STRING,
  uid: STRING,
  resourceVersion: STRING,
  generation: INT64,
  deletionGracePeriodSeconds: INT64,
  labels: STRING_MAP,
  annotations: STRING_MAP,
  finalizers: STRINGS,
  ownerReferences: listOf(
    struct('OwnerReference', 'v1', {
      apiVersion: STRING,
      kind: STRING,
      name: STRING,
      uid: STRING,
      controller: BOOL,
      blockOwnerDeletion: BOOL,
    }),
  ),
  managedFields: listOf(
    struct('ManagedFieldsEntry', 'v1', {
      manager: STRING,
      operation: STRING,
      apiVersion: STRING,
      fieldsType: STRING,
      subresource: STRING,
    }),
  ),
});
const ENV_VAR = struct('EnvVar', 'v1', { name: STRING, value: STRING });
const CONTAINER_PORT = struct('ContainerPort', 'v1', {
  name: STRING,
  containerPort: INT32,
  hostPort: INT32,
  protocol: STRING,
});
const CONTAINER = struct('Container', 'v1', {
  name: STRING,
  image: STRING,
  command: STRINGS,
  args: STRINGS,
  workingDir: STRING,
  env: listOf(ENV_VAR),
  ports: listOf(CONTAINER_PORT),
});
const POD_SPEC = struct('PodSpec', 'v1', {
  containers: listOf(CONTAINER),
  initContainers: listOf(CONTAINER),
  nodeSelector: STRING_MAP,
  nodeName: STRING,
  serviceAccountName: STRING,
  hostNetwork: BOOL,
  terminationGracePeriodSeconds: INT64,
});
const TEMPLATE = struct('PodTemplateSpec', 'v1', { metadata: OBJECT_META, spec: POD_SPEC });
const SELECTOR = struct('LabelSelector', 'v1', { matchLabels: STRING_MAP });
const SERVICE_PORT = struct('ServicePort', 'v1', {
  name: STRING,
  protocol: STRING,
  appProtocol: STRING,
  port: INT32,
  nodePort: INT32,
});

/** The typed fields of each built-in kind, by resource key. */
const KINDS: ReadonlyMap<string, GoType> = new Map([
  [
    'configmaps',
    struct('ConfigMap', 'v1', {
      data: STRING_MAP,
      binaryData: { t: 'map', of: BYTES, go: 'map[string][]uint8' },
    }),
  ],
  [
    'secrets',
    struct('Secret', 'v1', {
      data: { t: 'map', of: BYTES, go: 'map[string][]uint8' },
      stringData: STRING_MAP,
      type: STRING,
    }),
  ],
  ['pods', struct('Pod', 'v1', { spec: POD_SPEC })],
  [
    'services',
    struct('Service', 'v1', {
      spec: struct('ServiceSpec', 'v1', {
        selector: STRING_MAP,
        ports: listOf(SERVICE_PORT),
        type: STRING,
        clusterIP: STRING,
      }),
    }),
  ],
  [
    'deployments.apps',
    struct('Deployment', 'v1', {
      spec: struct('DeploymentSpec', 'v1', {
        replicas: INT32,
        selector: SELECTOR,
        template: TEMPLATE,
        progressDeadlineSeconds: INT32,
        revisionHistoryLimit: INT32,
        minReadySeconds: INT32,
        paused: BOOL,
      }),
    }),
  ],
  [
    'daemonsets.apps',
    struct('DaemonSet', 'v1', {
      spec: struct('DaemonSetSpec', 'v1', {
        selector: SELECTOR,
        template: TEMPLATE,
        revisionHistoryLimit: INT32,
        minReadySeconds: INT32,
      }),
    }),
  ],
]);

/** How Go names a JSON value's kind in an UnmarshalTypeError. */
function jsonKind(v: Json): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

function goName(t: GoType): string {
  switch (t.t) {
    case 'string':
    case 'bool':
      return t.t;
    case 'int':
      return `int${t.bits}`;
    case 'bytes':
      return '[]uint8';
    default:
      return t.go;
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The decode error of `v` against `t`, or undefined. `struct`/`path` name where it sits. */
function check(v: Json | undefined, t: GoType, struct: string, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  const mismatch = (value = jsonKind(v)): string =>
    `json: cannot unmarshal ${value} into Go struct field ${struct}.${path} of type ${goName(t)}`;
  switch (t.t) {
    case 'string':
      return typeof v === 'string' ? undefined : mismatch();
    case 'bool':
      return typeof v === 'boolean' ? undefined : mismatch();
    case 'int': {
      if (typeof v !== 'number') return mismatch();
      const max = t.bits === 32 ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
      return Number.isInteger(v) && v <= max && v >= -max - 1 ? undefined : mismatch(`number ${v}`);
    }
    case 'bytes': {
      if (typeof v !== 'string') return mismatch();
      if (v.length % 4 === 0 && BASE64.test(v)) return undefined;
      // Go's base64.CorruptInputError: the offset of the first byte that cannot be decoded, or
      // where the last, incomplete quantum starts when every byte is in the alphabet.
      let at = 0;
      while (at < v.length && /[A-Za-z0-9+/]/.test(v.charAt(at))) at++;
      if (at === v.length) at -= v.length % 4;
      return `illegal base64 data at input byte ${at}`;
    }
    case 'map': {
      if (typeof v !== 'object' || Array.isArray(v)) return mismatch();
      for (const value of Object.values(v)) {
        const err = check(value, t.of, struct, path);
        if (err !== undefined) return err;
      }
      return undefined;
    }
    case 'list': {
      if (!Array.isArray(v)) return mismatch();
      for (const item of v) {
        const err = check(item, t.of, struct, path);
        if (err !== undefined) return err;
      }
      return undefined;
    }
    case 'struct': {
      if (typeof v !== 'object' || Array.isArray(v)) return mismatch();
      for (const [key, ft] of Object.entries(t.fields)) {
        if (!Object.hasOwn(v, key)) continue;
        const err = check(v[key], ft, t.name, path === '' ? key : `${path}.${key}`);
        if (err !== undefined) return err;
      }
      return undefined;
    }
  }
}

/**
 * Throws kube's 400 when a typed field of built-in object `obj` (of `def` in `version`) has a
 * value its Go type cannot hold.
 */
export function checkBuiltinTypes(def: ResourceDef, version: string, obj: KubeObject): void {
  if (!def.builtin) return;
  const body = obj as unknown as Json;
  // Every built-in kind's metadata is an ObjectMeta; some kinds type more (KINDS).
  let err = check(obj.metadata as Json, OBJECT_META, def.kind, 'metadata');
  const root = KINDS.get(resourceKey(def));
  if (err === undefined && root !== undefined) err = check(body, root, def.kind, '');
  if (err !== undefined) {
    throw new ApiError(
      400,
      'BadRequest',
      `${def.kind} in version "${version}" cannot be handled as a ${def.kind}: ${err}`,
    );
  }
}
