/** HTTPRoute (httproute_types.go): HTTP routing from Gateways or, with GAMMA, from Services. */
import type { JsonSchema } from '../../types.ts';
import { bounded, kindRoot } from './common.ts';
import {
  backendRefs,
  duration,
  filters,
  hostnames,
  httpRouteFilter,
  nameValueMatches,
  parentRefs,
  routeStatus,
} from './route.ts';
import { obj, str, strEnum } from './schema.ts';

/** `HTTPPathMatch`; a match without path matches every path (`PathPrefix /`). */
function pathMatch(): JsonSchema {
  return obj(
    {
      type: strEnum(['Exact', 'PathPrefix', 'RegularExpression'], { default: 'PathPrefix' }),
      value: str({ default: '/', maxLength: 1024 }),
    },
    [],
    { default: { type: 'PathPrefix', value: '/' } },
  );
}

/** `HTTPRouteMatch` list: path, headers, query parameters and method; one catch-all by default. */
function httpRouteMatches(): JsonSchema {
  const match = obj({
    headers: nameValueMatches(4096),
    method: strEnum(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']),
    path: pathMatch(),
    queryParams: nameValueMatches(1024),
  });
  return bounded(match, 64, undefined, [{ path: { type: 'PathPrefix', value: '/' } }]);
}

/** `HTTPRouteRule` list: matches, filters, backends and timeouts; one catch-all rule by default. */
function httpRouteRules(): JsonSchema {
  const rule = obj({
    backendRefs: backendRefs(httpRouteFilter),
    filters: filters(httpRouteFilter()),
    matches: httpRouteMatches(),
    timeouts: obj({ backendRequest: duration(), request: duration() }),
  });
  return bounded(rule, 16, undefined, [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }]);
}

/** The openAPIV3Schema of HTTPRoute (identical in v1 and v1beta1). */
export function httpRouteSchema(): JsonSchema {
  return kindRoot('HTTPRoute routes HTTP requests from Gateways or Services (GAMMA) to backends.', {
    spec: obj({ hostnames: hostnames(), parentRefs: parentRefs(), rules: httpRouteRules() }),
    status: routeStatus(),
    specRequired: true,
  });
}
