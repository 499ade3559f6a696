/**
 * What `waymesh x explain` reports: the steps a request takes (each naming the Kubernetes object
 * responsible), the backends it may reach with their shares and endpoints, and the outcome. The
 * same plain object is printed as text or, with `-o json`, as JSON.
 */
import { MeshError } from '../common/errors.ts';
import type { SourceRef } from '../common/ir/index.ts';
import { GrpcStatus, edgeStatus, type EngineErrorCode } from '../waypoint/http/status.ts';

/** One step of the explanation. */
export interface ExplainStep {
  /** Which part decides: `source`, `dns`, `node-agent`, `waypoint`, `authz`, `ratelimit`, `route`, `backend`, `inbound`. */
  readonly step: string;
  /** The Kubernetes object responsible (`Kind/namespace/name`), when one is. */
  readonly object?: string;
  readonly text: string;
}

/** One endpoint a backend resolves to, with the L4 verdict of its node agent. */
export interface EndpointView {
  /** `namespace/pod`, or `-` for an endpoint that is not a pod of the cluster. */
  readonly pod: string;
  readonly ip: string;
  readonly port: number;
  readonly node: string;
  readonly ready: boolean;
  readonly captured: boolean;
  /** `allowed`/`denied` by the destination's node agent; `none` when it is not captured. */
  readonly l4: 'allowed' | 'denied' | 'none';
  readonly policy?: string;
  readonly reason: string;
}

/** A backend the request may go to, and the share of requests that go there. */
export interface BackendView {
  /** `namespace/name` of the Service. */
  readonly service: string;
  readonly port: number;
  /** Percent of matching requests (weights normalised; 100 without a split). */
  readonly share: number;
  /** Path and query sent upstream, when a waypoint forwards it. */
  readonly pathAndQuery?: string;
  /** The status these requests end with when they fail before reaching an endpoint. */
  readonly status?: number;
  readonly reason?: string;
  readonly endpoints: readonly EndpointView[];
}

/** How the request ends. */
export interface ExplainOutcome {
  readonly result:
    | 'forwarded'
    | 'passthrough'
    | 'redirected'
    | 'refused'
    | 'denied'
    | 'no-route'
    | 'invalid-backend'
    | 'no-endpoints'
    | 'unknown-host';
  /** HTTP status the client sees, when the mesh answers one (L4 failures reset the connection). */
  readonly status?: number;
  /** gRPC status name for `--grpc` requests. */
  readonly grpcStatus?: string;
  readonly reason: string;
}

/** The whole explanation. */
export interface Explanation {
  readonly request: {
    readonly from: string;
    readonly method: string;
    readonly url: string;
    readonly path: string;
    readonly grpc?: string;
  };
  /** `spiffe://…` of the source, when it is a captured workload. */
  readonly sourceIdentity?: string;
  /** `Gateway/ns/name` of the waypoint on the path. */
  readonly waypoint?: string;
  /** The route rule that matched. */
  readonly route?: { readonly object: string; readonly rule: string; readonly entry: string };
  readonly steps: readonly ExplainStep[];
  readonly backends: readonly BackendView[];
  readonly outcome: ExplainOutcome;
}

/** `Kind/namespace/name` of an IR source. */
export function objectRef(s: SourceRef): string {
  return `${s.kind}/${s.namespace}/${s.name}`;
}

/** `Kind/namespace/name` of an IR policy id (`authorizationpolicy/<ns>/<name>` or a limit id). */
export function policyRef(id: string): string {
  const [kind, ns, name] = id.split('/');
  const kinds: Readonly<Record<string, string>> = {
    authorizationpolicy: 'AuthorizationPolicy',
    ratelimitpolicy: 'RateLimitPolicy',
  };
  return `${kinds[kind ?? ''] ?? kind ?? ''}/${ns ?? ''}/${name ?? ''}`;
}

const GRPC_NAMES = new Map<number, string>(Object.entries(GrpcStatus).map(([k, v]) => [v, k]));

/** The HTTP status (and gRPC status name, for gRPC) the waypoint answers for an engine error code. */
export function edgeOutcome(
  code: (typeof EngineErrorCode)[keyof typeof EngineErrorCode],
  grpc: boolean,
): { status: number; grpcStatus?: string } {
  const s = edgeStatus(new MeshError(code, code));
  return grpc ? { status: s.http, grpcStatus: GRPC_NAMES.get(s.grpc) ?? String(s.grpc) } : { status: s.http };
}
