/** GRPCRoute (grpcroute_types.go): gRPC routing by service, method and headers. */
import type { JsonSchema } from '../../types.ts';
import { bounded, kindRoot } from './common.ts';
import {
  backendRefs,
  filters,
  grpcRouteFilter,
  hostnames,
  nameValueMatches,
  parentRefs,
  routeStatus,
} from './route.ts';
import { obj, str, strEnum } from './schema.ts';

/** `GRPCMethodMatch`: gRPC service and method, exact by default. */
function methodMatch(): JsonSchema {
  return obj({
    method: str({ maxLength: 1024 }),
    service: str({ maxLength: 1024 }),
    type: strEnum(['Exact', 'RegularExpression'], { default: 'Exact' }),
  });
}

/** `GRPCRouteRule`: matches, filters and backends (no defaults: an empty rule matches all). */
function grpcRouteRule(): JsonSchema {
  return obj({
    backendRefs: backendRefs(grpcRouteFilter),
    filters: filters(grpcRouteFilter()),
    matches: bounded(obj({ headers: nameValueMatches(4096), method: methodMatch() }), 8),
  });
}

/** The openAPIV3Schema of GRPCRoute v1. */
export function grpcRouteSchema(): JsonSchema {
  return kindRoot('GRPCRoute routes gRPC requests by service, method and headers to backends.', {
    spec: obj({ hostnames: hostnames(), parentRefs: parentRefs(), rules: bounded(grpcRouteRule(), 16) }),
    status: routeStatus(),
    specRequired: false,
  });
}
