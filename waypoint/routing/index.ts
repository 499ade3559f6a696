/** The waypoint's pure route engine: compile a snapshot's route tables once, then `decide()` per request. */
export { compileRouter } from './router.ts';
export type { CompiledRouter, RouteCompileError } from './router.ts';
export { parseQuery } from './request-view.ts';
export type {
  MirrorTarget,
  Random,
  RouteDecision,
  RouteRequest,
  RouteTarget,
  Router,
  UpstreamRequest,
} from './types.ts';
