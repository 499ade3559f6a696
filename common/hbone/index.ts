/** HBONE (HTTP/2 CONNECT over mTLS on 15008): the tunnel library shared by node agent and waypoint. */
export { HboneClient } from './client.ts';
export { HboneRefusedError, tunnelFailover } from './errors.ts';
export type { TunnelFailover } from './errors.ts';
export type {
  HboneClientOptions,
  HboneClientStats,
  HboneClientTls,
  HboneOpenOptions,
  HboneTunnelStream,
} from './client.ts';
export { createHboneServer } from './server.ts';
export type {
  HboneListenTarget,
  HboneServer,
  HboneServerOptions,
  HboneTlsMaterial,
  PeerVerifier,
} from './server.ts';
export type { RejectReason, ServerCounters } from './session-keeper.ts';
export { HboneTunnel, sanitizeReason } from './tunnel.ts';
export type { TunnelResponseHeaders } from './tunnel.ts';
export { pipeTunnel } from './pipe.ts';
export type { PipeStats } from './pipe.ts';
export { formatAuthority, formatForwarded, parseAuthority, parseForwardedFor } from './authority.ts';
export type { HostPort } from './authority.ts';
export {
  DEFAULT_CONNECTION_WINDOW_BYTES,
  DEFAULT_MAX_STREAMS_PER_SESSION,
  DEFAULT_STREAM_WINDOW_BYTES,
  HBONE_ERROR_HEADER,
  HBONE_PORT,
  HboneStatus,
} from './constants.ts';
