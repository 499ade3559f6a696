/**
 * Sub-schemas shared by several Gateway API kinds, named after the Go types of
 * sigs.k8s.io/gateway-api/apis/v1 (shared_types.go, object_reference_types.go) whose
 * kubebuilder markers they reproduce: names, references, hostnames, conditions.
 */
import type { Json, JsonObject, JsonSchema } from '../../types.ts';
import { arr, copyJson, int32, int64, listMap, obj, str, strEnum } from './schema.ts';

/** API group of every Gateway API kind. */
export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_SUBDOMAIN = String.raw`${DNS_LABEL}(\.${DNS_LABEL})*`;
/** The path part of a domain-prefixed string (GatewayController, AddressType). */
const PREFIXED_PATH = String.raw`\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+`;

/** Regular expressions of the Gateway API string types (ECMAScript-compatible RE2 subset). */
export const PATTERNS = {
  group: `^$|^${DNS_SUBDOMAIN}$`,
  kind: '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$',
  namespace: `^${DNS_LABEL}$`,
  sectionName: `^${DNS_SUBDOMAIN}$`,
  preciseHostname: `^${DNS_SUBDOMAIN}$`,
  hostname: String.raw`^(\*\.)?${DNS_SUBDOMAIN}$`,
  controllerName: `^${DNS_SUBDOMAIN}${PREFIXED_PATH}$`,
  addressType: `^Hostname|IPAddress|NamedAddress|${DNS_SUBDOMAIN}${PREFIXED_PATH}$`,
  protocol: String.raw`^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|${DNS_SUBDOMAIN}\/[A-Za-z0-9]+$`,
  headerName: String.raw`^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$`,
  duration: '^([0-9]{1,5}(h|m|s|ms)){1,4}$',
  labelValue: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$',
  conditionReason: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
  conditionType: String.raw`^(${DNS_SUBDOMAIN}/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$`,
} as const;

/** `Group`: an API group, `""` meaning the core group; `dflt` is the marker default if any. */
export function group(dflt?: string): JsonSchema {
  const node = str({ maxLength: 253, pattern: PATTERNS.group });
  return dflt === undefined ? node : { ...node, default: dflt };
}

/** `Kind`: a CamelCase kind name. */
export function kind(dflt?: string): JsonSchema {
  const node = str({ maxLength: 63, minLength: 1, pattern: PATTERNS.kind });
  return dflt === undefined ? node : { ...node, default: dflt };
}

/** `ObjectName`: any object name. */
export function objectName(): JsonSchema {
  return str({ maxLength: 253, minLength: 1 });
}

/** `Namespace`: an RFC 1123 label. */
export function namespace(): JsonSchema {
  return str({ maxLength: 63, minLength: 1, pattern: PATTERNS.namespace });
}

/** `SectionName`: a listener (or port) name, an RFC 1123 subdomain. */
export function sectionName(): JsonSchema {
  return str({ maxLength: 253, minLength: 1, pattern: PATTERNS.sectionName });
}

/** `PortNumber`: 1–65535. */
export function portNumber(): JsonSchema {
  return int32({ maximum: 65535, minimum: 1 });
}

/** `Hostname`: a DNS name that may start with a `*.` wildcard label. */
export function hostname(): JsonSchema {
  return str({ maxLength: 253, minLength: 1, pattern: PATTERNS.hostname });
}

/** `PreciseHostname`: a DNS name without wildcard. */
export function preciseHostname(): JsonSchema {
  return str({ maxLength: 253, minLength: 1, pattern: PATTERNS.preciseHostname });
}

/** `GatewayController`: a domain-prefixed path such as `example.net/gateway-controller`. */
export function controllerName(): JsonSchema {
  return str({ maxLength: 253, minLength: 1, pattern: PATTERNS.controllerName });
}

/** `HTTPHeaderName`: an RFC 7230 token. */
export function headerName(): JsonSchema {
  return str({ maxLength: 256, minLength: 1, pattern: PATTERNS.headerName });
}

/** `ParentReference`: the Gateway (by default) a route attaches to. */
export function parentReference(): JsonSchema {
  return obj(
    {
      group: group(GATEWAY_GROUP),
      kind: kind('Gateway'),
      name: objectName(),
      namespace: namespace(),
      port: portNumber(),
      sectionName: sectionName(),
    },
    ['name'],
  );
}

/** Properties of `BackendObjectReference` (a Service by default), without `required`. */
export function backendObjectReferenceProps(): Record<string, JsonSchema> {
  return {
    group: group(''),
    kind: kind('Service'),
    name: objectName(),
    namespace: namespace(),
    port: portNumber(),
  };
}

/** `BackendObjectReference`: a backend (Service by default) in any namespace. */
export function backendObjectReference(): JsonSchema {
  return obj(backendObjectReferenceProps(), ['name']);
}

/** `SecretObjectReference`: a certificate (Secret by default). */
export function secretObjectReference(): JsonSchema {
  return obj({ group: group(''), kind: kind('Secret'), name: objectName(), namespace: namespace() }, [
    'name',
  ]);
}

/** `LocalObjectReference`: an object in the same namespace (used by `extensionRef`). */
export function localObjectReference(): JsonSchema {
  return obj({ group: group(), kind: kind(), name: objectName() }, ['group', 'kind', 'name']);
}

/** `RouteGroupKind`: a route kind a listener accepts (group defaults to the Gateway API group). */
export function routeGroupKind(): JsonSchema {
  return obj({ group: group(GATEWAY_GROUP), kind: kind() }, ['kind']);
}

/** metav1 `Condition`, as every status of the Gateway API carries it. */
export function condition(): JsonSchema {
  return obj(
    {
      lastTransitionTime: str({ format: 'date-time' }),
      message: str({ maxLength: 32768 }),
      observedGeneration: int64({ minimum: 0 }),
      reason: str({ maxLength: 1024, minLength: 1, pattern: PATTERNS.conditionReason }),
      status: strEnum(['True', 'False', 'Unknown']),
      type: str({ maxLength: 316, pattern: PATTERNS.conditionType }),
    },
    ['lastTransitionTime', 'message', 'reason', 'status', 'type'],
  );
}

/** A `conditions` list keyed by `type`, with optional bounds and default. */
export function conditions(opts: { maxItems: number; minItems?: number; default?: Json }): JsonSchema {
  const node = listMap(condition(), ['type'], { maxItems: opts.maxItems });
  if (opts.minItems !== undefined) node.minItems = opts.minItems;
  if (opts.default !== undefined) node.default = copyJson(opts.default);
  return node;
}

/**
 * The conditions a real cluster shows before any controller acted: `status: Unknown`,
 * `reason: Pending` at the Unix epoch (the `+kubebuilder:default` of GatewayClass/Gateway status).
 */
export function pendingConditions(types: readonly string[]): JsonObject[] {
  return types.map((type) => ({
    lastTransitionTime: '1970-01-01T00:00:00Z',
    message: 'Waiting for controller',
    reason: 'Pending',
    status: 'Unknown',
    type,
  }));
}

/** The root of a kind's schema: apiVersion, kind, metadata, spec and (optional) status. */
export function kindRoot(
  description: string,
  parts: { spec: JsonSchema; status?: JsonSchema; specRequired: boolean },
): JsonSchema {
  const properties: Record<string, JsonSchema> = {
    apiVersion: str(),
    kind: str(),
    metadata: { type: 'object' },
    spec: parts.spec,
  };
  if (parts.status !== undefined) properties['status'] = parts.status;
  return obj(properties, parts.specRequired ? ['spec'] : [], { description });
}

/** A list of `items` limited to `maxItems` (the common `+kubebuilder:validation:MaxItems`). */
export function bounded(items: JsonSchema, maxItems: number, minItems?: number, dflt?: Json): JsonSchema {
  const node = arr(items, { maxItems });
  if (minItems !== undefined) node.minItems = minItems;
  if (dflt !== undefined) node.default = copyJson(dflt);
  return node;
}
