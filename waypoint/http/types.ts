/**
 * The HTTP engine's contract with the rest of the waypoint: what a tunnel looks like, how the
 * engine reaches an endpoint (an injected {@link UpstreamConnector}), the hooks policy, rate
 * limiting, metrics and tracing plug into, and the limits that protect it from bad input.
 */
import type { Duplex } from 'node:stream';

import type { AppProtocol, MeshService } from '../../common/ir/mesh.ts';
import type { Logger } from '../../common/log.ts';
import type { ServiceKey } from '../../common/ir/source.ts';
import type { Random, Router } from '../routing/types.ts';
import type { EndpointPicker } from './endpoints.ts';
import type { PathNormalization } from './target.ts';

/** What the HBONE layer knows about one tunnel. */
export interface TunnelContext {
  /** The caller's SPIFFE id from its certificate; undefined when unknown. */
  readonly sourceIdentity?: string;
  /** The namespace of that identity (consumer routes); undefined when unknown. */
  readonly sourceNamespace?: string;
  /** The destination Service port (from the CONNECT target). */
  readonly target: { readonly service: ServiceKey; readonly port: number };
  /** The port's `appProtocol`; `unknown` (or `http`/`http2`/`grpc` when declared). */
  readonly protocol: AppProtocol;
}

/** The endpoint an upstream connection goes to. */
export interface UpstreamEndpoint {
  readonly ip: string;
  /** The target port on the workload. */
  readonly port: number;
  readonly workloadUid: string;
  /** The Service (and its port) the endpoint was chosen from. */
  readonly service: ServiceKey;
  readonly servicePort: number;
}

/** Opens byte streams to endpoints (production: an HBONE tunnel to the pod's 15008). */
export interface UpstreamConnector {
  /** Resolves with a connected stream, or rejects (the engine answers 502). */
  connect(endpoint: UpstreamEndpoint, signal: AbortSignal): Promise<Duplex>;
}

/** The configuration one request reads once at its start; swapped whole by the waypoint. */
export interface EngineConfig {
  readonly router: Router;
  /** Services bound to the waypoint and the backends their routes send to, by key. */
  readonly services: ReadonlyMap<ServiceKey, MeshService>;
}

/** A request as the hooks see it (built once per request). */
export interface RequestInfo {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly authority: string;
  /** True for gRPC (`content-type: application/grpc*` over HTTP/2). */
  readonly grpc: boolean;
  readonly sourceIdentity: string | undefined;
  readonly sourceNamespace: string | undefined;
  readonly target: TunnelContext['target'];
  /** Header value by lowercase name (several values joined with `, `). */
  header(name: string): string | undefined;
}

/** An L7 authorization answer. */
export interface AuthzDecision {
  readonly allowed: boolean;
  /** The policy that decided (`namespace/name`), for metrics and logs; empty when none. */
  readonly policy: string;
  readonly reason: string;
}

/** A rate-limit answer; `headers` (`ratelimit-*`, `retry-after`) go on the response either way. */
export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly policy: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** One upstream attempt, as tracing sees it. */
export interface AttemptInfo {
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly backend: ServiceKey;
  readonly endpoint: UpstreamEndpoint;
}

/** The outcome of a request, for metrics, access logs and spans. */
export interface RequestDone {
  /** `kind/namespace/name` of the route, or undefined when none was chosen. */
  readonly route: string | undefined;
  readonly rule: string | undefined;
  /** What the engine did: a decision kind, or `denied` / `rate-limited` / `error`. */
  readonly outcome: string;
  readonly status: number;
  /** The gRPC status for gRPC requests (from the upstream trailers or the engine). */
  readonly grpcStatus: number | undefined;
  readonly durationMs: number;
  readonly attempts: number;
  readonly retries: number;
  readonly source: string | undefined;
  readonly service: ServiceKey;
  readonly backend: ServiceKey | undefined;
  /** The `MeshError` code when the engine answered an error itself. */
  readonly errorCode: string | undefined;
  readonly policy: string | undefined;
  readonly method: string;
  readonly path: string;
  /** The endpoint of the last attempt (for the access log), undefined when none was tried. */
  readonly endpoint: UpstreamEndpoint | undefined;
}

/** Hooks for the rest of the waypoint; every one is optional. */
export interface EngineHooks {
  /** L7 authorization, called before routing; denied → 403 / PERMISSION_DENIED. */
  authorize?(info: RequestInfo): AuthzDecision;
  /**
   * Rate limiting, called after authorization; refused → 429 / RESOURCE_EXHAUSTED. Returns
   * undefined when no limit applies to the request (no promise to wait for).
   */
  rateLimit?(info: RequestInfo): Promise<RateLimitDecision> | undefined;
  /** Tracing: a request starts (server span). */
  onStart?(info: RequestInfo): void;
  /** Tracing: an upstream attempt starts; the returned headers are added to that attempt. */
  onAttempt?(info: RequestInfo, attempt: AttemptInfo): Readonly<Record<string, string>> | undefined;
  /** Tracing: an attempt got a response status, or failed with a MeshError code. */
  onAttemptEnd?(info: RequestInfo, attempt: AttemptInfo, status: number, errorCode: string | undefined): void;
  /** Tracing: the request is done. */
  onEnd?(info: RequestInfo, done: RequestDone): void;
  /** Metrics and access log: the request is done. */
  onRequestDone?(done: RequestDone): void;
}

/** Protection limits; every field has a default (see `DEFAULT_LIMITS`). */
export interface EngineLimits {
  /** Largest request head in bytes (HTTP/1.1 → 431). */
  readonly maxHeaderSize: number;
  /** Time to receive a request head (HTTP/1.1 → 408). */
  readonly headersTimeoutMs: number;
  /** Time to receive a whole request (HTTP/1.1 → 408). */
  readonly requestTimeoutMs: number;
  /** Idle time of a keep-alive connection between requests. */
  readonly keepAliveTimeoutMs: number;
  /** Most headers read per request (HTTP/1.1: extra ones are dropped; HTTP/2: refused). */
  readonly maxHeadersCount: number;
  /** HTTP/2 streams per tunnel. */
  readonly maxConcurrentStreams: number;
  /** HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE. */
  readonly maxHeaderListSize: number;
  /** Request bodies up to this size are buffered so retries and mirrors can replay them. */
  readonly replayBodyBytes: number;
  /** Time to detect the protocol of a tunnel from its first bytes. */
  readonly detectTimeoutMs: number;
}

/** Options of `createHttpEngine`. */
export interface HttpEngineOptions {
  /** Returns the current configuration; read once per request. */
  readonly getConfig: () => EngineConfig;
  readonly connector: UpstreamConnector;
  readonly hooks?: EngineHooks;
  readonly limits?: Partial<EngineLimits>;
  /** Drives weights, mirror fractions and endpoint tie-breaks; default `Math.random`. */
  readonly random?: Random;
  /**
   * Endpoint choice and passive health; default a new one. The waypoint shares its own with the
   * L4 passthrough of `tcp` ports, so connections and requests count against the same endpoints.
   */
  readonly picker?: EndpointPicker;
  /** Default: silent. */
  readonly logger?: Logger;
  /** How far request paths are normalized (target.ts); default `base`. */
  readonly pathNormalization?: PathNormalization;
}
