/**
 * Span helpers the waypoint's HTTP engine calls on the hot path (DESIGN.md §7): one server span
 * per request named `<METHOD> <route>`, one client span per upstream attempt named
 * `upstream <backend service>` (retries carry `http.request.resend_count`), trace headers
 * written into each upstream request, and the response recorded with the OpenTelemetry HTTP
 * semantic-convention attributes plus `waymesh.*`. With tracing off the helpers allocate almost
 * nothing and pass the caller's trace headers through unchanged.
 */
import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapSetter,
} from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import type { RouteEntry } from '../../common/ir/routes.ts';
import { headerSourceGetter, type HeaderSource } from './propagation.ts';
import type { Tracing } from './tracing.ts';

/** `rpc.grpc.status_code` (incubating in the semantic conventions, so spelled out here). */
export const ATTR_RPC_GRPC_STATUS_CODE = 'rpc.grpc.status_code';
/** SPIFFE id of the caller, from the HBONE peer certificate. */
export const ATTR_SOURCE_PRINCIPAL = 'waymesh.source.principal';
/** Workload (pod) of the caller, when known. */
export const ATTR_SOURCE_WORKLOAD = 'waymesh.source.workload';
/** `namespace/name` of the Service the request was sent to (server) or forwarded to (client). */
export const ATTR_DESTINATION_SERVICE = 'waymesh.destination.service';
/** `namespace/name/rule` of the HTTPRoute or GRPCRoute rule that matched. */
export const ATTR_ROUTE = 'waymesh.route';

/** A span with the context (incoming parent and baggage) it lives in. */
export interface SpanHandle {
  readonly span: Span;
  readonly context: Context;
  readonly kind: SpanKind;
}

/** What the server span records when a request arrives. */
export interface ServerSpanInfo {
  /** Method as received (`GET`; gRPC is `POST`). */
  readonly method: string;
  /** Path without the query. */
  readonly path: string;
  /** `namespace/name` of the destination Service (from the CONNECT target). */
  readonly destinationService: string;
  /** {@link routeLabel} of the matched rule; undefined when no route applies. */
  readonly route?: string;
  readonly sourcePrincipal?: string;
  readonly sourceWorkload?: string;
  /** `Host` / `:authority` as received. */
  readonly serverAddress?: string;
  /** `1.1` or `2`. */
  readonly protocolVersion: string;
}

/** What a client span records for one upstream attempt. */
export interface ClientSpanInfo {
  readonly method: string;
  readonly path: string;
  /** `namespace/name` of the backend Service. */
  readonly backendService: string;
  /** 0 for the first try, 1 for the first retry… */
  readonly attempt: number;
  /** Endpoint address (pod IP) and port the attempt goes to. */
  readonly peerAddress: string;
  readonly peerPort: number;
}

/** How a request or attempt ended. */
export interface SpanOutcome {
  /** HTTP status sent or received; 0 when no response was produced. */
  readonly statusCode: number;
  readonly grpcStatus?: number;
  readonly error?: Error;
}

const NOOP_HANDLE: SpanHandle = Object.freeze({
  span: trace.wrapSpanContext(INVALID_SPAN_CONTEXT),
  context: ROOT_CONTEXT,
  kind: SpanKind.SERVER,
});

const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);

/** gRPC codes that are the server's fault (semantic conventions for RPC spans). */
const GRPC_SERVER_ERRORS: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

const labels = new WeakMap<RouteEntry, string>();

/** `namespace/name/rule` of a route entry, computed once per (frozen) entry. */
export function routeLabel(entry: RouteEntry): string {
  let label = labels.get(entry);
  if (label === undefined) {
    label = `${entry.route.namespace}/${entry.route.name}/${entry.rule}`;
    labels.set(entry, label);
  }
  return label;
}

/** Starts the server span of a request, continuing the trace in its `traceparent`/B3 headers. */
export function startServerSpan(tracing: Tracing, headers: HeaderSource, info: ServerSpanInfo): SpanHandle {
  const parent = tracing.propagator.extract(ROOT_CONTEXT, headers, headerSourceGetter);
  if (!tracing.enabled) {
    const remote = trace.getSpan(parent);
    return remote === undefined ? NOOP_HANDLE : { span: remote, context: parent, kind: SpanKind.SERVER };
  }
  const known = KNOWN_METHODS.has(info.method);
  const name = `${known ? info.method : 'HTTP'} ${info.route ?? info.destinationService}`;
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: known ? info.method : '_OTHER',
    [ATTR_HTTP_REQUEST_METHOD_ORIGINAL]: known ? undefined : info.method,
    [ATTR_URL_PATH]: info.path,
    [ATTR_SERVER_ADDRESS]: info.serverAddress,
    [ATTR_NETWORK_PROTOCOL_VERSION]: info.protocolVersion,
    [ATTR_DESTINATION_SERVICE]: info.destinationService,
    [ATTR_ROUTE]: info.route,
    [ATTR_SOURCE_PRINCIPAL]: info.sourcePrincipal,
    [ATTR_SOURCE_WORKLOAD]: info.sourceWorkload,
  };
  const span = tracing.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  return { span, context: trace.setSpan(parent, span), kind: SpanKind.SERVER };
}

/** Starts the client span of one upstream attempt under the request's server span. */
export function startClientSpan(tracing: Tracing, parent: SpanHandle, info: ClientSpanInfo): SpanHandle {
  // Off: upstream requests carry the caller's own trace context, unchanged.
  if (!tracing.enabled) return parent;
  const known = KNOWN_METHODS.has(info.method);
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: known ? info.method : '_OTHER',
    [ATTR_HTTP_REQUEST_METHOD_ORIGINAL]: known ? undefined : info.method,
    [ATTR_URL_PATH]: info.path,
    [ATTR_SERVER_ADDRESS]: info.peerAddress,
    [ATTR_SERVER_PORT]: info.peerPort,
    // Semantic conventions: set only on resends, so the first try has no resend count.
    [ATTR_HTTP_REQUEST_RESEND_COUNT]: info.attempt > 0 ? info.attempt : undefined,
    [ATTR_DESTINATION_SERVICE]: info.backendService,
  };
  const span = tracing.tracer.startSpan(
    `upstream ${info.backendService}`,
    { kind: SpanKind.CLIENT, attributes },
    parent.context,
  );
  return { span, context: trace.setSpan(parent.context, span), kind: SpanKind.CLIENT };
}

/** Writes `traceparent`/`tracestate`, `baggage` and B3 multi headers for `handle` into `carrier`. */
export function injectHeaders<C>(
  tracing: Tracing,
  handle: SpanHandle,
  carrier: C,
  setter: TextMapSetter<C>,
): void {
  if (handle.context === ROOT_CONTEXT) return;
  tracing.propagator.inject(handle.context, carrier, setter);
}

/**
 * Records the outcome and ends the span. Status is ERROR for 5xx and server-side gRPC failures on
 * a server span, for 4xx/5xx and any non-OK gRPC status on a client span, and whenever `error` is
 * set.
 */
export function endSpan(handle: SpanHandle, outcome: SpanOutcome): void {
  const span = handle.span;
  if (!span.isRecording()) return;
  const { statusCode, grpcStatus, error } = outcome;
  if (statusCode > 0) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
  if (grpcStatus !== undefined) span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, grpcStatus);
  const client = handle.kind === SpanKind.CLIENT;
  const httpFailed = client ? statusCode >= 400 : statusCode >= 500;
  const grpcFailed =
    grpcStatus !== undefined && grpcStatus !== 0 && (client || GRPC_SERVER_ERRORS.has(grpcStatus));
  if (error !== undefined) {
    span.recordException(error);
    span.setAttribute(ATTR_ERROR_TYPE, errorType(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  } else if (httpFailed || grpcFailed) {
    span.setAttribute(ATTR_ERROR_TYPE, httpFailed ? String(statusCode) : `grpc_${grpcStatus}`);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

function errorType(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? code : error.name;
}
