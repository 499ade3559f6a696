/**
 * Trace-context propagation for the waypoint: one composite propagator that reads W3C
 * `traceparent`/`tracestate`, W3C `baggage` and B3 (single `b3` and multi `x-b3-*` headers), and
 * writes W3C plus B3 multi-header, so callers instrumented either way keep their traces whole.
 * Getters and setters are module-level constants: nothing is allocated per request to read or
 * write headers.
 */
import type { TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';

/**
 * Builds the waypoint's propagator. B3 comes first so that, when a request carries both
 * formats, the W3C `traceparent` (extracted later) wins.
 */
export function createPropagator(): TextMapPropagator {
  return new CompositePropagator({
    propagators: [
      new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }),
      new W3CTraceContextPropagator(),
      new W3CBaggagePropagator(),
    ],
  });
}

/** Anything that answers a header by lowercase name, such as the router's `RouteRequest`. */
export interface HeaderSource {
  header(name: string): string | undefined;
}

/** Reads propagation headers from a {@link HeaderSource}. */
export const headerSourceGetter: TextMapGetter<HeaderSource> = {
  get: (carrier, key) => carrier.header(key),
  // Only the B3 and W3C propagators read headers, and they ask for them by name.
  keys: () => [],
};

/** Node's incoming header objects (`IncomingHttpHeaders`, HTTP/2 headers): lowercase keys. */
export type NodeHeaders = Record<string, string | string[] | undefined>;

/** Reads propagation headers from a Node header object. */
export const nodeHeadersGetter: TextMapGetter<NodeHeaders> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};

/** Writes propagation headers into a Node outgoing header object, replacing earlier values. */
export const nodeHeadersSetter: TextMapSetter<NodeHeaders> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};
