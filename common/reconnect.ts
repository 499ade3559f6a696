/**
 * How proxies back off while reconnecting to the controller (config stream and CA, both on
 * 15012). The ceiling is how long a proxy may run behind a controller that came back after an
 * outage, so it is short: a refused connect costs the controller nothing. grpc-js keeps its own
 * connect backoff per channel (1 s growing ×1.6 up to 120 s by default), which would hold calls
 * in TRANSIENT_FAILURE long after the controller is back; {@link reconnectChannelOptions} caps it
 * the same way. A connect that hangs is cut short by {@link RenewingClient}.
 */
import * as grpc from '@grpc/grpc-js';

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

/** How long a channel may stay connecting (TCP and TLS) before {@link RenewingClient} replaces it. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Options of {@link RenewingClient}. */
export interface RenewingClientOptions<C> {
  /** Makes a client (and its channel) with `credentials`; called once at start and once per renewal. */
  readonly make: (
    options: { 'grpc.use_local_subchannel_pool': number },
    credentials: grpc.ChannelCredentials,
  ) => C;
  /**
   * The credentials of the next channel. {@link RenewingClient.renewIfStale} asks again: a result
   * other than the one the current channel was made with (a new trust bundle) gets a new channel.
   */
  readonly credentials: () => grpc.ChannelCredentials;
  /** Default {@link CONNECT_TIMEOUT_MS}. */
  readonly connectTimeoutMs?: number;
  /** Told about each renewal (for a log line). */
  readonly onRenew?: (stuckMs: number) => void;
}

/**
 * A grpc-js client whose channel is replaced when it has been connecting for longer than
 * `connectTimeoutMs`. grpc-js puts no timeout on its TCP connect, so a SYN into a black hole —
 * a Service address still translated to a controller pod that is gone — holds the channel and
 * every call on it for the kernel's SYN retries (~2 min), and a retry on the same socket keeps
 * the same stale translation. The replacement opens a new socket (a new connection-tracking
 * entry, so the Service address is translated afresh); channels use a local subchannel pool so
 * it does not share the stuck connection. Calls on the replaced channel fail (CANCELLED or
 * UNAVAILABLE) and their callers retry as they do after any failure.
 */
export class RenewingClient<C extends grpc.Client> {
  readonly #opts: RenewingClientOptions<C>;
  readonly #timeoutMs: number;
  #client: C;
  /** The credentials the current channel was made with. */
  #madeWith: grpc.ChannelCredentials | undefined;
  #closed = false;

  constructor(opts: RenewingClientOptions<C>) {
    this.#opts = opts;
    this.#timeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.#client = this.#make();
  }

  /** The client to call now. */
  get current(): C {
    return this.#client;
  }

  /**
   * Moves to a new channel when the credentials changed since the current one was made (the trust
   * bundle learned a root); true when it did. Calls on the old channel fail (CANCELLED) and their
   * callers retry as after any failure.
   */
  renewIfStale(): boolean {
    if (this.#closed || this.#opts.credentials() === this.#madeWith) return false;
    this.#replace();
    return true;
  }

  /** Closes the current client; no renewal after this. */
  close(): void {
    this.#closed = true;
    this.#client.close();
  }

  #make(): C {
    this.#madeWith = this.#opts.credentials();
    const client = this.#opts.make({ 'grpc.use_local_subchannel_pool': 1 }, this.#madeWith);
    this.#watch(client, Date.now());
    return client;
  }

  /** Makes a new client and closes the current one. */
  #replace(): void {
    const old = this.#client;
    this.#client = this.#make();
    old.close();
  }

  /** Follows `client`'s state; `since` is when it entered the state it is in. */
  #watch(client: C, since: number): void {
    const channel = client.getChannel();
    const state = channel.getConnectivityState(false);
    if (state === grpc.connectivityState.SHUTDOWN) return;
    const deadline = state === grpc.connectivityState.CONNECTING ? since + this.#timeoutMs : Infinity;
    channel.watchConnectivityState(state, deadline, (err) => {
      if (this.#closed || client !== this.#client) return;
      if (err === undefined) return this.#watch(client, Date.now());
      // A timer runs from the event loop's cached time, so the deadline can fire a few
      // milliseconds early (more after a long turn): wait out the rest.
      const stuckMs = Date.now() - since;
      if (stuckMs < this.#timeoutMs) return this.#watch(client, since);
      // Still connecting at the deadline: start over on a new channel.
      this.#opts.onRenew?.(stuckMs);
      this.#replace();
    });
  }
}
