/** The waypoint program's public surface: the {@link Waypoint} class and what it is built from. */
export { Waypoint } from './waypoint.ts';
export type { ListenAddress, WaypointAddresses, WaypointOptions } from './waypoint.ts';
export { WaypointMetrics } from './metrics.ts';
export { HboneUpstream, expectPeer } from './upstream-hbone.ts';
export type { HboneUpstreamOptions } from './upstream-hbone.ts';
export { createTunnelHandler, namespaceOf, openPassthrough } from './server.ts';
export type { Passthrough } from './server.ts';
export { compileWaypointConfig, limitsOf } from './program/config.ts';
export type { GatewayRef, ServiceLimits, TargetEntry, WaypointConfig } from './program/config.ts';
export { caIdentity, certFromPem, clientTls, serverTls, staticIdentity } from './program/identity.ts';
export type { IdentityProvider, WaypointCert } from './program/identity.ts';
export { controllerConfigSource, fileConfigSource } from './program/config-source.ts';
export type { ConfigSource } from './program/config-source.ts';
export { parseWaypointSettings } from './program/options.ts';
export type { WaypointSettings } from './program/options.ts';
