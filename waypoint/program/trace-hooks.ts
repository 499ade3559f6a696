/**
 * Tracing for the HTTP engine: a server span per request (continuing the caller's trace), a
 * client span per upstream attempt whose context goes upstream in the attempt's headers.
 */
import type { AttemptInfo, RequestDone, RequestInfo } from '../http/index.ts';
import {
  endSpan,
  injectHeaders,
  startClientSpan,
  startServerSpan,
  type SpanHandle,
} from '../telemetry/spans.ts';
import { nodeHeadersSetter, type NodeHeaders } from '../telemetry/propagation.ts';
import type { Tracing } from '../telemetry/tracing.ts';

interface RequestTrace {
  readonly server: SpanHandle;
  attempt: SpanHandle | undefined;
}

/** The tracing hooks of the engine (all absent when tracing is off). */
export interface TraceHooks {
  readonly onStart?: (info: RequestInfo) => void;
  readonly onAttempt?: (
    info: RequestInfo,
    attempt: AttemptInfo,
  ) => Readonly<Record<string, string>> | undefined;
  readonly onAttemptEnd?: (
    info: RequestInfo,
    attempt: AttemptInfo,
    status: number,
    errorCode: string | undefined,
  ) => void;
  readonly onEnd?: (info: RequestInfo, done: RequestDone) => void;
}

/**
 * Builds the hooks. With tracing off there are none: no span objects, no per-request state;
 * the caller's trace headers still reach the upstream, as end-to-end headers.
 */
export function tracingHooks(tracing: Tracing): TraceHooks {
  if (!tracing.enabled) return {};
  const requests = new WeakMap<RequestInfo, RequestTrace>();
  return {
    onStart(info) {
      const server = startServerSpan(tracing, info, {
        method: info.method,
        path: info.path,
        destinationService: info.target.service,
        sourcePrincipal: info.sourceIdentity,
        serverAddress: info.authority,
        protocolVersion: info.grpc ? '2' : '1.1',
      });
      requests.set(info, { server, attempt: undefined });
    },
    onAttempt(info, attempt) {
      const t = requests.get(info);
      if (t === undefined) return undefined;
      t.attempt = startClientSpan(tracing, t.server, {
        method: info.method,
        path: info.path,
        backendService: attempt.backend,
        attempt: attempt.attempt - 1,
        peerAddress: attempt.endpoint.ip,
        peerPort: attempt.endpoint.port,
      });
      const headers: NodeHeaders = {};
      injectHeaders(tracing, t.attempt, headers, nodeHeadersSetter);
      return headers as Record<string, string>;
    },
    onAttemptEnd(info, _attempt, status, errorCode) {
      const t = requests.get(info);
      if (t?.attempt === undefined) return;
      endSpan(t.attempt, {
        statusCode: status,
        ...(errorCode === undefined ? {} : { error: new Error(errorCode) }),
      });
      t.attempt = undefined;
    },
    onEnd(info, done) {
      const t = requests.get(info);
      if (t === undefined) return;
      if (done.route !== undefined) t.server.span.setAttribute('waymesh.route', done.route);
      endSpan(t.server, {
        statusCode: done.status,
        ...(done.grpcStatus === undefined ? {} : { grpcStatus: done.grpcStatus }),
      });
    },
  };
}
