/**
 * translatePolicies: the `policy.waymesh.io/v1alpha1` stage of translate(). Pure: reads the
 * frozen world and the waypoint bindings, returns compiled policies and GEP-713 statuses,
 * sorted; bad user input becomes an `Accepted=False` condition, never an exception.
 */
import type { AuthorizationPolicy, ObjectStatus, RateLimit } from '../../../common/ir/index.ts';
import type { World } from '../world.ts';
import { translateAuthorization, type PolicyContext } from './authz.ts';
import { translateRateLimits } from './ratelimit.ts';
import { compare } from './read.ts';

export type { PolicyContext } from './authz.ts';
export { REASON as POLICY_REASON } from './status.ts';

/** The output of translatePolicies. */
export interface PolicyTranslation {
  readonly authorization: AuthorizationPolicy[];
  readonly rateLimits: RateLimit[];
  readonly statuses: ObjectStatus[];
}

/** Compiles every AuthorizationPolicy and RateLimitPolicy of the world. */
export function translatePolicies(world: World, ctx: PolicyContext): PolicyTranslation {
  const authz = translateAuthorization(world, ctx);
  const limits = translateRateLimits(world, ctx);
  const key = (s: ObjectStatus): string => `${s.source.namespace}/${s.source.name}/${s.source.kind}`;
  const statuses = [...authz.statuses, ...limits.statuses].sort((a, b) => compare(key(a), key(b)));
  return { authorization: authz.authorization, rateLimits: limits.rateLimits, statuses };
}
