/**
 * Types of the sample client: what to send (`ClientOptions`), what one request produced
 * (`ClientResult`), and the small `Transport` interface each protocol implements.
 */

/** Which protocol the client speaks. */
export type ClientMode = 'http1' | 'h2c' | 'grpc';

/** The two methods of `waymesh.echo.v1.Echo`. */
export type GrpcMethod = 'Echo' | 'EchoStream';

/** Options of {@link runClient}; only `url` is required. */
export interface ClientOptions {
  /** `http://host:port/path` for http1 and h2c, `grpc://host:port` for grpc. */
  readonly url: string;
  /** Default `http1`. */
  readonly mode?: ClientMode;
  /** Requests to send; default 1. */
  readonly count?: number;
  /** Requests in flight at once; default 1. */
  readonly concurrency?: number;
  /** HTTP method; default GET, or POST when `data` is set. Not used for gRPC. */
  readonly method?: string;
  /** Request headers (gRPC: metadata), in order; names may repeat. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** Request body; for gRPC a JSON EchoRequest object, or else the `message` field. */
  readonly data?: string;
  /** Default `Echo`. */
  readonly grpcMethod?: GrpcMethod;
  /** Per-request timeout; default 10000. */
  readonly timeoutMs?: number;
  /** Minimum time between request starts; default 0. */
  readonly intervalMs?: number;
}

/** A response was received (any status). */
export interface ClientResponse {
  /** 1-based request number. */
  readonly seq: number;
  /** HTTP status, or the numeric gRPC status code. */
  readonly status: number;
  /** gRPC only: the status code's name, e.g. `NOT_FOUND`. */
  readonly grpcStatus?: string;
  /** Response headers (gRPC: initial metadata), lower-case names. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** gRPC only: trailing metadata. */
  readonly trailers?: Readonly<Record<string, string | readonly string[]>>;
  /** Parsed JSON when the body parses, else the text (gRPC: the message, or the stream's messages). */
  readonly body: unknown;
  readonly latencyMs: number;
  /** `HTTP/1.1`, `HTTP/2.0` or `grpc`. */
  readonly proto: string;
}

/** The request failed in transport: no response at all. */
export interface ClientFailure {
  readonly seq: number;
  readonly error: { readonly code: string; readonly message: string };
  readonly latencyMs: number;
}

/** One line of client output. */
export type ClientResult = ClientResponse | ClientFailure;

/** What a transport reports for one request; runClient adds `seq` and `latencyMs`. */
export type Outcome = Omit<ClientResponse, 'seq' | 'latencyMs'> | Omit<ClientFailure, 'seq' | 'latencyMs'>;

/** One protocol's way of sending a request; created once per run. */
export interface Transport {
  send(): Promise<Outcome>;
  close(): void;
}

/** True when `result` is a transport failure. */
export function isFailure(result: ClientResult): result is ClientFailure {
  return 'error' in result;
}
