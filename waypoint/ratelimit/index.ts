/** Public surface of the waypoint's Redis-backed rate limiter (issue 6 §3). */
export { RateLimiter, type RateLimiterOptions } from './limiter.ts';
export { LocalLimiter, DEFAULT_LOCAL_MAX_KEYS, type LocalLimiterOptions } from './local.ts';
export {
  rateLimitHeaders,
  RATELIMIT_LIMIT,
  RATELIMIT_REMAINING,
  RATELIMIT_RESET,
  RETRY_AFTER,
  TOO_MANY_REQUESTS,
} from './headers.ts';
export { compileLimit, planBuckets, decide, type BucketPlan, type CompiledLimit } from './plan.ts';
export {
  UNLIMITED,
  type Decision,
  type DecisionVia,
  type FailureMode,
  type RateLimitContext,
  type RateLimitHooks,
  type RedisEndpoint,
} from './types.ts';
