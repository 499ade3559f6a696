/** Gateway (gateway_types.go): listeners bound to addresses, attached to a GatewayClass. */
import type { JsonSchema } from '../../types.ts';
import {
  bounded,
  conditions,
  hostname,
  kindRoot,
  localObjectReference,
  objectName,
  PATTERNS,
  pendingConditions,
  portNumber,
  routeGroupKind,
  secretObjectReference,
  sectionName,
} from './common.ts';
import { arr, int32, listMap, map, obj, str, strEnum } from './schema.ts';

/** `GatewayAddress` / `GatewayStatusAddress`: an IP (validated as one) or another address type. */
function gatewayAddress(): JsonSchema {
  return obj(
    {
      type: str({ default: 'IPAddress', maxLength: 253, minLength: 1, pattern: PATTERNS.addressType }),
      value: str({ maxLength: 253, minLength: 1 }),
    },
    ['value'],
    {
      oneOf: [
        {
          properties: {
            type: { enum: ['IPAddress'] },
            value: { anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] },
          },
        },
        { properties: { type: { not: { enum: ['IPAddress'] } } } },
      ],
    },
  );
}

/** `AnnotationValue`: a value of an annotation-like map (infrastructure annotations, TLS options). */
function annotationValue(): JsonSchema {
  return str({ maxLength: 4096, minLength: 0 });
}

/** metav1 `LabelSelector` (atomic, as upstream marks it). */
function labelSelector(): JsonSchema {
  const requirement = obj(
    { key: str(), operator: str(), values: arr(str(), { 'x-kubernetes-list-type': 'atomic' }) },
    ['key', 'operator'],
  );
  return obj(
    {
      matchExpressions: arr(requirement, { 'x-kubernetes-list-type': 'atomic' }),
      matchLabels: map(str()),
    },
    [],
    { 'x-kubernetes-map-type': 'atomic' },
  );
}

/** `AllowedRoutes`: which route kinds from which namespaces may attach (same namespace by default). */
function allowedRoutes(): JsonSchema {
  const namespaces = obj(
    { from: strEnum(['All', 'Selector', 'Same'], { default: 'Same' }), selector: labelSelector() },
    [],
    { default: { from: 'Same' } },
  );
  return obj({ kinds: bounded(routeGroupKind(), 8), namespaces }, [], {
    default: { namespaces: { from: 'Same' } },
  });
}

/** `GatewayTLSConfig`: certificates and mode of a TLS listener. */
function tlsConfig(): JsonSchema {
  return obj({
    certificateRefs: bounded(secretObjectReference(), 64),
    mode: strEnum(['Terminate', 'Passthrough'], { default: 'Terminate' }),
    options: map(annotationValue(), { maxProperties: 16 }),
  });
}

/** `Listener`: one port/protocol/hostname combination of the Gateway. */
function listener(): JsonSchema {
  return obj(
    {
      allowedRoutes: allowedRoutes(),
      hostname: hostname(),
      name: sectionName(),
      port: portNumber(),
      protocol: str({ maxLength: 255, minLength: 1, pattern: PATTERNS.protocol }),
      tls: tlsConfig(),
    },
    ['name', 'port', 'protocol'],
  );
}

/** `GatewayInfrastructure`: labels/annotations and parameters for what the Gateway provisions. */
function infrastructure(): JsonSchema {
  return obj({
    annotations: map(annotationValue(), { maxProperties: 8 }),
    labels: map(str({ maxLength: 63, minLength: 0, pattern: PATTERNS.labelValue }), { maxProperties: 8 }),
    parametersRef: localObjectReference(),
  });
}

/** `ListenerStatus`: attached route count, supported kinds and conditions per listener. */
function listenerStatus(): JsonSchema {
  return obj(
    {
      attachedRoutes: int32(),
      conditions: conditions({ maxItems: 8 }),
      name: sectionName(),
      supportedKinds: bounded(routeGroupKind(), 8),
    },
    ['attachedRoutes', 'conditions', 'name', 'supportedKinds'],
  );
}

/** The openAPIV3Schema of Gateway (identical in v1 and v1beta1). */
export function gatewaySchema(): JsonSchema {
  const pending = pendingConditions(['Accepted', 'Programmed']);
  const spec = obj(
    {
      addresses: bounded(gatewayAddress(), 16),
      gatewayClassName: objectName(),
      infrastructure: infrastructure(),
      listeners: listMap(listener(), ['name'], { maxItems: 64, minItems: 1 }),
    },
    ['gatewayClassName', 'listeners'],
  );
  const status = obj(
    {
      addresses: bounded(gatewayAddress(), 16),
      conditions: conditions({ maxItems: 8, default: pending }),
      listeners: listMap(listenerStatus(), ['name'], { maxItems: 64 }),
    },
    [],
    { default: { conditions: pending } },
  );
  return kindRoot('Gateway binds listeners to network addresses for the routes attached to it.', {
    spec,
    status,
    specRequired: true,
  });
}
