/**
 * The waypoint (issue 6): identity, configuration, the HBONE server on 15008 feeding the HTTP
 * engine (or L4 passthrough), upstream HBONE, policy, rate limits, tracing, metrics and the
 * admin/metrics/readiness endpoints. Every effect is injected through {@link WaypointOptions}.
 */
import type { Duplex } from 'node:stream';

import { createAdminServer } from './program/admin.ts';
import { errorMessage, MeshError } from '../common/errors.ts';
import { createHboneServer, HboneClient, type HboneServer } from '../common/hbone/index.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { Registry } from '../common/metrics/index.ts';
import {
  createHttpEngine,
  type HttpEngine,
  type PathNormalization,
  type TunnelContext,
  type UpstreamConnector,
} from './http/index.ts';
import { WaypointMetrics } from './metrics.ts';
import { compileWaypointConfig, type GatewayRef, type WaypointConfig } from './program/config.ts';
import type { ConfigSource } from './program/config-source.ts';
import { createHooks } from './program/hooks.ts';
import { clientTls, serverTls, type IdentityProvider, type WaypointCert } from './program/identity.ts';
import { RateLimiter, type FailureMode, type RedisEndpoint } from './ratelimit/index.ts';
import { createTunnelHandler } from './server.ts';
import { EndpointPicker } from './http/endpoints.ts';
import { createTracing, type OtlpProtocol, type Tracing } from './telemetry/tracing.ts';
import { HboneUpstream } from './upstream-hbone.ts';
import type { AdminServer } from '../common/admin/index.ts';
import { verifyTlsPeer } from '../certs/index.ts';
import { formatSpiffeId } from '../common/spiffe.ts';

/** A host and port to listen on (port 0 picks one). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Everything a waypoint needs; effects are injected. */
export interface WaypointOptions {
  readonly gateway: GatewayRef;
  readonly trustDomain: string;
  readonly identity: IdentityProvider;
  readonly config: ConfigSource;
  /** HBONE (default 0.0.0.0:15008). */
  readonly hbone: ListenAddress;
  /** `/config_dump`, `/healthz` (default 127.0.0.1:15000). */
  readonly admin: ListenAddress;
  /** `/metrics` (default 0.0.0.0:15020). */
  readonly metrics: ListenAddress;
  /** `/ready` (default 0.0.0.0:15021). */
  readonly ready: ListenAddress;
  /** Shared rate-limit budget; undefined: no rate limiting. */
  readonly redis?: RedisEndpoint;
  readonly rateLimitFailureMode?: FailureMode;
  /** How far request paths are normalized (http/target.ts); default `base`. */
  readonly pathNormalization?: PathNormalization;
  readonly tracing?: {
    readonly endpoint?: string;
    readonly protocol: OtlpProtocol;
    readonly samplingRatio: number;
  };
  /** HBONE port of endpoints (15008; tests use others). */
  readonly upstreamHbonePort?: number;
  /**
   * How the engine reaches endpoints; default HBONE to their node agents (the only production
   * choice). The l7 benchmark injects plain TCP to measure the L7 engine alone against nginx.
   */
  readonly connector?: UpstreamConnector;
  readonly random?: () => number;
  readonly logger?: Logger;
}

/** Bound addresses after `start()`. */
export interface WaypointAddresses {
  readonly hbonePort: number;
  readonly adminUrl: string;
  readonly metricsUrl: string;
  readonly readyUrl: string;
}

/** A running waypoint. */
export class Waypoint {
  private readonly log: Logger;
  private readonly registry: Registry;
  private readonly metrics: WaypointMetrics;
  private readonly client = new HboneClient();
  private readonly tracing: Tracing;
  private readonly limiter: RateLimiter | undefined;
  private readonly engine: HttpEngine;
  /** Endpoint choice and passive health, shared by the HTTP engine and the L4 passthrough. */
  private readonly picker: EndpointPicker;
  private current: WaypointConfig | undefined;
  private hbone: HboneServer | undefined;
  private servers: AdminServer[] = [];
  private bound: WaypointAddresses | undefined;

  constructor(private readonly opts: WaypointOptions) {
    this.log = (opts.logger ?? silentLogger).child({
      gateway: `${opts.gateway.namespace}/${opts.gateway.name}`,
    });
    this.registry = new Registry({ logger: this.log });
    this.picker = new EndpointPicker(opts.random ?? Math.random);
    this.metrics = new WaypointMetrics(this.registry, {
      hbone: () => this.client.stats(),
      engine: () => this.engine.stats(),
    });
    this.tracing = createTracing({
      protocol: opts.tracing?.protocol ?? 'grpc',
      samplingRatio: opts.tracing?.samplingRatio ?? 1,
      ...(opts.tracing?.endpoint === undefined ? {} : { endpoint: opts.tracing.endpoint }),
      resourceAttributes: { 'waymesh.gateway': `${opts.gateway.namespace}/${opts.gateway.name}` },
      log: this.log,
    });
    this.limiter =
      opts.redis === undefined
        ? undefined
        : new RateLimiter({
            redis: opts.redis,
            failureMode: opts.rateLimitFailureMode ?? 'open',
            log: this.log,
            hooks: this.metrics.rateLimitStoreHooks(),
          });
    const connector =
      opts.connector ??
      new HboneUpstream({
        client: this.client,
        tls: () => {
          const cert = this.cert();
          return { material: clientTls(cert), bundle: cert.bundle };
        },
        identityOf: (ep) => this.current?.endpointIdentities.get(ep.ip),
        ...(opts.upstreamHbonePort === undefined ? {} : { hbonePort: opts.upstreamHbonePort }),
      });
    this.engine = createHttpEngine({
      getConfig: () => this.config().engine,
      connector,
      picker: this.picker,
      hooks: createHooks({
        gateway: opts.gateway,
        config: () => this.config(),
        limiter: this.limiter,
        tracing: this.tracing,
        metrics: this.metrics,
        accessLog: this.log.child({ component: 'access' }),
      }),
      ...(opts.random === undefined ? {} : { random: opts.random }),
      ...(opts.pathNormalization === undefined ? {} : { pathNormalization: opts.pathNormalization }),
      logger: this.log,
    });
    this.connector = connector;
  }

  private readonly connector: UpstreamConnector;

  /**
   * Serves one already accepted byte stream (HTTP/1.1, h2c or gRPC) addressed to `ctx.target`
   * through the engine, as a tunnel that passed the HBONE checks would be. For the l7
   * benchmark's engine-only path; the waypoint itself feeds the engine from its HBONE server.
   */
  serveHttp(stream: Duplex, ctx: TunnelContext): void {
    this.engine.serveTunnel(stream, ctx);
  }

  /** The configuration in use; throws before the first snapshot (tunnels are refused until then). */
  config(): WaypointConfig {
    if (this.current === undefined) {
      throw new MeshError('WAYPOINT_NOT_CONFIGURED', 'the waypoint has no snapshot yet', {
        hint: 'see the config source in /config_dump (controller reachable? --config-file valid?)',
      });
    }
    return this.current;
  }

  /** The Prometheus registry behind `/metrics`. */
  get metricsRegistry(): Registry {
    return this.registry;
  }

  /** Bound ports and URLs; throws before `start()`. */
  get addresses(): WaypointAddresses {
    if (this.bound === undefined) throw new MeshError('WAYPOINT_NOT_STARTED', 'the waypoint is not started');
    return this.bound;
  }

  /** True once the identity and a first snapshot are in place. */
  isReady(): boolean {
    return this.current !== undefined && this.opts.identity.current() !== undefined;
  }

  /** Compiles and swaps in `snapshot`; throws (→ NACK) when it is unusable. */
  apply(snapshot: Parameters<typeof compileWaypointConfig>[0]): void {
    let next: WaypointConfig;
    try {
      next = compileWaypointConfig(snapshot, this.opts.gateway, this.opts.trustDomain);
    } catch (err) {
      this.metrics.configRejected(snapshot.version);
      this.log.warn('snapshot rejected', { version: snapshot.version, error: errorMessage(err) });
      throw err;
    }
    for (const line of next.dropped)
      this.log.warn('snapshot entry dropped', { version: next.version, error: line });
    this.current = next;
    this.metrics.configApplied(next.version);
    this.log.info('snapshot applied', {
      version: next.version,
      services: next.engine.services.size,
      dropped: next.dropped.length,
    });
  }

  private cert(): WaypointCert {
    const cert = this.opts.identity.current();
    if (cert === undefined) {
      throw new MeshError('WAYPOINT_NO_CERTIFICATE', 'the waypoint has no valid certificate', {
        hint: 'the certificate expired while renewals failed; check the CA (controller :15012) in the logs',
      });
    }
    return cert;
  }

  /** Gets the identity, starts the config source and every listener. */
  async start(): Promise<WaypointAddresses> {
    const o = this.opts;
    const first = await o.identity.start();
    this.metrics.certificate(first.spiffeId, first.notAfter);
    const hbone = createHboneServer({
      tls: serverTls(first),
      verifyPeer: (socket) => formatSpiffeId(verifyTlsPeer(socket, this.cert().bundle, 'client')),
      onTunnel: createTunnelHandler({
        config: () => this.current,
        engine: this.engine,
        connector: this.connector,
        picker: this.picker,
        logger: this.log,
      }),
      logger: this.log,
    });
    this.hbone = hbone;
    o.identity.onUpdate((cert) => {
      hbone.setTls(serverTls(cert));
      this.metrics.certificate(cert.spiffeId, cert.notAfter);
    });
    await this.limiter?.start();
    o.config.start((s) => this.apply(s));
    const hbonePort = await hbone.listen(o.hbone);
    const admin = await createAdminServer('admin', o.admin, this.registry, {
      dump: () => this.dump(),
      ready: () =>
        this.isReady()
          ? true
          : { ready: false, reason: this.current === undefined ? 'no snapshot yet' : 'no certificate' },
      logger: this.log,
    });
    const metrics = await createAdminServer('metrics', o.metrics, this.registry, { logger: this.log });
    const ready = await createAdminServer('ready', o.ready, this.registry, {
      ready: () =>
        this.isReady()
          ? true
          : { ready: false, reason: this.current === undefined ? 'no snapshot yet' : 'no certificate' },
      logger: this.log,
    });
    this.servers = [admin, metrics, ready];
    this.bound = { hbonePort, adminUrl: admin.url, metricsUrl: metrics.url, readyUrl: ready.url };
    this.log.info('waypoint started', { hbonePort, principal: first.spiffeId });
    return this.bound;
  }

  private dump(): unknown {
    const c = this.current;
    const cert = this.opts.identity.current();
    return {
      gateway: this.opts.gateway,
      identity:
        cert === undefined
          ? null
          : {
              principal: cert.spiffeId,
              notAfter: cert.notAfter.toISOString(),
              trustBundle: cert.bundle.describe(),
            },
      source: this.opts.config.status(),
      version: c?.version ?? null,
      dropped: c?.dropped ?? [],
      snapshot: c?.snapshot ?? null,
      engine: this.engine.stats(),
      upstream: this.client.stats(),
      hbone: this.hbone?.stats() ?? null,
    };
  }

  /** Drains: refuses new tunnels, lets open ones finish up to `deadlineMs`, then closes everything. */
  async stop(options: { deadlineMs: number } = { deadlineMs: 5_000 }): Promise<void> {
    const deadlineMs = options.deadlineMs;
    await this.opts.config.stop({ deadlineMs: Math.min(deadlineMs, 1_000) });
    await Promise.all([this.hbone?.close({ deadlineMs }), this.engine.stop({ deadlineMs })]);
    await this.client.close({ deadlineMs: 0 });
    await Promise.all([
      this.limiter?.stop({ deadlineMs: 500 }),
      this.tracing.shutdown(Math.min(deadlineMs, 5_000)),
      ...this.servers.map((s) => s.stop({ deadlineMs: 200 })),
    ]);
    this.servers = [];
    this.opts.identity.stop();
  }
}
