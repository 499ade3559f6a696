/**
 * Route tables: what a waypoint enforces for each Service port. The controller flattens every
 * (rule, match) pair of every HTTPRoute/GRPCRoute attached to a Service into one entry and
 * sorts the entries by the Gateway API's precedence; the waypoint takes the first entry that
 * matches. Names follow the Gateway API (`PathPrefix`, `RequestHeaderModifier`, `backendRefs`).
 */
import type { ServiceKey, SourceRef } from './source.ts';

/** A string match (`Exact` or `RegularExpression`, RE2-compatible subset). */
export interface StringMatch {
  readonly type: 'Exact' | 'RegularExpression';
  readonly value: string;
}

/** An HTTP path match; `PathPrefix` is segment-aware (`/foo` matches `/foo/bar`, not `/foobar`). */
export interface PathMatch {
  readonly type: 'Exact' | 'PathPrefix' | 'RegularExpression';
  readonly value: string;
}

/** A header (or query parameter) match by name; header names are lowercase. */
export interface NamedMatch extends StringMatch {
  readonly name: string;
}

/** One HTTPRoute match: every present part must match. */
export interface HttpMatch {
  readonly kind: 'http';
  readonly path?: PathMatch;
  readonly method?: string;
  readonly headers: readonly NamedMatch[];
  readonly queryParams: readonly NamedMatch[];
}

/** One GRPCRoute match: service and/or method (Exact or RegularExpression) and headers. */
export interface GrpcMatch {
  readonly kind: 'grpc';
  readonly method?: {
    readonly type: 'Exact' | 'RegularExpression';
    readonly service?: string;
    readonly method?: string;
  };
  readonly headers: readonly NamedMatch[];
}

/** Header edits (`set` replaces, `add` appends, `remove` deletes; names lowercase). */
export interface HeaderEdits {
  readonly set: readonly { readonly name: string; readonly value: string }[];
  readonly add: readonly { readonly name: string; readonly value: string }[];
  readonly remove: readonly string[];
}

/** A path modifier of redirects and rewrites. */
export type PathModifier =
  | { readonly type: 'ReplaceFullPath'; readonly value: string }
  | { readonly type: 'ReplacePrefixMatch'; readonly value: string };

/** A filter, as the Gateway API defines them. */
export type RouteFilter =
  | ({ readonly type: 'RequestHeaderModifier' } & HeaderEdits)
  | ({ readonly type: 'ResponseHeaderModifier' } & HeaderEdits)
  | {
      readonly type: 'RequestRedirect';
      readonly scheme?: 'http' | 'https';
      readonly hostname?: string;
      readonly port?: number;
      readonly path?: PathModifier;
      readonly statusCode: 301 | 302 | 303 | 307 | 308;
    }
  | { readonly type: 'URLRewrite'; readonly hostname?: string; readonly path?: PathModifier }
  | {
      readonly type: 'RequestMirror';
      readonly backend: ResolvedBackend;
      /** Share of requests mirrored, 0..1 (from `percent` or `fraction`; 1 when unset). */
      readonly fraction: number;
    };

/** A backend the controller resolved to a Service port. */
export interface ResolvedBackend {
  readonly kind: 'service';
  readonly service: ServiceKey;
  readonly port: number;
  readonly weight: number;
  /** Per-backend filters (applied after the rule's). */
  readonly filters: readonly RouteFilter[];
}

/**
 * A backend the controller could not resolve (missing Service, not permitted, wrong kind…).
 * It keeps its weight: requests that pick it get HTTP 500 / gRPC UNAVAILABLE, as the spec asks.
 */
export interface InvalidBackend {
  readonly kind: 'invalid';
  readonly weight: number;
  readonly reason: string;
}

/** Per-rule timeouts (milliseconds; absent = none). */
export interface Timeouts {
  readonly requestMs?: number;
  readonly backendRequestMs?: number;
}

/** Per-rule retries (experimental channel `retry`). */
export interface RetryPolicy {
  /** How many times a failed request is retried (Gateway API `retry.attempts`): at most 1 + attempts tries. */
  readonly attempts: number;
  /** HTTP status codes that trigger a retry (connect failures always do). */
  readonly codes: readonly number[];
  readonly backoffMs: number;
}

/** One (rule, match) pair, in precedence order within its table. */
export interface RouteEntry {
  /** `httproute/<ns>/<name>/rule/<i>/match/<j>` — stable, for metrics and logs. */
  readonly id: string;
  /** The route and rule it came from (`rule` = the rule's `name` or its index). */
  readonly route: SourceRef;
  readonly rule: string;
  readonly match: HttpMatch | GrpcMatch;
  readonly filters: readonly RouteFilter[];
  readonly backends: readonly (ResolvedBackend | InvalidBackend)[];
  readonly timeouts: Timeouts;
  readonly retry?: RetryPolicy;
}

/** The routes of one Service port. */
export interface RouteTable {
  readonly service: ServiceKey;
  readonly port: number;
  /** `grpc` when GRPCRoutes bind the port (they win over HTTPRoutes), else `http`. */
  readonly protocol: 'http' | 'grpc';
  /** Routes in the Service's own namespace: apply to every client without consumer routes. */
  readonly producer: readonly RouteEntry[];
  /**
   * Consumer routes by client namespace: a client whose identity is in that namespace uses
   * these entries instead of the producer routes (GEP-1294).
   */
  readonly consumers: Readonly<Record<string, readonly RouteEntry[]>>;
}
