/**
 * The standard endpoints as {@link AdminHandler}s: `/config_dump`, `/healthz` (admin, 15000),
 * `/metrics` (15020) and `/ready` (15021).
 */
import type { Registry } from '../metrics/registry.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/registry.ts';
import type { AdminHandler, AdminResponse } from './server.ts';

const TEXT = 'text/plain; charset=utf-8';
const OK: AdminResponse = Object.freeze({ status: 200, contentType: TEXT, body: 'ok\n' });

/** `/config_dump`: pretty JSON of what `dump` returns (never include private keys in it). */
export function configDumpRoute(dump: () => unknown): AdminHandler {
  return async () => ({
    status: 200,
    contentType: 'application/json',
    body: JSON.stringify(await dump(), null, 2) + '\n',
  });
}

/** `/healthz`: 200 while the process serves requests at all. */
export function healthzRoute(): AdminHandler {
  return () => OK;
}

/** `/metrics`: the registry in Prometheus text format 0.0.4. */
export function metricsRoute(registry: Registry): AdminHandler {
  return () => ({ status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body: registry.render() });
}

/** What a readiness check answers: ready, or not with the reason an operator reads. */
export type Readiness = boolean | { readonly ready: boolean; readonly reason?: string };

/** `/ready`: 200 when `check` says ready, else 503 with the reason. */
export function readyRoute(check: () => Readiness | Promise<Readiness>): AdminHandler {
  return async () => {
    const r = await check();
    const ready = typeof r === 'boolean' ? r : r.ready;
    if (ready) return OK;
    const reason = typeof r === 'boolean' ? '' : (r.reason ?? '');
    return { status: 503, contentType: TEXT, body: reason === '' ? 'not ready\n' : `not ready: ${reason}\n` };
  };
}
