/**
 * The waypoint's three operational listeners: admin (`/config_dump`, `/healthz`, localhost
 * 15000), Prometheus (`/metrics`, 15020) and readiness (`/ready`, 15021).
 */
import {
  configDumpRoute,
  healthzRoute,
  metricsRoute,
  readyRoute,
  startAdminServer,
  type AdminHandler,
  type AdminServer,
  type Readiness,
} from '../../common/admin/index.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics/index.ts';

/** Which routes one listener serves. */
export interface AdminRoutes {
  readonly dump?: () => unknown;
  readonly ready?: () => Readiness;
  readonly logger: Logger;
}

/** Starts the `kind` listener on `at`. */
export function createAdminServer(
  kind: 'admin' | 'metrics' | 'ready',
  at: { readonly host: string; readonly port: number },
  registry: Registry,
  routes: AdminRoutes,
): Promise<AdminServer> {
  const table: Record<string, AdminHandler> = {};
  if (kind === 'admin') {
    table['/healthz'] = healthzRoute();
    if (routes.dump !== undefined) table['/config_dump'] = configDumpRoute(routes.dump);
    if (routes.ready !== undefined) table['/ready'] = readyRoute(routes.ready);
    table['/metrics'] = metricsRoute(registry);
  } else if (kind === 'metrics') {
    table['/metrics'] = metricsRoute(registry);
  } else if (routes.ready !== undefined) {
    table['/ready'] = readyRoute(routes.ready);
    table['/healthz'] = healthzRoute();
  }
  return startAdminServer({ host: at.host, port: at.port, routes: table, logger: routes.logger });
}
