/**
 * HBONE wire constants shared by the tunnel client and server: the port, the header that carries
 * a refusal reason, and the flow-control windows (large, because one session multiplexes many
 * bulk tunnels and the HTTP/2 default of 64 KiB caps a tunnel at one window per round trip).
 */

/** The HBONE port (DESIGN.md §3). */
export const HBONE_PORT = 15008;

/** Response header carrying a short, operator-readable refusal reason. */
export const HBONE_ERROR_HEADER = 'waymesh-error';

/** Default per-stream receive window (HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE). */
export const DEFAULT_STREAM_WINDOW_BYTES = 4 * 1024 * 1024;

/** Default per-session receive window, raised with `setLocalWindowSize`. */
export const DEFAULT_CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;

/** Default cap on concurrent CONNECT streams per session (server setting, client pool cap). */
export const DEFAULT_MAX_STREAMS_PER_SESSION = 100;

/** Refusal statuses a tunnel endpoint answers with, by meaning. */
export const HboneStatus = {
  ok: 200,
  badAuthority: 400,
  unauthenticated: 401,
  denied: 403,
  notConnect: 405,
  internal: 500,
  unreachable: 503,
  timeout: 504,
} as const;
