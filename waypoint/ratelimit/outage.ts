/**
 * Outage bookkeeping for the rate limiter: whether Redis is considered down, exactly one warning
 * line when an outage starts and one line when it ends, and the metric callbacks. No timers or
 * I/O here — the limiter decides when something failed or recovered (failed call, dropped
 * connection, successful probe, `ready` event) and asks this class what to do.
 */
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { FailureMode, RateLimitHooks } from './types.ts';

/** Options for {@link OutageTracker}. */
export interface OutageTrackerOptions {
  readonly log: Logger;
  readonly hooks: RateLimitHooks;
  readonly failureMode: FailureMode;
  /** `host:port` of Redis, for the log lines. */
  readonly endpoint: string;
  /** The connection uses TLS (for the hints). */
  readonly tls?: boolean;
  /** Milliseconds for outage durations; defaults to `performance.now()`. */
  readonly now?: () => number;
}

const ACL_HINT =
  'the Redis user may not run the rate-limit script or touch its keys: its ACL needs the keys waymesh:rl:* and the commands EVALSHA, EVAL, SCRIPT LOAD, TIME, GET, SET, CLIENT SETNAME and INFO (docs/policies.md)';

/** Node's messages for a TLS handshake that failed: an unverified or misnamed certificate, not TLS. */
const TLS_FAILURE =
  /certificate|altnames|self[- ]signed|wrong version number|SSL routines|ssl3_|tls_validate|handshake/i;

const TLS_HINT =
  "TLS to Redis failed: the Secret's ca.crt (WAYMESH_REDIS_CA) must hold the CA that signed Redis's certificate, the certificate must name the host of WAYMESH_REDIS_ADDRESS, and that port must speak TLS (set WAYMESH_WAYPOINT_REDIS_TLS on the controller only for a TLS port)";

/**
 * What an operator should look at for an outage that started with `reason`: Redis answered, but
 * with an error that no waiting will cure, or it did not answer at all. With `tls`, a connection
 * that timed out may be a handshake to a port that does not speak TLS (it never answers).
 */
export function storeHint(reason: string, tls = false): string {
  // ioredis prefixes nothing: a server error reply is the reply's text (`MOVED 3999 10.0.0.5:6379`).
  const code = /(?:^|: )([A-Z]+)\b/.exec(reason)?.[1] ?? '';
  // A command the script calls that the ACL refuses comes back as a plain ERR.
  if (code === 'ERR' && reason.includes("user executing the script can't run")) return ACL_HINT;
  if (TLS_FAILURE.test(reason)) return TLS_HINT;
  switch (code) {
    case 'MOVED':
    case 'ASK':
    case 'CROSSSLOT':
    case 'CLUSTERDOWN':
      return 'this Redis runs in cluster mode, which waymesh rate limits do not use (all buckets of a request are counted in one script call); point WAYMESH_REDIS_ADDRESS at a standalone Redis or a primary';
    case 'READONLY':
      return 'the address is a read-only replica; point WAYMESH_REDIS_ADDRESS at the primary';
    case 'NOAUTH':
      return "this Redis requires a password and the waypoint sent none: create a Secret with key 'password' (and 'username' for an ACL user) in the waypoint's namespace and name it in the controller's WAYMESH_WAYPOINT_REDIS_SECRET";
    case 'WRONGPASS':
      return "Redis refused the waypoint's credentials (WAYMESH_REDIS_USERNAME/WAYMESH_REDIS_PASSWORD, from the Secret the controller's WAYMESH_WAYPOINT_REDIS_SECRET names): check the Secret's keys against the Redis ACL (requirepass is the user 'default')";
    case 'NOPERM':
      return ACL_HINT;
    case 'OOM':
      return 'Redis is at maxmemory under a noeviction policy: raise maxmemory or choose an evicting policy (rate-limit keys expire by themselves)';
    case 'NOSCRIPT':
    case 'BUSY':
      return 'Redis is busy or lost the rate-limit script (a restart or SCRIPT FLUSH); the waypoint loads it again when Redis answers';
    default:
      return tls && reason.includes('ETIMEDOUT')
        ? 'is Redis running and reachable from the waypoint, and does this port speak TLS? A TLS handshake to a plaintext port never completes (WAYMESH_WAYPOINT_REDIS_TLS on the controller is for a TLS port)'
        : 'is Redis running and reachable from the waypoint? check its Service, its endpoints and NetworkPolicies';
  }
}

/** Tracks one outage at a time. */
export class OutageTracker {
  private readonly options: OutageTrackerOptions;
  private readonly now: () => number;
  private startedAt: number | undefined;
  private errors = 0;

  constructor(options: OutageTrackerOptions) {
    this.options = options;
    this.now = options.now ?? (() => performance.now());
  }

  /** True between the start and the end of an outage. */
  get active(): boolean {
    return this.startedAt !== undefined;
  }

  /** A Redis call failed: counted through `onRedisError`, then {@link begin}. */
  callFailed(err: unknown): boolean {
    const error = err instanceof Error ? err : new Error(String(err));
    this.options.hooks.onRedisError?.(error);
    return this.begin(errorMessage(err));
  }

  /** Opens an outage unless one is open (the warning and `onOutage('start')` happen once); true when opened. */
  begin(reason: string): boolean {
    this.errors++;
    if (this.startedAt !== undefined) return false;
    this.startedAt = this.now();
    this.errors = 1;
    const { failureMode, endpoint } = this.options;
    const fallback =
      failureMode === 'open'
        ? 'allowing requests within the local per-replica limits (failureMode open)'
        : 'denying rate-limited requests (failureMode closed)';
    this.options.log.warn(`rate-limit store unreachable; ${fallback} until it answers again`, {
      redis: endpoint,
      error: reason,
      hint: storeHint(reason, this.options.tls === true),
    });
    this.options.hooks.onOutage?.('start');
    return true;
  }

  /** Redis answered: closes the open outage (one line and `onOutage('end')`); true when closed. */
  end(): boolean {
    const startedAt = this.startedAt;
    if (startedAt === undefined) return false;
    this.startedAt = undefined;
    this.options.log.info('rate-limit store reachable again; counting the shared budget', {
      redis: this.options.endpoint,
      outageMs: Math.round(this.now() - startedAt),
      failures: this.errors,
    });
    this.options.hooks.onOutage?.('end');
    return true;
  }
}
