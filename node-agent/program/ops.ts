/**
 * The agent's operational endpoints (DESIGN.md §3, §7): admin on localhost:15000
 * (`/config_dump`, `/healthz`), Prometheus on 15020 and readiness on 15021, plus the config
 * metrics every proxy exports. Ports are options so tests (and two agents on one host) use others.
 */
import {
  configDumpRoute,
  healthzRoute,
  metricsRoute,
  readyRoute,
  startAdminServer,
  type AdminServer,
  type Readiness,
} from '../../common/admin/index.ts';
import type { Logger } from '../../common/log.ts';
import type { Counter, Registry } from '../../common/metrics/index.ts';

/** Where the three servers listen; port 0 picks a free one. */
export interface OpsAddresses {
  readonly adminHost: string;
  readonly adminPort: number;
  readonly metricsHost: string;
  readonly metricsPort: number;
  readonly readyHost: string;
  readonly readyPort: number;
}

/** The standard addresses. */
export const DEFAULT_OPS_ADDRESSES: OpsAddresses = Object.freeze({
  adminHost: '127.0.0.1',
  adminPort: 15000,
  metricsHost: '0.0.0.0',
  metricsPort: 15020,
  readyHost: '0.0.0.0',
  readyPort: 15021,
});

/** The running servers. */
export interface OpsServers {
  readonly admin: AdminServer;
  readonly metrics: AdminServer;
  readonly ready: AdminServer;
  stop(options?: { deadlineMs?: number }): Promise<void>;
}

/** Starts the three servers; if one cannot bind, those already started are stopped and it rejects. */
export async function startOpsServers(options: {
  readonly addresses: OpsAddresses;
  readonly registry: Registry;
  readonly dump: () => unknown;
  readonly ready: () => Readiness;
  readonly logger: Logger;
}): Promise<OpsServers> {
  const a = options.addresses;
  const started: AdminServer[] = [];
  const stopAll = (deadlineMs?: number): Promise<void> =>
    Promise.all(started.map((s) => s.stop({ deadlineMs }))).then(() => undefined);
  try {
    const admin = await startAdminServer({
      host: a.adminHost,
      port: a.adminPort,
      routes: { '/config_dump': configDumpRoute(options.dump), '/healthz': healthzRoute() },
      logger: options.logger,
    });
    started.push(admin);
    const metrics = await startAdminServer({
      host: a.metricsHost,
      port: a.metricsPort,
      routes: { '/metrics': metricsRoute(options.registry) },
      logger: options.logger,
    });
    started.push(metrics);
    const ready = await startAdminServer({
      host: a.readyHost,
      port: a.readyPort,
      routes: { '/ready': readyRoute(options.ready), '/healthz': healthzRoute() },
      logger: options.logger,
    });
    started.push(ready);
    return { admin, metrics, ready, stop: (o = {}) => stopAll(o.deadlineMs) };
  } catch (err) {
    await stopAll(100);
    throw err;
  }
}

/** The config metrics of a proxy. */
export interface ConfigMetrics {
  /** `waymesh_config_rejected_total{version}`. */
  readonly rejected: Counter;
}

/**
 * Registers `waymesh_config_version_info{version}` (1 for the applied version, read at scrape
 * time from `version`) and `waymesh_config_rejected_total{version}`.
 */
export function registerConfigMetrics(registry: Registry, version: () => string | undefined): ConfigMetrics {
  registry.gauge(
    'waymesh_config_version_info',
    'The snapshot version applied (value 1).',
    ['version'],
    (g) => {
      g.clear();
      const v = version();
      if (v !== undefined) g.labels(v).set(1);
    },
  );
  return {
    rejected: registry.counter(
      'waymesh_config_rejected_total',
      'Snapshots rejected (NACKed) because they could not be applied, by version.',
      ['version'],
    ),
  };
}
