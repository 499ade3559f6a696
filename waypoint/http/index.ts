/**
 * Public surface of the waypoint's HTTP engine (issue 6 §1, §2, §5): create it with
 * {@link createHttpEngine}, hand it tunnels with `serveTunnel`.
 */
export { createHttpEngine, DEFAULT_LIMITS } from './engine.ts';
export type { EngineStats, HttpEngine } from './engine.ts';
export { EngineErrorCode, GrpcStatus, edgeStatus, httpEquivalentOfGrpc } from './status.ts';
export type { EdgeStatus } from './status.ts';
export { PATH_NORMALIZATIONS } from './target.ts';
export type { PathNormalization } from './target.ts';
export type {
  AttemptInfo,
  AuthzDecision,
  EngineConfig,
  EngineHooks,
  EngineLimits,
  HttpEngineOptions,
  RateLimitDecision,
  RequestDone,
  RequestInfo,
  TunnelContext,
  UpstreamConnector,
  UpstreamEndpoint,
} from './types.ts';
