/** The IR: the typed contract between the controller and the proxies (DESIGN.md §1, §5). */
export type { SourceRef, ServiceKey } from './source.ts';
export { sourceId, serviceKey } from './source.ts';
export type { Workload, AppProtocol, ServicePort, Endpoint, WaypointBinding, MeshService } from './mesh.ts';
export type {
  StringMatch,
  PathMatch,
  NamedMatch,
  HttpMatch,
  GrpcMatch,
  HeaderEdits,
  PathModifier,
  RouteFilter,
  ResolvedBackend,
  InvalidBackend,
  Timeouts,
  RetryPolicy,
  RouteEntry,
  RouteTable,
} from './routes.ts';
export type {
  MatchSet,
  AuthzFrom,
  AuthzTo,
  AuthzWhen,
  AuthzRule,
  PolicyScope,
  AuthorizationPolicy,
  RateLimitKey,
  RateLimit,
} from './policy.ts';
export type { Condition, RouteParentStatus, ObjectStatus } from './status.ts';
export type { SnapshotHeader, NodeSnapshot, WaypointSnapshot, ProxySnapshot } from './snapshots.ts';
