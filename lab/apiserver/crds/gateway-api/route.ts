/**
 * Pieces common to HTTPRoute and GRPCRoute (httproute_types.go, grpcroute_types.go,
 * shared_types.go): parentRefs, hostnames, header matches, filters, backendRefs and the
 * route status.
 */
import type { JsonSchema } from '../../types.ts';
import {
  backendObjectReference,
  backendObjectReferenceProps,
  bounded,
  conditions,
  controllerName,
  headerName,
  hostname,
  localObjectReference,
  parentReference,
  PATTERNS,
  preciseHostname,
  portNumber,
} from './common.ts';
import { arr, int32, listMap, obj, str, strEnum } from './schema.ts';

/** `spec.parentRefs` of a route. */
export function parentRefs(): JsonSchema {
  return bounded(parentReference(), 32);
}

/** `spec.hostnames` of a route. */
export function hostnames(): JsonSchema {
  return bounded(hostname(), 16);
}

/** A name/value match list keyed by `name` (headers, query params); `Exact` by default. */
export function nameValueMatches(valueMaxLength: number): JsonSchema {
  const item = obj(
    {
      name: headerName(),
      type: strEnum(['Exact', 'RegularExpression'], { default: 'Exact' }),
      value: str({ maxLength: valueMaxLength, minLength: 1 }),
    },
    ['name', 'value'],
  );
  return listMap(item, ['name'], { maxItems: 16 });
}

/** `HTTPHeaderFilter`: add/set/remove headers of a request or response. */
export function headerModifier(): JsonSchema {
  const header = (): JsonSchema => {
    const item = obj({ name: headerName(), value: str({ maxLength: 4096, minLength: 1 }) }, [
      'name',
      'value',
    ]);
    return listMap(item, ['name'], { maxItems: 16 });
  };
  return obj({
    add: header(),
    remove: arr(str(), { maxItems: 16, 'x-kubernetes-list-type': 'set' }),
    set: header(),
  });
}

/** `HTTPRequestMirrorFilter`: copy requests to another backend. */
export function requestMirror(): JsonSchema {
  return obj({ backendRef: backendObjectReference() }, ['backendRef']);
}

/** `HTTPPathModifier`: how a redirect or rewrite changes the path. */
function pathModifier(): JsonSchema {
  return obj(
    {
      replaceFullPath: str({ maxLength: 1024 }),
      replacePrefixMatch: str({ maxLength: 1024 }),
      type: strEnum(['ReplaceFullPath', 'ReplacePrefixMatch']),
    },
    ['type'],
  );
}

/** `HTTPRequestRedirectFilter`. */
function requestRedirect(): JsonSchema {
  return obj({
    hostname: preciseHostname(),
    path: pathModifier(),
    port: portNumber(),
    scheme: strEnum(['http', 'https']),
    statusCode: { type: 'integer', default: 302, enum: [301, 302] },
  });
}

/** `HTTPURLRewriteFilter`. */
function urlRewrite(): JsonSchema {
  return obj({ hostname: preciseHostname(), path: pathModifier() });
}

/** `HTTPRouteFilter`: one filter of an HTTPRoute rule or backendRef. */
export function httpRouteFilter(): JsonSchema {
  return obj(
    {
      extensionRef: localObjectReference(),
      requestHeaderModifier: headerModifier(),
      requestMirror: requestMirror(),
      requestRedirect: requestRedirect(),
      responseHeaderModifier: headerModifier(),
      type: strEnum([
        'RequestHeaderModifier',
        'ResponseHeaderModifier',
        'RequestMirror',
        'RequestRedirect',
        'URLRewrite',
        'ExtensionRef',
      ]),
      urlRewrite: urlRewrite(),
    },
    ['type'],
  );
}

/** `GRPCRouteFilter`: one filter of a GRPCRoute rule or backendRef (no redirect/rewrite). */
export function grpcRouteFilter(): JsonSchema {
  return obj(
    {
      extensionRef: localObjectReference(),
      requestHeaderModifier: headerModifier(),
      requestMirror: requestMirror(),
      responseHeaderModifier: headerModifier(),
      type: strEnum(['ResponseHeaderModifier', 'RequestHeaderModifier', 'RequestMirror', 'ExtensionRef']),
    },
    ['type'],
  );
}

/** A `filters` list of `filter` items. */
export function filters(filter: JsonSchema): JsonSchema {
  return bounded(filter, 16);
}

/** `backendRefs` of a rule: weighted backend references that may carry their own filters. */
export function backendRefs(filter: () => JsonSchema): JsonSchema {
  const ref = obj(
    {
      filters: filters(filter()),
      ...backendObjectReferenceProps(),
      weight: int32({ default: 1, maximum: 1000000, minimum: 0 }),
    },
    ['name'],
  );
  return bounded(ref, 16);
}

/** `RouteStatus`: per parent, the controller that handled it and its conditions. */
export function routeStatus(): JsonSchema {
  const parent = obj(
    {
      conditions: conditions({ maxItems: 8, minItems: 1 }),
      controllerName: controllerName(),
      parentRef: parentReference(),
    },
    ['controllerName', 'parentRef'],
  );
  return obj({ parents: bounded(parent, 32) }, ['parents']);
}

/** `Duration` as the Gateway API restricts it (GEP-2257), e.g. `1h30m`, `500ms`. */
export function duration(): JsonSchema {
  return str({ pattern: PATTERNS.duration });
}
