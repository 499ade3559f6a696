/**
 * Match precedence, decided here so the waypoint can take the first matching entry.
 * HTTPRoute (Gateway API v1 `HTTPRouteRule.matches`): Exact path, then longest PathPrefix, then
 * method, most headers, most query params. RegularExpression paths are implementation-specific:
 * waymesh places them between Exact and PathPrefix, longest pattern first (as Istio does).
 * GRPCRoute (`GRPCRouteRule.matches`): waymesh orders Exact method matches before
 * RegularExpression ones before none, then most characters in service, in method, most headers.
 * Ties: oldest route (creationTimestamp), then `namespace/name`, then rule and match order.
 */
import type { GrpcMatch, HttpMatch, RouteEntry } from '../../../common/ir/index.ts';

/** A route entry with what ties are broken by. */
export interface Ranked {
  readonly entry: RouteEntry;
  /** creationTimestamp in ms; routes without a valid one sort as newest. */
  readonly createdMs: number;
  readonly ruleIndex: number;
  readonly matchIndex: number;
}

const PATH_RANK: Readonly<Record<string, number>> = { Exact: 0, RegularExpression: 1, PathPrefix: 2 };

/** Negative when match `a` takes precedence over `b` (HTTP criteria only). */
export function compareHttp(a: HttpMatch, b: HttpMatch): number {
  const pa = a.path ?? { type: 'PathPrefix', value: '/' };
  const pb = b.path ?? { type: 'PathPrefix', value: '/' };
  return (
    (PATH_RANK[pa.type] ?? 3) - (PATH_RANK[pb.type] ?? 3) ||
    pb.value.length - pa.value.length ||
    Number(b.method !== undefined) - Number(a.method !== undefined) ||
    b.headers.length - a.headers.length ||
    b.queryParams.length - a.queryParams.length
  );
}

function grpcRank(m: GrpcMatch): number {
  if (m.method === undefined) return 2;
  return m.method.type === 'Exact' ? 0 : 1;
}

/** Negative when match `a` takes precedence over `b` (gRPC criteria only). */
export function compareGrpc(a: GrpcMatch, b: GrpcMatch): number {
  return (
    grpcRank(a) - grpcRank(b) ||
    (b.method?.service?.length ?? 0) - (a.method?.service?.length ?? 0) ||
    (b.method?.method?.length ?? 0) - (a.method?.method?.length ?? 0) ||
    b.headers.length - a.headers.length
  );
}

function compareMatch(a: HttpMatch | GrpcMatch, b: HttpMatch | GrpcMatch): number {
  if (a.kind === 'http' && b.kind === 'http') return compareHttp(a, b);
  if (a.kind === 'grpc' && b.kind === 'grpc') return compareGrpc(a, b);
  // Tables hold one protocol; order mixed input deterministically anyway.
  return a.kind === 'grpc' ? -1 : 1;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The full precedence order between two ranked entries. */
export function compareRanked(a: Ranked, b: Ranked): number {
  return (
    compareMatch(a.entry.match, b.entry.match) ||
    a.createdMs - b.createdMs ||
    byString(
      `${a.entry.route.namespace}/${a.entry.route.name}`,
      `${b.entry.route.namespace}/${b.entry.route.name}`,
    ) ||
    // Same namespace/name can only be an HTTPRoute and a GRPCRoute; keep kinds apart.
    byString(a.entry.route.kind, b.entry.route.kind) ||
    a.ruleIndex - b.ruleIndex ||
    a.matchIndex - b.matchIndex
  );
}

/** Entries sorted by precedence (a new array; the input is not changed). */
export function sortByPrecedence(entries: readonly Ranked[]): RouteEntry[] {
  return [...entries].sort(compareRanked).map((r) => r.entry);
}
