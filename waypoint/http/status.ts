/**
 * Errors rescued at the edge (STYLE.md): every failure the engine answers itself is a
 * `MeshError` with one of the codes below, and {@link edgeStatus} maps it to both an HTTP status
 * and a gRPC status. Upstream gRPC codes map back to HTTP codes for retry decisions.
 */
import { MeshError } from '../../common/errors.ts';

/** The gRPC status codes the engine produces or inspects. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The codes of errors the engine answers at the edge. */
export const EngineErrorCode = {
  NO_ROUTE: 'WAYPOINT_NO_ROUTE',
  INVALID_BACKEND: 'WAYPOINT_INVALID_BACKEND',
  NO_ENDPOINTS: 'WAYPOINT_NO_ENDPOINTS',
  CONNECT_FAILED: 'WAYPOINT_UPSTREAM_CONNECT_FAILED',
  UPSTREAM_RESET: 'WAYPOINT_UPSTREAM_RESET',
  TIMEOUT: 'WAYPOINT_TIMEOUT',
  DENIED: 'WAYPOINT_DENIED',
  RATE_LIMITED: 'WAYPOINT_RATE_LIMITED',
  BAD_REQUEST: 'WAYPOINT_BAD_REQUEST',
  UNSUPPORTED_PROTOCOL: 'WAYPOINT_UNSUPPORTED_PROTOCOL',
  /** The client went away before its answer was complete (nothing is sent; logged as 499). */
  CLIENT_GONE: 'WAYPOINT_CLIENT_GONE',
  STOPPING: 'WAYPOINT_STOPPING',
} as const;

/** An HTTP status and the gRPC status that means the same. */
export interface EdgeStatus {
  readonly http: number;
  readonly grpc: number;
}

const BY_CODE: ReadonlyMap<string, EdgeStatus> = new Map([
  [EngineErrorCode.NO_ROUTE, { http: 404, grpc: GrpcStatus.UNIMPLEMENTED }],
  [EngineErrorCode.INVALID_BACKEND, { http: 500, grpc: GrpcStatus.UNAVAILABLE }],
  [EngineErrorCode.NO_ENDPOINTS, { http: 503, grpc: GrpcStatus.UNAVAILABLE }],
  [EngineErrorCode.CONNECT_FAILED, { http: 502, grpc: GrpcStatus.UNAVAILABLE }],
  [EngineErrorCode.UPSTREAM_RESET, { http: 502, grpc: GrpcStatus.UNAVAILABLE }],
  [EngineErrorCode.TIMEOUT, { http: 504, grpc: GrpcStatus.DEADLINE_EXCEEDED }],
  [EngineErrorCode.DENIED, { http: 403, grpc: GrpcStatus.PERMISSION_DENIED }],
  [EngineErrorCode.RATE_LIMITED, { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED }],
  [EngineErrorCode.BAD_REQUEST, { http: 400, grpc: GrpcStatus.INTERNAL }],
  [EngineErrorCode.STOPPING, { http: 503, grpc: GrpcStatus.UNAVAILABLE }],
]);

const INTERNAL: EdgeStatus = { http: 500, grpc: GrpcStatus.INTERNAL };

/** The HTTP and gRPC status for an error caught at the edge (unknown errors → 500 / INTERNAL). */
export function edgeStatus(err: unknown): EdgeStatus {
  if (err instanceof MeshError) return BY_CODE.get(err.code) ?? INTERNAL;
  return INTERNAL;
}

/**
 * The HTTP status a gRPC status stands for, so a rule's retryable HTTP codes also cover gRPC
 * answers: UNAVAILABLE → 503, DEADLINE_EXCEEDED → 504, RESOURCE_EXHAUSTED → 429, INTERNAL and
 * UNKNOWN → 500, UNIMPLEMENTED → 501; other codes (client errors, OK) are never retried → 0.
 */
export function httpEquivalentOfGrpc(grpcStatus: number): number {
  switch (grpcStatus) {
    case GrpcStatus.UNAVAILABLE:
      return 503;
    case GrpcStatus.DEADLINE_EXCEEDED:
      return 504;
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return 429;
    case GrpcStatus.INTERNAL:
    case GrpcStatus.UNKNOWN:
      return 500;
    case GrpcStatus.UNIMPLEMENTED:
      return 501;
    default:
      return 0;
  }
}

/** Parses a `grpc-status` header value; undefined when absent or not a code. */
export function parseGrpcStatus(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text === '') return undefined;
  const code = Number(text);
  return Number.isInteger(code) && code >= 0 && code <= 16 ? code : undefined;
}
