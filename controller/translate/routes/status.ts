/**
 * Route status conditions (Gateway API v1 route conditions plus waymesh's `Enforced`), built
 * by translateRoutes for each Service parent of each route.
 */
import type { Condition } from '../../../common/ir/index.ts';

/** Reasons this stage writes, as the Gateway API names them (plus waymesh's own). */
export const REASON = {
  accepted: 'Accepted',
  noMatchingParent: 'NoMatchingParent',
  unsupportedValue: 'UnsupportedValue',
  incompatibleFilters: 'IncompatibleFilters',
  /** GEP-1426 "Route types": an HTTPRoute losing a Service port to a GRPCRoute. */
  conflicted: 'Conflicted',
  resolvedRefs: 'ResolvedRefs',
  backendNotFound: 'BackendNotFound',
  invalidKind: 'InvalidKind',
  refNotPermitted: 'RefNotPermitted',
  unsupportedProtocol: 'UnsupportedProtocol',
  waypointBound: 'WaypointBound',
  noWaypoint: 'NoWaypoint',
} as const;

/** waymesh's condition saying whether a waypoint enforces an accepted route for this parent. */
export const ENFORCED = 'waymesh.io/Enforced';

/** A problem found while reading a route: its reason and an operator-facing message. */
export interface Problem {
  readonly reason: string;
  readonly message: string;
}

/** Builds one condition. */
export function condition(
  type: string,
  status: boolean,
  reason: string,
  message: string,
  observedGeneration: number,
): Condition {
  return { type, status: status ? 'True' : 'False', reason, message, observedGeneration };
}

/**
 * `ResolvedRefs` from the route's reference problems: True when there are none, else False
 * with the first problem's reason and every distinct message.
 */
export function resolvedRefs(problems: readonly Problem[], generation: number): Condition {
  const first = problems[0];
  if (first === undefined)
    return condition('ResolvedRefs', true, REASON.resolvedRefs, 'All references resolved', generation);
  const messages = [...new Set(problems.map((p) => p.message))];
  return condition('ResolvedRefs', false, first.reason, messages.join('; '), generation);
}
