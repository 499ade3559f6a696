/**
 * How proxies back off while reconnecting to the controller (config stream and CA, both on
 * 15012). The ceiling is how long a proxy may run behind a controller that came back after an
 * outage, so it is short: a refused connect costs the controller nothing. grpc-js keeps its own
 * connect backoff per channel (1 s growing ×1.6 up to 120 s by default), which would hold calls
 * in TRANSIENT_FAILURE long after the controller is back; {@link reconnectChannelOptions} caps it
 * the same way.
 */

/** First reconnect delay. */
export const RECONNECT_INITIAL_MS = 1_000;
/** Default reconnect delay ceiling. */
export const RECONNECT_CAP_MS = 5_000;

/** grpc-js channel options that bound the channel's own connect backoff to `initialMs`…`capMs`. */
export function reconnectChannelOptions(
  initialMs = RECONNECT_INITIAL_MS,
  capMs = RECONNECT_CAP_MS,
): { 'grpc.initial_reconnect_backoff_ms': number; 'grpc.max_reconnect_backoff_ms': number } {
  return { 'grpc.initial_reconnect_backoff_ms': initialMs, 'grpc.max_reconnect_backoff_ms': capMs };
}
