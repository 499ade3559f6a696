/**
 * The waypoint's Prometheus families (DESIGN.md §7) and the one place requests, denials, rate
 * limits, retries, configuration versions and certificate expiry are counted.
 */
import { DEFAULT_MS_BUCKETS } from '../common/metrics/index.ts';
import type { Counter, Gauge, Histogram, Registry } from '../common/metrics/index.ts';
import type { HboneClientStats } from '../common/hbone/index.ts';
import type { EngineStats, RequestDone } from './http/index.ts';
import type { RateLimitHooks } from './ratelimit/index.ts';

/** Live state read at scrape time for the pool gauges. */
export interface PoolStatsSource {
  hbone(): HboneClientStats;
  engine(): EngineStats | undefined;
}

const NONE = '';

/** Metric families of one waypoint. */
export class WaypointMetrics {
  readonly registry: Registry;
  private readonly requests: Counter;
  private readonly duration: Histogram;
  private readonly ratelimited: Counter;
  private readonly denied: Counter;
  private readonly retries: Counter;
  private readonly versionInfo: Gauge;
  private readonly rejected: Counter;
  private readonly certExpiry: Gauge;
  private version: string | undefined;

  constructor(registry: Registry, pools: PoolStatsSource) {
    this.registry = registry;
    this.requests = registry.counter('waymesh_requests_total', 'Requests handled by the waypoint.', [
      'response_code',
      'grpc_status',
      'source_principal',
      'destination_service',
      'route',
      'rule',
    ]);
    this.duration = registry.histogram(
      'waymesh_request_duration_milliseconds',
      'Request duration at the waypoint, in milliseconds.',
      ['destination_service', 'route', 'response_code'],
      DEFAULT_MS_BUCKETS,
    );
    const policyLabels = ['destination_service', 'route', 'policy'];
    this.ratelimited = registry.counter(
      'waymesh_ratelimited_total',
      'Requests refused by a rate limit.',
      policyLabels,
    );
    this.denied = registry.counter(
      'waymesh_denied_total',
      'Requests denied by an authorization policy.',
      policyLabels,
    );
    this.retries = registry.counter('waymesh_retries_total', 'Upstream retries.', policyLabels);
    this.versionInfo = registry.gauge('waymesh_config_version_info', 'The applied configuration version.', [
      'version',
    ]);
    this.rejected = registry.counter('waymesh_config_rejected_total', 'Configuration snapshots rejected.', [
      'version',
    ]);
    this.certExpiry = registry.gauge(
      'waymesh_cert_expiry_timestamp_seconds',
      'Expiry of the waypoint certificate (Unix seconds).',
      ['principal'],
    );
    registry.gauge('waymesh_upstream_sessions', 'Open HBONE sessions to endpoints.', [], (g) =>
      g.labels().set(pools.hbone().sessions),
    );
    registry.gauge('waymesh_upstream_active_tunnels', 'Open HBONE tunnels to endpoints.', [], (g) =>
      g.labels().set(pools.hbone().activeStreams),
    );
    registry.gauge(
      'waymesh_upstream_outstanding_requests',
      'Requests and L4 passthrough connections open on each endpoint.',
      ['endpoint'],
      (g) => {
        g.clear();
        const stats = pools.engine();
        if (stats === undefined) return;
        for (const [endpoint, n] of Object.entries(stats.outstanding)) g.labels(endpoint).set(n);
      },
    );
  }

  /** Counts one finished request (called by the engine's `onRequestDone`). */
  requestDone(done: RequestDone): void {
    const code = String(done.status);
    const route = done.route ?? NONE;
    this.requests
      .labels(
        code,
        done.grpcStatus === undefined ? NONE : String(done.grpcStatus),
        done.source ?? NONE,
        done.service,
        route,
        done.rule ?? NONE,
      )
      .inc();
    this.duration.labels(done.service, route, code).observe(done.durationMs);
    if (done.retries > 0) this.retries.labels(done.service, route, done.policy ?? NONE).inc(done.retries);
    if (done.outcome === 'denied') this.denied.labels(done.service, route, done.policy ?? NONE).inc();
    else if (done.outcome === 'rate-limited')
      this.ratelimited.labels(done.service, route, done.policy ?? NONE).inc();
  }

  /** Records the version now applied (one series). */
  configApplied(version: string): void {
    if (this.version !== undefined) this.versionInfo.remove([this.version]);
    this.version = version;
    this.versionInfo.labels(version).set(1);
  }

  /**
   * Hooks for the Redis rate limiter: `waymesh_ratelimit_store_errors_total` (failed or timed-out
   * calls), `waymesh_ratelimit_store_outages_total` (outages begun) and
   * `waymesh_ratelimit_fallback_active` (1 while the fallback answers instead of Redis). The
   * families exist only on a waypoint that rate-limits.
   */
  rateLimitStoreHooks(): RateLimitHooks {
    const errors = this.registry.counter(
      'waymesh_ratelimit_store_errors_total',
      'Rate-limit store (Redis) calls that failed or timed out, recovery probes included.',
      [],
    );
    const outages = this.registry.counter(
      'waymesh_ratelimit_store_outages_total',
      'Times the rate-limit store became unreachable and the fallback took over.',
      [],
    );
    const fallback = this.registry.gauge(
      'waymesh_ratelimit_fallback_active',
      '1 while rate limits are answered by the fallback (local limits, or denial when failing closed) instead of Redis.',
      [],
    );
    fallback.labels().set(0);
    errors.labels();
    outages.labels();
    return {
      onRedisError: () => errors.labels().inc(),
      onOutage: (phase) => {
        if (phase === 'start') outages.labels().inc();
        fallback.labels().set(phase === 'start' ? 1 : 0);
      },
    };
  }

  /** Counts a rejected snapshot. */
  configRejected(version: string): void {
    this.rejected.labels(version).inc();
  }

  /** Records the expiry of the certificate now in use (one series per principal). */
  certificate(principal: string, notAfter: Date): void {
    this.certExpiry.labels(principal).set(Math.floor(notAfter.getTime() / 1000));
  }
}
