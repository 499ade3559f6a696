/**
 * The controller's own operations endpoints (DESIGN.md §3): admin on 127.0.0.1:15000
 * (`/healthz`, `/config_dump` with every proxy's sync state), Prometheus on 15020 and readiness
 * on 15021 (`/ready` once the caches synced and the gRPC server listens).
 */
import {
  configDumpRoute,
  healthzRoute,
  metricsRoute,
  readyRoute,
  startAdminServer,
  type AdminServer,
} from '../common/admin/index.ts';
import type { Logger } from '../common/log.ts';
import { Registry } from '../common/metrics/index.ts';
import type { ProxyStatus } from './xds/state.ts';

/** Where the three servers listen; a port of 0 picks a free one, `false` turns a server off. */
export interface ControllerOpsAddresses {
  readonly admin: { host: string; port: number } | false;
  readonly metrics: { host: string; port: number } | false;
  readonly ready: { host: string; port: number } | false;
}

/** The defaults of DESIGN.md §3. */
export const DEFAULT_CONTROLLER_OPS: ControllerOpsAddresses = {
  admin: { host: '127.0.0.1', port: 15000 },
  metrics: { host: '0.0.0.0', port: 15020 },
  ready: { host: '0.0.0.0', port: 15021 },
};

/** What the endpoints read from the running controller. */
export interface ControllerOpsSource {
  readonly proxies: () => readonly ProxyStatus[];
  readonly leading: () => boolean;
  readonly ready: () => boolean;
}

/** Metrics the controller exposes; the app updates the counters. */
export interface ControllerMetrics {
  readonly registry: Registry;
  /** Snapshot sets published (one per translate pass). */
  readonly publishes: { inc(n?: number): void };
  /** Duration of one translate + snapshot pass. */
  readonly passMs: { observe(v: number): void };
}

/** Builds the registry with gauges read from `source` at scrape time. */
export function controllerMetrics(source: ControllerOpsSource): ControllerMetrics {
  const registry = new Registry();
  registry.gauge('waymesh_controller_leader', '1 when this replica holds the Lease', [], (g) =>
    g.labels().set(source.leading() ? 1 : 0),
  );
  registry.gauge(
    'waymesh_controller_proxies',
    'Proxies known to this replica by sync state',
    ['kind', 'sync'],
    (g) => {
      g.clear();
      for (const p of source.proxies()) {
        const nacked = p.lastNack !== undefined && p.lastNack.version === p.lastSent;
        const sync = nacked
          ? 'nack'
          : p.streams === 0
            ? 'disconnected'
            : p.lastAcked === p.current
              ? 'synced'
              : 'stale';
        const child = g.labels(p.kind, sync);
        child.inc(1);
      }
    },
  );
  registry.gauge('waymesh_config_rejected', 'NACKs received from proxies, by proxy kind', ['kind'], (g) => {
    g.clear();
    for (const p of source.proxies()) g.labels(p.kind).inc(p.nackCount);
  });
  const publishes = registry
    .counter('waymesh_controller_publishes_total', 'Snapshot sets published')
    .labels();
  const passMs = registry
    .histogram(
      'waymesh_controller_pass_duration_milliseconds',
      'translate() + snapshot build time',
      [],
      [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
    )
    .labels();
  return { registry, publishes, passMs };
}

/** Starts the enabled servers; `stop()` closes them. */
export async function startControllerOps(
  addresses: ControllerOpsAddresses,
  source: ControllerOpsSource,
  metrics: ControllerMetrics,
  logger: Logger,
): Promise<{ stop(): Promise<void>; ports: Record<string, number> }> {
  const servers: AdminServer[] = [];
  const ports: Record<string, number> = {};
  const start = async (
    name: string,
    at: { host: string; port: number } | false,
    routes: Parameters<typeof startAdminServer>[0]['routes'],
  ): Promise<void> => {
    if (at === false) return;
    const s = await startAdminServer({ host: at.host, port: at.port, routes, logger });
    servers.push(s);
    ports[name] = s.port;
  };
  try {
    await start('admin', addresses.admin, {
      '/healthz': healthzRoute(),
      '/config_dump': configDumpRoute(() => ({ leading: source.leading(), proxies: source.proxies() })),
    });
    await start('metrics', addresses.metrics, { '/metrics': metricsRoute(metrics.registry) });
    await start('ready', addresses.ready, {
      '/ready': readyRoute(() => (source.ready() ? true : { ready: false, reason: 'caches not synced yet' })),
      '/healthz': healthzRoute(),
    });
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  }
  return {
    ports,
    async stop(): Promise<void> {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}
