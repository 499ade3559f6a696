/**
 * Response headers for a rate-limit {@link Decision}, as draft-ietf-httpapi-ratelimit-headers
 * (the `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` fields, delta-seconds) and
 * RFC 9110 §10.2.3 (`Retry-After`, delay-seconds) describe them. The HTTP engine adds them to
 * every response a limit applied to, and answers 429 (gRPC: `RESOURCE_EXHAUSTED`) when denied.
 */
import type { Decision } from './types.ts';

/** Lowercase header names, as HTTP/2 requires and HTTP/1.1 accepts. */
export const RATELIMIT_LIMIT = 'ratelimit-limit';
/** See {@link RATELIMIT_LIMIT}. */
export const RATELIMIT_REMAINING = 'ratelimit-remaining';
/** See {@link RATELIMIT_LIMIT}. */
export const RATELIMIT_RESET = 'ratelimit-reset';
/** See {@link RATELIMIT_LIMIT}. */
export const RETRY_AFTER = 'retry-after';

/** The HTTP status of a denied request. */
export const TOO_MANY_REQUESTS = 429;

/**
 * `[name, value]` pairs for a decision: the three `ratelimit-*` fields whenever a limit applied,
 * plus `retry-after` when denied; none when no limit applied (`via: 'none'`).
 */
export function rateLimitHeaders(decision: Decision): Array<[string, string]> {
  if (decision.limitId === undefined) return [];
  const headers: Array<[string, string]> = [
    [RATELIMIT_LIMIT, String(decision.limit)],
    [RATELIMIT_REMAINING, String(decision.remaining)],
    [RATELIMIT_RESET, String(decision.resetSeconds)],
  ];
  if (!decision.allowed) headers.push([RETRY_AFTER, String(decision.retryAfterSeconds)]);
  return headers;
}
