/**
 * The contract of the waypoint's rate limiter (issue 6 §3): what the HTTP engine passes in for a
 * request, the {@link Decision} it gets back (enough for a 429 with `retry-after` and `ratelimit-*`
 * headers, or gRPC `RESOURCE_EXHAUSTED`), and the callbacks through which metrics are counted.
 */

/** What the limiter needs to know about one request to find its buckets. */
export interface RateLimitContext {
  /** The caller's SPIFFE id from the peer certificate; undefined when the caller has none. */
  readonly source: string | undefined;
  /** Header value by lowercase name (several values joined), undefined when absent. */
  header(name: string): string | undefined;
}

/** Where a decision came from. */
export type DecisionVia =
  /** No limit applied to this request (none configured, or every descriptor was absent). */
  | 'none'
  /** The shared budget in Redis. */
  | 'redis'
  /** Redis was unreachable or slow; the per-replica in-memory limiter answered (fail open). */
  | 'local'
  /** Redis was unreachable or slow and `failureMode` is `closed`: denied without counting. */
  | 'failClosed';

/**
 * The answer for one request. When several limits apply, every one must allow; the fields
 * describe the limit reported to the client: the denying limit with the longest wait, or, when
 * allowed, the limit with the fewest requests remaining (draft-ietf-httpapi-ratelimit-headers §5).
 */
export interface Decision {
  readonly allowed: boolean;
  /** Id of the reported limit (`ratelimitpolicy/<ns>/<name>/limit/<i>`); undefined when `via` is `none`. */
  readonly limitId: string | undefined;
  /** The reported limit's `requests` per its period. */
  readonly limit: number;
  /** Requests still allowed right now under the reported limit. */
  readonly remaining: number;
  /** Whole seconds until the reported limit's budget is full again. */
  readonly resetSeconds: number;
  /** Whole seconds (≥ 1) until a retry can succeed when denied; 0 when allowed. */
  readonly retryAfterSeconds: number;
  readonly via: DecisionVia;
}

/** Plain callbacks the waypoint's metrics registry plugs into; every one is optional. */
export interface RateLimitHooks {
  /** Once per applicable limit per request, with that limit's own verdict. */
  onDecision?(limitId: string, allowed: boolean): void;
  /** Every failed or timed-out Redis call (checks and recovery probes). */
  onRedisError?(err: Error): void;
  /** When the limiter switches to its fallback (`start`) and back to Redis (`end`). */
  onOutage?(phase: 'start' | 'end'): void;
}

/** What happens to requests while Redis is unreachable or slow. */
export type FailureMode = 'open' | 'closed';

/** Where the shared budget lives. */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
  /** TLS (1.2 or later, the server's certificate verified); `ca`: PEM, default Node's CA store. */
  readonly tls?: { readonly ca?: string };
}

/** The one decision for requests to which no limit applies. */
export const UNLIMITED: Decision = Object.freeze({
  allowed: true,
  limitId: undefined,
  limit: 0,
  remaining: 0,
  resetSeconds: 0,
  retryAfterSeconds: 0,
  via: 'none',
});
