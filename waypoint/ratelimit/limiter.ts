/**
 * The waypoint's rate limiter (issue 6 §3): every applicable limit of a request is checked and
 * counted in one Redis round trip (one Lua call over all its buckets), so all replicas share one
 * budget. Redis never hangs a request: each call has a timeout (default 50 ms), the offline queue
 * is off, and once a call fails the limiter stops asking Redis, answers from its fallback (local
 * per-replica limits when failing open, deny when failing closed) and probes Redis in the
 * background until it answers again. One warning line per outage, one line at recovery.
 *
 * A call that timed out may still run on Redis later (a paused or overloaded server works off its
 * backlog): such a request is then counted in the shared budget as well as locally, which errs
 * toward denying. Only the calls in flight when an outage starts are affected.
 */
import { createRequire } from 'node:module';
import type * as IoRedis from 'ioredis';
import type { RateLimit } from '../../common/ir/policy.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import { LocalLimiter, type LocalLimiterOptions } from './local.ts';
import { OutageTracker } from './outage.ts';
import { decide, denyAll, planBuckets, type BucketPlan, type BucketReply } from './plan.ts';
import { parseReply, RATE_LIMIT_LUA, SCRIPT_COMMAND, scriptArgs } from './script.ts';
import {
  UNLIMITED,
  type Decision,
  type FailureMode,
  type RateLimitContext,
  type RateLimitHooks,
  type RedisEndpoint,
} from './types.ts';

/** Options for {@link RateLimiter}. */
export interface RateLimiterOptions {
  readonly redis: RedisEndpoint;
  /** Per-call timeout in ms (a slower answer counts as an outage); default 50. */
  readonly timeoutMs?: number;
  /** What to do while Redis is down; default `open` (local per-replica limits apply). */
  readonly failureMode?: FailureMode;
  /** How often an outage is probed with PING, in ms; default 250. */
  readonly probeIntervalMs?: number;
  /** TCP connect timeout in ms; default 1,000. */
  readonly connectTimeoutMs?: number;
  /** Longest reconnect backoff in ms; default 2,000. */
  readonly maxReconnectDelayMs?: number;
  readonly local?: LocalLimiterOptions;
  readonly hooks?: RateLimitHooks;
  readonly log?: Logger;
}

interface ScriptCommands {
  [SCRIPT_COMMAND](...args: Array<string | number>): Promise<unknown>;
}

const requireCjs = createRequire(import.meta.url);

/** The bucket recovery probes count in (1 µs emission: always allowed, gone after 1 ms). */
const PROBE_KEY = 'waymesh:rl:probe';

/** True for an error Redis answered (ioredis `ReplyError`), as opposed to a timeout or a closed connection. */
function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

/**
 * ioredis, loaded when the first limiter is built: it adds ~24 MB of RSS, and a waypoint without
 * Redis configured (no rate limiting) never needs it.
 */
function loadIoRedis(): typeof IoRedis {
  return requireCjs('ioredis') as typeof IoRedis;
}

/**
 * Warns about settings a Secret's content got wrong, which the waypoint runs with rather than
 * refuse to start (waypoint/program/options.ts): Redis then refuses it, and the outage's hint
 * says why.
 */
function warnAboutSettings(redis: RedisEndpoint, log: Logger): void {
  if (redis.username !== undefined && redis.password === undefined)
    log.warn('Redis username without a password: the waypoint sends no AUTH', {
      hint: "add the key 'password' to the Secret named by the controller's WAYMESH_WAYPOINT_REDIS_SECRET",
    });
  if (redis.tls?.ca !== undefined && !redis.tls.ca.includes('-----BEGIN CERTIFICATE-----'))
    log.warn("WAYMESH_REDIS_CA holds no PEM certificate: Redis's certificate will not verify", {
      hint: "put the CA that signed Redis's certificate, as PEM, in the Secret's ca.crt key",
    });
}

/** Shared-budget rate limiting against Redis with a local fallback; `start()` before use. */
export class RateLimiter {
  private readonly client: IoRedis.Redis & ScriptCommands;
  private readonly local: LocalLimiter;
  private readonly outage: OutageTracker;
  private readonly hooks: RateLimitHooks;
  private readonly log: Logger;
  private readonly failureMode: FailureMode;
  private readonly probeIntervalMs: number;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private lastConnectionError = '';
  private stopped = false;

  constructor(options: RateLimiterOptions) {
    const { redis } = options;
    const endpoint = `${redis.host}:${redis.port}`;
    this.log = (options.log ?? silentLogger).child({ component: 'ratelimit' });
    this.hooks = options.hooks ?? {};
    this.failureMode = options.failureMode ?? 'open';
    this.probeIntervalMs = options.probeIntervalMs ?? 250;
    this.local = new LocalLimiter(options.local);
    this.outage = new OutageTracker({
      log: this.log,
      hooks: this.hooks,
      failureMode: this.failureMode,
      endpoint,
      tls: redis.tls !== undefined,
    });
    warnAboutSettings(redis, this.log);
    const maxDelay = options.maxReconnectDelayMs ?? 2_000;
    const Redis = loadIoRedis().Redis;
    this.client = new Redis({
      host: redis.host,
      port: redis.port,
      // A username alone is no AUTH (warned above); sent, ioredis would make it one with no password.
      username: redis.password === undefined ? undefined : redis.username,
      password: redis.password,
      db: redis.db,
      // The certificate is checked against the address's host name (or IP address).
      ...(redis.tls === undefined
        ? {}
        : { tls: { minVersion: 'TLSv1.2', ...(redis.tls.ca === undefined ? {} : { ca: redis.tls.ca }) } }),
      connectionName: 'waymesh-ratelimit',
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.timeoutMs ?? 50,
      connectTimeout: options.connectTimeoutMs ?? 1_000,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
    }) as IoRedis.Redis & ScriptCommands;
    this.client.defineCommand(SCRIPT_COMMAND, { lua: RATE_LIMIT_LUA });
    // Connection errors repeat on every reconnect attempt; the outage line already says it.
    this.client.on('error', (err: Error) => {
      this.lastConnectionError = err.message;
      this.log.debug('redis connection error', { error: err.message });
    });
    this.client.on('close', () => {
      const why = this.lastConnectionError === '' ? '' : `: ${this.lastConnectionError}`;
      if (!this.stopped) this.enterOutage(`connection to Redis closed${why}`);
    });
    this.client.on('ready', () => this.leaveOutage());
  }

  /** Connects to Redis; never fails — an unreachable Redis starts the limiter in an outage. */
  async start(): Promise<void> {
    try {
      await this.client.connect();
    } catch (err) {
      if (this.outage.callFailed(err)) this.scheduleProbe();
    }
  }

  /** True while Redis is considered down and the fallback answers. */
  get inOutage(): boolean {
    return this.outage.active;
  }

  /**
   * Checks and counts one request against `limits` (those applicable to its route/service).
   * Resolves within the call timeout; rejects only on an invalid limit (a `MeshError`).
   */
  async check(limits: readonly RateLimit[], ctx: RateLimitContext): Promise<Decision> {
    if (limits.length === 0) return UNLIMITED;
    const plan = planBuckets(limits, ctx);
    const n = plan.limits.length;
    if (n === 0) return UNLIMITED;
    if (this.outage.active || this.stopped) return this.fallback(plan);
    let reply: BucketReply;
    try {
      const raw = await this.client[SCRIPT_COMMAND](n, ...plan.keys, ...scriptArgs(plan.limits));
      reply = parseReply(raw, n);
    } catch (err) {
      if (!this.stopped && this.outage.callFailed(err)) this.scheduleProbe();
      return this.fallback(plan);
    }
    this.report(plan, reply);
    return decide(plan, reply, 'redis');
  }

  /** Stops probing and closes the connection (QUIT, then a hard close after `deadlineMs`). */
  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.probeTimer !== undefined) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    if (this.client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.deadlineMs ?? 1_000);
      });
      await Promise.race([
        this.client.quit().then(
          () => undefined,
          () => undefined,
        ),
        deadline,
      ]);
      clearTimeout(timer);
    }
    this.client.disconnect();
  }

  private fallback(plan: BucketPlan): Decision {
    if (this.failureMode === 'closed') {
      const decision = denyAll(plan);
      for (const limit of plan.limits) this.hooks.onDecision?.(limit.id, false);
      return decision;
    }
    const reply = this.local.check(plan);
    this.report(plan, reply);
    return decide(plan, reply, 'local');
  }

  private report(plan: BucketPlan, reply: BucketReply): void {
    const hooks = this.hooks;
    if (hooks.onDecision === undefined) return;
    for (let i = 0; i < plan.limits.length; i++) {
      const limit = plan.limits[i];
      if (limit !== undefined) hooks.onDecision(limit.id, reply[1 + i * 4] === 1);
    }
  }

  private enterOutage(reason: string): void {
    if (this.outage.begin(reason)) this.scheduleProbe();
  }

  private leaveOutage(): void {
    this.lastConnectionError = '';
    if (!this.outage.end()) return;
    this.local.clear();
    if (this.probeTimer !== undefined) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  private scheduleProbe(): void {
    if (this.stopped || this.probeTimer !== undefined) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe();
    }, this.probeIntervalMs);
    this.probeTimer.unref();
  }

  /**
   * One probe at a time while in an outage; success ends it, failure schedules the next. The
   * probe runs the script itself (on a key of its own): a Redis that answers PING may still
   * refuse it (ACL NOPERM, OOM under maxmemory, a READONLY replica), and ending the outage on a
   * PING would flap — two log lines per probe, the local buckets cleared each time.
   */
  private async probe(): Promise<void> {
    if (this.probing || this.stopped || !this.outage.active) return;
    this.probing = true;
    try {
      parseReply(await this.client[SCRIPT_COMMAND](1, PROBE_KEY, 1, 1), 1);
      this.leaveOutage();
    } catch (err) {
      this.hooks.onRedisError?.(err instanceof Error ? err : new Error(String(err)));
      // No answer on a connection that looks up: its peer may be gone without a FIN or RST (a
      // Redis pod on a failed node), which the kernel notices only after ~15 min. Drop it (not
      // `disconnect()`: its FIN would wait for the same silent peer) and let ioredis reconnect.
      if (this.client.status === 'ready' && !isReplyError(err)) this.client.stream.destroy();
      this.scheduleProbe();
    } finally {
      this.probing = false;
    }
  }
}
