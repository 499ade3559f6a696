/**
 * The contract between the waypoint's pure route engine (`waypoint/routing/`) and its HTTP
 * engine (`waypoint/http/`). The HTTP engine parses a request once into a {@link RouteRequest};
 * the router answers with a {@link RouteDecision} — a plain description of what to do next,
 * which the HTTP engine then carries out (forward, redirect, refuse). No I/O happens here.
 */
import type {
  HeaderEdits,
  InvalidBackend,
  ResolvedBackend,
  RetryPolicy,
  RouteEntry,
  Timeouts,
} from '../../common/ir/routes.ts';
import type { ServiceKey } from '../../common/ir/source.ts';

/** A request as the router sees it; built once per request by the HTTP engine. */
export interface RouteRequest {
  /** Uppercase method (`GET`); for gRPC always `POST`. */
  readonly method: string;
  /** The path as received, without the query (not percent-decoded), e.g. `/a/b`. */
  readonly path: string;
  /** The raw query string without `?`; empty when there is none. */
  readonly query: string;
  /** `Host` (HTTP/1.1) or `:authority` (HTTP/2), as received. */
  readonly authority: string;
  /** Header value by lowercase name; several values joined with `, ` (`cookie` with `; `). */
  header(name: string): string | undefined;
}

/** Where the tunnel was going: the destination Service port (from the CONNECT target). */
export interface RouteTarget {
  readonly service: ServiceKey;
  readonly port: number;
  /** The namespace of the caller's SPIFFE identity (selects consumer routes); undefined when unknown. */
  readonly sourceNamespace: string | undefined;
}

/** The request as it must go upstream, after the rule's and the backend's filters. */
export interface UpstreamRequest {
  /** Path and query to send (`/new/path?x=1`). */
  readonly pathAndQuery: string;
  /** Host / :authority to send. */
  readonly authority: string;
  /** Request header edits to apply in order (rule filters first, then the backend's). */
  readonly headerEdits: readonly HeaderEdits[];
}

/** A mirror to send fire-and-forget (already past its `fraction` draw). */
export interface MirrorTarget {
  readonly backend: ResolvedBackend;
  readonly request: UpstreamRequest;
}

/** What to do with a request. */
export type RouteDecision =
  /** The service port has no route table: forward unchanged to the service itself. */
  | { readonly kind: 'passthrough'; readonly service: ServiceKey; readonly port: number }
  /** The service port has routes and none matched: 404 (gRPC: UNIMPLEMENTED). */
  | { readonly kind: 'no-match' }
  /** A `RequestRedirect` filter: answer `status` with `location` (and the response header edits). */
  | {
      readonly kind: 'redirect';
      readonly entry: RouteEntry;
      readonly status: 301 | 302 | 303 | 307 | 308;
      readonly location: string;
      readonly responseEdits: readonly HeaderEdits[];
    }
  /** The weighted choice fell on a backend the controller could not resolve: 500 (gRPC: UNAVAILABLE). */
  | { readonly kind: 'invalid-backend'; readonly entry: RouteEntry; readonly backend: InvalidBackend }
  /** Forward to `backend` (a Service port; the HTTP engine picks the endpoint). */
  | {
      readonly kind: 'forward';
      readonly entry: RouteEntry;
      readonly backend: ResolvedBackend;
      readonly request: UpstreamRequest;
      readonly responseEdits: readonly HeaderEdits[];
      readonly mirrors: readonly MirrorTarget[];
      readonly timeouts: Timeouts;
      readonly retry: RetryPolicy | undefined;
    };

/** A source of randomness in [0, 1) (tests pass a fixed sequence). */
export type Random = () => number;

/** The compiled route tables of one waypoint snapshot; built once per snapshot, then read-only. */
export interface Router {
  /** Decides what to do with `req` sent to `target`; `random` drives weights and mirror fractions. */
  decide(target: RouteTarget, req: RouteRequest, random: Random): RouteDecision;
  /** The protocol the tables declare for a service port (`grpc` when GRPCRoutes bind it). */
  protocolOf(service: ServiceKey, port: number): 'http' | 'grpc' | undefined;
}
