/** Operational HTTP endpoints shared by every proxy: admin, Prometheus and readiness. */
export { startAdminServer } from './server.ts';
export type { AdminHandler, AdminResponse, AdminServer, AdminServerOptions } from './server.ts';
export { configDumpRoute, healthzRoute, metricsRoute, readyRoute } from './routes.ts';
export type { Readiness } from './routes.ts';
