/**
 * Pure planning for one rate-limit check: which of the applicable limits count this request,
 * under which bucket key, with which GCRA parameters — and, once the buckets have answered,
 * the one {@link Decision} for the request. Shared by the Redis path and the local fallback so
 * both count exactly the same buckets.
 *
 * Descriptors (decided here, documented for operators):
 * - `target`: one budget for every caller, key `waymesh:rl:{<id>}:all`.
 * - `source`: one budget per caller SPIFFE id; callers without an identity share one anonymous
 *   bucket (the hash of the empty string), so plaintext callers cannot escape the limit.
 * - `header`: one budget per header value; when the header is absent the limit does not apply
 *   to the request, as Envoy treats a missing descriptor entry.
 */
import { createHash } from 'node:crypto';
import { MeshError } from '../../common/errors.ts';
import type { RateLimit } from '../../common/ir/policy.ts';
import { UNLIMITED, type Decision, type DecisionVia, type RateLimitContext } from './types.ts';

/** GCRA parameters of one limit, computed once per IR object. */
export interface CompiledLimit {
  readonly id: string;
  readonly requests: number;
  /** Microseconds between two requests at the sustained rate (period / requests). */
  readonly emissionUs: number;
  /** Burst tolerance in microseconds (the period): a full budget of `requests` may arrive at once. */
  readonly toleranceUs: number;
  /** `waymesh:rl:{<id>}:` — the braces keep a limit's keys in one Redis Cluster slot. */
  readonly keyPrefix: string;
  /** Lowercase header name for `header` keys, else undefined. */
  readonly header: string | undefined;
}

/** The buckets one request is counted in, in the order of its applicable limits. */
export interface BucketPlan {
  readonly limits: CompiledLimit[];
  /** One bucket key per limit (the Redis key; also the local limiter's key). */
  readonly keys: string[];
}

/**
 * Per-bucket answers, flat: `[allAllowed, then per bucket: allowed, remaining, resetMs, retryMs]`
 * with 0/1 for the booleans. This is the Lua script's reply shape; the local limiter uses it too.
 */
export type BucketReply = readonly number[];

/**
 * How early, in emission intervals, a request may arrive and still be counted, and what is added
 * before rounding `remaining` down: absorbs float rounding (an exact integer otherwise lands just
 * below itself), far below anything a clock can measure. The Lua script uses the same value.
 */
export const GCRA_SLACK = 1e-6;

const compiled = new WeakMap<RateLimit, CompiledLimit>();

/** Validates and compiles one IR limit; cached per (frozen) IR object. */
export function compileLimit(limit: RateLimit): CompiledLimit {
  const hit = compiled.get(limit);
  if (hit !== undefined) return hit;
  if (!Number.isSafeInteger(limit.requests) || limit.requests < 1) {
    throw new MeshError('RATELIMIT_BAD_LIMIT', `rate limit ${limit.id} allows ${limit.requests} requests`, {
      hint: 'requests must be a positive integer; check the RateLimitPolicy and the controller version',
    });
  }
  if (limit.periodSeconds !== 1 && limit.periodSeconds !== 60 && limit.periodSeconds !== 3600) {
    throw new MeshError(
      'RATELIMIT_BAD_LIMIT',
      `rate limit ${limit.id} has period ${String(limit.periodSeconds)}s`,
      {
        hint: 'the period must be 1, 60 or 3600 seconds; check the controller version',
      },
    );
  }
  const emissionUs = (limit.periodSeconds * 1_000_000) / limit.requests;
  const result: CompiledLimit = Object.freeze({
    id: limit.id,
    requests: limit.requests,
    emissionUs,
    // The period itself, not emissionUs × requests: that product may round below it.
    toleranceUs: limit.periodSeconds * 1_000_000,
    keyPrefix: `waymesh:rl:{${limit.id}}:`,
    header: limit.key.type === 'header' ? limit.key.name.toLowerCase() : undefined,
  });
  compiled.set(limit, result);
  return result;
}

function hashDescriptor(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** The buckets `ctx` is counted in under `limits`; empty when none applies. */
export function planBuckets(limits: readonly RateLimit[], ctx: RateLimitContext): BucketPlan {
  const plan: BucketPlan = { limits: [], keys: [] };
  for (const limit of limits) {
    const c = compileLimit(limit);
    let suffix: string;
    if (limit.key.type === 'target') suffix = 'all';
    else if (limit.key.type === 'source') suffix = hashDescriptor(ctx.source ?? '');
    else {
      const value = ctx.header(c.header ?? '');
      if (value === undefined) continue;
      suffix = hashDescriptor(value);
    }
    plan.limits.push(c);
    plan.keys.push(c.keyPrefix + suffix);
  }
  return plan;
}

function ceilSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/** The request's decision from its buckets' answers (see {@link Decision} for which limit is reported). */
export function decide(plan: BucketPlan, reply: BucketReply, via: DecisionVia): Decision {
  if (plan.limits.length === 0) return UNLIMITED;
  const allowed = reply[0] === 1;
  let best = -1;
  for (let i = 0; i < plan.limits.length; i++) {
    const base = 1 + i * 4;
    if (best < 0) {
      best = i;
      continue;
    }
    const b = 1 + best * 4;
    const better = allowed
      ? (reply[base + 1] ?? 0) < (reply[b + 1] ?? 0)
      : reply[base] === 0 && (reply[b] === 1 || (reply[base + 3] ?? 0) > (reply[b + 3] ?? 0));
    if (better) best = i;
  }
  const b = 1 + best * 4;
  const limit = plan.limits[best];
  return {
    allowed,
    limitId: limit?.id,
    limit: limit?.requests ?? 0,
    remaining: allowed ? Math.max(0, reply[b + 1] ?? 0) : 0,
    resetSeconds: ceilSeconds(reply[b + 2] ?? 0),
    retryAfterSeconds: allowed ? 0 : Math.max(1, ceilSeconds(reply[b + 3] ?? 0)),
    via,
  };
}

/** The decision in `closed` failure mode: every applicable limit denies for one second. */
export function denyAll(plan: BucketPlan): Decision {
  if (plan.limits.length === 0) return UNLIMITED;
  const limit = plan.limits[0];
  return {
    allowed: false,
    limitId: limit?.id,
    limit: limit?.requests ?? 0,
    remaining: 0,
    resetSeconds: 1,
    retryAfterSeconds: 1,
    via: 'failClosed',
  };
}
