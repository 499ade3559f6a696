/**
 * The proxies' side of the config stream (node agents and waypoints). It subscribes with a
 * hello, hands each new snapshot to `onSnapshot`, ACKs it, or NACKs it with the error when
 * `onSnapshot` throws (the proxy keeps its last good snapshot), and reconnects with capped
 * exponential backoff whenever the stream ends; after a reconnect the server sends the current
 * snapshot again, so the proxy resumes where the controller is.
 * The backoff (`../reconnect.ts`) is short, with jitter to spread a fleet's attempts.
 */
import * as grpc from '@grpc/grpc-js';
import { errorMessage, MeshError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import {
  RECONNECT_CAP_MS,
  RECONNECT_INITIAL_MS,
  RenewingClient,
  reconnectChannelOptions,
} from '../reconnect.ts';
import type { ProxySnapshot } from '../ir/index.ts';
import {
  ConfigServiceClient,
  proxyKey,
  type ConfigRequest,
  type ConfigResponse,
  type ProxyId,
} from './defs.ts';

/** Options for {@link ConfigClient}. */
export interface ConfigClientOptions {
  /** `host:port` of the controller (15012). */
  readonly address: string;
  /**
   * TLS to the controller; a function is asked again before each stream is opened, and a result
   * other than the one the channel was made with (the trust bundle changed) gets a new channel.
   */
  readonly credentials: grpc.ChannelCredentials | (() => grpc.ChannelCredentials);
  /** Channel options, e.g. `grpc.ssl_target_name_override` for SPIFFE-verified TLS. */
  readonly channelOptions?: grpc.ChannelOptions;
  readonly proxy: ProxyId;
  /** The service-account token sent as `authorization: Bearer …` (called per connection; tokens rotate). */
  readonly token: string | (() => string | Promise<string>);
  /** Applies a snapshot; throwing (or rejecting) NACKs it. Called one at a time. */
  onSnapshot(snapshot: ProxySnapshot): Promise<void> | void;
  /**
   * Takes the CA's trust anchors (PEM) the controller sends with its snapshots, before the
   * snapshot is applied; called when they differ from the last ones taken. Throwing refuses them
   * (logged once per value; the snapshot is still applied and the proxy keeps its bundle).
   */
  readonly onTrustAnchors?: (pem: string) => void;
  readonly logger?: Logger;
  /** First reconnect delay (default 1 s); doubles per failed attempt up to `maxBackoffMs`. */
  readonly initialBackoffMs?: number;
  /** Reconnect delay cap (default 5 s, at most 30 s). */
  readonly maxBackoffMs?: number;
  /** Source of jitter in [0, 1) (default Math.random); delays vary by ±20 %. */
  readonly random?: () => number;
  /** How long connecting may take before a new connection is tried (default 10 s). */
  readonly connectTimeoutMs?: number;
}

/** What the client has, for `/config_dump` and readiness. */
export interface ConfigClientState {
  readonly connected: boolean;
  /** Version of the last snapshot applied successfully. */
  readonly version?: string;
  /** The last NACK or connection error. */
  readonly lastError?: string;
  readonly rejected: number;
  readonly reconnects: number;
}

/** Largest NACK error text sent to the controller. */
const MAX_ERROR_CHARS = 1024;
/** Largest cap a caller may set. */
const BACKOFF_CAP_MS = 30_000;

type Stream = grpc.ClientDuplexStream<ConfigRequest, ConfigResponse>;

interface ConfigServiceStub extends grpc.Client {
  Stream(metadata: grpc.Metadata, options?: grpc.CallOptions): Stream;
}

/** Reads a snapshot out of a response, or says why it cannot be applied. */
function decode(res: ConfigResponse, proxy: ProxyId): ProxySnapshot {
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.snapshotJson);
  } catch (err) {
    throw new MeshError('CONFIG_MALFORMED', `snapshot is not JSON: ${errorMessage(err)}`);
  }
  if (parsed === null || typeof parsed !== 'object')
    throw new MeshError('CONFIG_MALFORMED', 'snapshot is not a JSON object');
  const s = parsed as { kind?: unknown; version?: unknown };
  if (s.kind !== proxy.kind)
    throw new MeshError('CONFIG_MALFORMED', `snapshot kind ${String(s.kind)} is not ${proxy.kind}`);
  if (s.version !== res.version)
    throw new MeshError(
      'CONFIG_MALFORMED',
      `snapshot version ${String(s.version)} differs from ${res.version}`,
    );
  return parsed as ProxySnapshot;
}

/** A subscription to the controller's config stream. */
export class ConfigClient {
  readonly #opts: ConfigClientOptions;
  readonly #log: Logger;
  readonly #client: RenewingClient<ConfigServiceStub>;
  readonly #initialMs: number;
  readonly #capMs: number;
  #stream: Stream | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #attempt = 0;
  #connected = false;
  #version: string | undefined;
  /** The last trust anchors handed to onTrustAnchors (taken or refused). */
  #anchors: string | undefined;
  #lastError: string | undefined;
  #rejected = 0;
  #reconnects = 0;
  /** Serialises onSnapshot calls; a newer snapshot waits for the one being applied. */
  #applying: Promise<void> = Promise.resolve();

  constructor(opts: ConfigClientOptions) {
    this.#opts = opts;
    this.#log = (opts.logger ?? silentLogger).child({
      component: 'config-client',
      proxy: proxyKey(opts.proxy),
    });
    this.#capMs = Math.min(BACKOFF_CAP_MS, opts.maxBackoffMs ?? RECONNECT_CAP_MS);
    this.#initialMs = Math.min(this.#capMs, Math.max(1, opts.initialBackoffMs ?? RECONNECT_INITIAL_MS));
    const credentials = opts.credentials;
    this.#client = new RenewingClient({
      credentials: typeof credentials === 'function' ? credentials : () => credentials,
      make: (pool, creds) =>
        new ConfigServiceClient(opts.address, creds, {
          'grpc.max_receive_message_length': 256 * 1024 * 1024,
          ...reconnectChannelOptions(this.#initialMs, this.#capMs),
          'grpc.keepalive_time_ms': 30_000,
          'grpc.keepalive_timeout_ms': 10_000,
          ...pool,
          ...opts.channelOptions,
        }) as unknown as ConfigServiceStub,
      ...(opts.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: opts.connectTimeoutMs }),
      onRenew: (stuckMs) =>
        this.#log.warn('connecting to the controller hangs; starting over on a new connection', {
          address: opts.address,
          stuckMs,
        }),
    });
  }

  /** Starts subscribing (returns at once; failures are retried in the background). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#connect();
  }

  /** Stops: cancels the stream and any pending reconnect, waits for a snapshot being applied. */
  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stream?.cancel();
    this.#stream = undefined;
    this.#connected = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#applying,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, options.deadlineMs ?? 5_000))),
    ]);
    clearTimeout(timer);
    this.#client.close();
  }

  /** What the client has now. */
  state(): ConfigClientState {
    return {
      connected: this.#connected,
      ...(this.#version === undefined ? {} : { version: this.#version }),
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
      rejected: this.#rejected,
      reconnects: this.#reconnects,
    };
  }

  #connect(): void {
    if (!this.#running) return;
    const tokenSource = this.#opts.token;
    Promise.resolve(typeof tokenSource === 'string' ? tokenSource : tokenSource()).then(
      (token) => this.#open(token),
      (err: unknown) => this.#retry(`cannot read the token: ${errorMessage(err)}`),
    );
  }

  #open(token: string): void {
    if (!this.#running) return;
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    if (this.#client.renewIfStale()) {
      this.#log.info('the trust bundle changed; connecting to the controller on a new channel', {
        address: this.#opts.address,
      });
    }
    const stream = this.#client.current.Stream(metadata);
    this.#stream = stream;
    let ended = false;
    const finish = (reason: string): void => {
      if (ended) return;
      ended = true;
      if (this.#stream === stream) this.#stream = undefined;
      this.#connected = false;
      this.#retry(reason);
    };
    stream.on('data', (res: ConfigResponse) => {
      this.#connected = true;
      // A snapshot arrived, so the connection works: the next failure starts the backoff over.
      this.#attempt = 0;
      // #apply catches what onSnapshot throws; anything else must not break the chain, or every
      // later snapshot would be skipped (and the rejection would end the process).
      this.#applying = this.#applying
        .then(() => this.#apply(stream, res))
        .catch((err: unknown) =>
          this.#log.error('applying a snapshot failed', { version: res.version, error: errorMessage(err) }),
        );
    });
    stream.on('status', (s: grpc.StatusObject) =>
      finish(`stream ended: ${grpc.status[s.code]} ${s.details}`),
    );
    stream.on('error', (err: grpc.ServiceError) => finish(`stream failed: ${err.details ?? err.message}`));
    stream.on('end', () => finish('stream closed by the controller'));
    stream.write({
      proxy: { kind: this.#opts.proxy.kind, name: this.#opts.proxy.name },
      version: '',
      error: '',
    });
  }

  async #apply(stream: Stream, res: ConfigResponse): Promise<void> {
    if (!this.#running) return;
    this.#takeAnchors(res.trustAnchorsPem);
    let error = '';
    if (res.version !== this.#version) {
      try {
        await this.#opts.onSnapshot(decode(res, this.#opts.proxy));
        this.#version = res.version;
        this.#log.info('applied snapshot', { version: res.version });
      } catch (err) {
        error = errorMessage(err).slice(0, MAX_ERROR_CHARS) || 'snapshot rejected';
        this.#rejected++;
        this.#lastError = error;
        this.#log.warn('rejected snapshot; keeping the last good one', {
          version: res.version,
          kept: this.#version ?? null,
          error,
        });
      }
    }
    // The stream may have been replaced while onSnapshot ran; the new one gets its own copy.
    if (this.#stream === stream) stream.write({ proxy: null, version: res.version, error });
  }

  #takeAnchors(pem: string): void {
    const take = this.#opts.onTrustAnchors;
    if (take === undefined || pem === '' || pem === this.#anchors) return;
    this.#anchors = pem;
    try {
      take(pem);
      this.#log.info('took the trust anchors the controller sent');
    } catch (err) {
      this.#log.warn('refused the trust anchors the controller sent; keeping the trust bundle', {
        error: errorMessage(err),
      });
    }
  }

  #retry(reason: string): void {
    if (!this.#running || this.#timer !== undefined) return;
    this.#lastError = reason;
    const base = Math.min(this.#capMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30));
    const jitter = 0.8 + 0.4 * (this.#opts.random ?? Math.random)();
    const delay = Math.min(this.#capMs, Math.round(base * jitter));
    this.#attempt++;
    this.#reconnects++;
    this.#log.warn('config stream down; reconnecting', { reason, inMs: delay, attempt: this.#attempt });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect();
    }, delay);
  }
}
