import assert from 'node:assert/strict';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { isMeshError } from '../../../common/errors.ts';
import type { HeaderSource, NodeHeaders } from '../../../waypoint/telemetry/propagation.ts';
import { nodeHeadersSetter } from '../../../waypoint/telemetry/propagation.ts';
import {
  endSpan,
  injectHeaders,
  routeLabel,
  startClientSpan,
  startServerSpan,
  type ServerSpanInfo,
} from '../../../waypoint/telemetry/spans.ts';
import { createTracing, exporterUrl, type Tracing } from '../../../waypoint/telemetry/tracing.ts';
import type { RouteEntry } from '../../../common/ir/routes.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

function headers(h: Record<string, string>): HeaderSource {
  return { header: (name) => h[name] };
}

const INFO: ServerSpanInfo = {
  method: 'GET',
  path: '/reviews/1',
  destinationService: 'shop/reviews',
  route: 'shop/reviews/0',
  sourcePrincipal: 'spiffe://cluster.local/ns/shop/sa/web',
  protocolVersion: '1.1',
};

function upstream(tracing: Tracing, incoming: Record<string, string>): NodeHeaders {
  const server = startServerSpan(tracing, headers(incoming), INFO);
  const client = startClientSpan(tracing, server, {
    method: 'GET',
    path: '/reviews/1',
    backendService: 'shop/reviews-v1',
    attempt: 0,
    peerAddress: '10.250.1.5',
    peerPort: 8080,
  });
  const out: NodeHeaders = {};
  injectHeaders(tracing, client, out, nodeHeadersSetter);
  endSpan(client, { statusCode: 200 });
  endSpan(server, { statusCode: 200 });
  return out;
}

describe('waypoint tracing: propagation and span helpers', () => {
  const off = createTracing({ protocol: 'grpc', samplingRatio: 1 });
  // Enabled, but exporting nowhere within the test (long delay; shut down without waiting).
  const on = createTracing({
    protocol: 'grpc',
    endpoint: 'http://127.0.0.1:9',
    samplingRatio: 1,
    scheduledDelayMs: 60_000,
  });
  after(() => on.shutdown(10));

  it('passes W3C traceparent, tracestate and baggage through unchanged when tracing is off', () => {
    const incoming = {
      traceparent: `00-${TRACE}-${PARENT}-01`,
      tracestate: 'vendor=abc',
      baggage: 'tenant=blue',
    };
    const out = upstream(off, incoming);
    assert.equal(off.enabled, false);
    assert.equal(out['traceparent'], incoming.traceparent);
    assert.equal(out['tracestate'], 'vendor=abc');
    assert.equal(out['baggage'], 'tenant=blue');
    assert.equal(out['x-b3-traceid'], TRACE);
    assert.equal(out['x-b3-spanid'], PARENT);
    assert.equal(out['x-b3-sampled'], '1');
  });

  it('writes nothing upstream when tracing is off and the request has no trace headers', () => {
    assert.deepEqual(upstream(off, {}), {});
  });

  it('continues a W3C trace with a new client span id, keeping tracestate and baggage', () => {
    const out = upstream(on, { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'k=v', baggage: 'a=1' });
    const [version, trace, span, flags] = String(out['traceparent']).split('-');
    assert.deepEqual([version, trace, flags], ['00', TRACE, '01']);
    assert.notEqual(span, PARENT);
    assert.equal(out['x-b3-spanid'], span);
    assert.equal(out['tracestate'], 'k=v');
    assert.equal(out['baggage'], 'a=1');
  });

  it('extracts a B3 single header and injects W3C plus B3 multi headers', () => {
    const out = upstream(on, { b3: `${TRACE}-${PARENT}-1` });
    assert.match(String(out['traceparent']), new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    assert.equal(out['x-b3-traceid'], TRACE);
    assert.equal(out['x-b3-sampled'], '1');
    assert.equal(out['b3'], undefined);
  });

  it('extracts B3 multi headers, including an unsampled decision', () => {
    const out = upstream(off, { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': '0' });
    assert.equal(out['traceparent'], `00-${TRACE}-${PARENT}-00`);
    assert.equal(out['x-b3-sampled'], '0');
  });

  it('starts a new sampled-out trace at ratio 0 but still propagates it', () => {
    const zero = createTracing({ protocol: 'grpc', endpoint: 'http://127.0.0.1:9', samplingRatio: 0 });
    const out = upstream(zero, {});
    assert.match(String(out['traceparent']), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    return zero.shutdown(10);
  });

  it('names and annotates server and client spans and sets error status by side', () => {
    const server = startServerSpan(on, headers({}), INFO);
    const client = startClientSpan(on, server, {
      method: 'GET',
      path: '/reviews/1',
      backendService: 'shop/reviews-v1',
      attempt: 1,
      peerAddress: '10.250.1.5',
      peerPort: 8080,
    });
    endSpan(client, { statusCode: 404 });
    endSpan(server, { statusCode: 404 });
    const s = server.span as unknown as ReadableSpan;
    const c = client.span as unknown as ReadableSpan;
    assert.equal(s.name, 'GET shop/reviews/0');
    assert.equal(c.name, 'upstream shop/reviews-v1');
    assert.equal(c.parentSpanContext?.spanId, s.spanContext().spanId);
    assert.equal(s.status.code, SpanStatusCode.UNSET);
    assert.equal(c.status.code, SpanStatusCode.ERROR);
    assert.equal(c.attributes['http.request.resend_count'], 1);
    assert.equal(c.attributes['server.address'], '10.250.1.5');
    assert.equal(s.attributes['http.response.status_code'], 404);
    assert.equal(s.attributes['waymesh.source.principal'], INFO.sourcePrincipal);
    assert.equal(s.attributes['waymesh.route'], 'shop/reviews/0');
    assert.equal(s.attributes['network.protocol.version'], '1.1');
  });

  it('marks server spans failed on 5xx, server-side gRPC codes and errors', () => {
    const cases: [Parameters<typeof endSpan>[1], SpanStatusCode, string | undefined][] = [
      [{ statusCode: 503 }, SpanStatusCode.ERROR, '503'],
      [{ statusCode: 200, grpcStatus: 14 }, SpanStatusCode.ERROR, 'grpc_14'],
      [{ statusCode: 200, grpcStatus: 5 }, SpanStatusCode.UNSET, undefined],
      [
        { statusCode: 0, error: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) },
        SpanStatusCode.ERROR,
        'ECONNRESET',
      ],
    ];
    for (const [outcome, code, errorType] of cases) {
      const h = startServerSpan(on, headers({}), { ...INFO, route: undefined, method: 'BREW' });
      endSpan(h, outcome);
      const s = h.span as unknown as ReadableSpan;
      assert.equal(s.name, 'HTTP shop/reviews');
      assert.equal(s.attributes['http.request.method'], '_OTHER');
      assert.equal(s.status.code, code, JSON.stringify(outcome));
      assert.equal(s.attributes['error.type'], errorType);
    }
  });

  it('labels route entries as namespace/name/rule, once per entry', () => {
    const entry = {
      route: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop', name: 'r' },
      rule: 'canary',
    } as unknown as RouteEntry;
    assert.equal(routeLabel(entry), 'shop/r/canary');
    assert.equal(routeLabel(entry), routeLabel(entry));
  });

  it('builds exporter URLs per protocol and rejects unusable settings with MeshErrors', () => {
    assert.equal(exporterUrl('grpc', 'http://jaeger:4317/'), 'http://jaeger:4317');
    assert.equal(exporterUrl('http/protobuf', 'http://jaeger:4318'), 'http://jaeger:4318/v1/traces');
    assert.equal(
      exporterUrl('http/protobuf', 'http://jaeger:4318/otlp/v1/traces'),
      'http://jaeger:4318/otlp/v1/traces',
    );
    assert.throws(
      () => exporterUrl('grpc', 'jaeger:4317'),
      (e) => isMeshError(e, 'TRACING_BAD_ENDPOINT'),
    );
    assert.throws(
      () => exporterUrl('grpc', 'not a url'),
      (e) => isMeshError(e, 'TRACING_BAD_ENDPOINT'),
    );
    assert.throws(
      () => exporterUrl('http/json' as 'grpc', 'http://jaeger:4318'),
      (e) => isMeshError(e, 'TRACING_BAD_PROTOCOL'),
    );
    assert.throws(
      () => createTracing({ protocol: 'grpc', samplingRatio: 1.5 }),
      (e) => isMeshError(e, 'TRACING_BAD_SAMPLING'),
    );
    assert.throws(
      () => createTracing({ protocol: 'grpc', endpoint: 'http://c:4317', samplingRatio: 1, maxQueueSize: 0 }),
      (e) => isMeshError(e, 'TRACING_BAD_OPTION'),
    );
  });
});
