import assert from 'node:assert/strict';
import { createLogger } from '../../common/log.ts';
import { nodeHeadersSetter, type NodeHeaders } from '../../waypoint/telemetry/propagation.ts';
import { endSpan, injectHeaders, startClientSpan, startServerSpan } from '../../waypoint/telemetry/spans.ts';
import { createTracing, type OtlpProtocol, type Tracing } from '../../waypoint/telemetry/tracing.ts';
import { blackHoleFirst } from '../helpers/black-hole.ts';
import { closedPort, startTestSink, type OtlpSink } from '../helpers/otlp.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';

/** One request with a retry: the first attempt gets 503, the second 200. */
function requestWithRetry(tracing: Tracing, incoming: Record<string, string>): NodeHeaders[] {
  const server = startServerSpan(
    tracing,
    { header: (n) => incoming[n] },
    {
      method: 'GET',
      path: '/reviews/1',
      destinationService: 'shop/reviews',
      route: 'shop/reviews/0',
      sourcePrincipal: 'spiffe://cluster.local/ns/shop/sa/web',
      protocolVersion: '2',
    },
  );
  const sent: NodeHeaders[] = [];
  for (const [attempt, statusCode] of [
    [0, 503],
    [1, 200],
  ] as const) {
    const client = startClientSpan(tracing, server, {
      method: 'GET',
      path: '/reviews/1',
      backendService: 'shop/reviews-v1',
      attempt,
      peerAddress: '10.250.1.5',
      peerPort: 8080,
    });
    const headers: NodeHeaders = {};
    injectHeaders(tracing, client, headers, nodeHeadersSetter);
    sent.push(headers);
    endSpan(client, { statusCode });
  }
  endSpan(server, { statusCode: 200 });
  return sent;
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('waypoint tracing exported to the OTLP sink', function () {
  this.timeout(30_000);
  let sink: OtlpSink;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    sink = await startTestSink();
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await sink.stop();
  });
  afterEach(() => sink.clear());

  for (const protocol of ['grpc', 'http/protobuf'] as const satisfies readonly OtlpProtocol[]) {
    it(`delivers a server span with two client attempts over ${protocol}`, async () => {
      const tracing = createTracing({
        protocol,
        endpoint: protocol === 'grpc' ? sink.grpcUrl : sink.httpUrl.replace('/v1/traces', ''),
        samplingRatio: 1,
        resourceAttributes: { 'k8s.pod.name': 'waypoint-0' },
      });
      try {
        const sent = requestWithRetry(tracing, { traceparent: `00-${TRACE}-b7ad6b7169203331-01` });
        await tracing.forceFlush();
        const spans = await sink.waitForSpans((s) => s.length >= 3, 10_000);
        assert.equal(spans.length, 3);
        const [trace] = sink.traces();
        assert.equal(trace?.traceId, TRACE);
        const server = spans.find((s) => s.kind === 'server');
        const clients = spans.filter((s) => s.kind === 'client');
        assert.ok(server);
        assert.equal(server.name, 'GET shop/reviews/0');
        assert.equal(server.parentSpanId, 'b7ad6b7169203331');
        assert.equal(server.serviceName, 'waymesh-waypoint');
        assert.equal(server.resource['k8s.pod.name'], 'waypoint-0');
        assert.equal(server.attributes['waymesh.source.principal'], 'spiffe://cluster.local/ns/shop/sa/web');
        assert.equal(server.attributes['waymesh.destination.service'], 'shop/reviews');
        assert.equal(server.attributes['http.response.status_code'], 200);
        assert.equal(server.status.code, 'unset');
        assert.deepEqual(
          clients.map((c) => [
            c.name,
            c.parentSpanId,
            c.attributes['http.response.status_code'],
            c.status.code,
          ]),
          [
            ['upstream shop/reviews-v1', server.spanId, 503, 'error'],
            ['upstream shop/reviews-v1', server.spanId, 200, 'unset'],
          ],
        );
        assert.deepEqual(
          clients.map((c) => c.attributes['http.request.resend_count']),
          [undefined, 1],
        );
        // Each upstream attempt carried its own client span as the parent.
        assert.deepEqual(
          sent.map((h) => String(h['traceparent']).split('-')[2]),
          clients.map((c) => c.spanId),
        );
      } finally {
        await tracing.shutdown();
      }
    });
  }

  it('exports nothing at sampling ratio 0 yet still propagates the trace', async () => {
    const tracing = createTracing({ protocol: 'grpc', endpoint: sink.grpcUrl, samplingRatio: 0 });
    try {
      const sent = requestWithRetry(tracing, {});
      assert.match(String(sent[0]?.['traceparent']), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      const unsampled = requestWithRetry(tracing, { traceparent: `00-${TRACE}-b7ad6b7169203331-00` });
      assert.equal(String(unsampled[0]?.['traceparent']).split('-')[1], TRACE);
      await tracing.forceFlush();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(sink.spans().length, 0);
    } finally {
      await tracing.shutdown();
    }
  });

  it('abandons a hung gRPC connect to the collector and delivers on a new connection', async () => {
    // The first connection is accepted and never answered (a collector address still translated
    // to a pod that is gone); grpc-js puts no timeout on it. OpenTelemetry's gRPC transport replaces
    // its client after six exports past their deadline (here ~6 s; ~1 min at the default 10 s
    // deadline), and the new one connects afresh. Fails if that replacement goes away.
    const relay = await blackHoleFirst(sink.grpcPort);
    let dropped = 0;
    const tracing = createTracing({
      protocol: 'grpc',
      endpoint: `http://127.0.0.1:${relay.port}`,
      samplingRatio: 1,
      scheduledDelayMs: 100,
      exportTimeoutMs: 1000,
      onDropped: (n) => {
        dropped += n;
      },
    });
    try {
      const deadline = Date.now() + 20_000;
      while (sink.spans().length === 0 && Date.now() < deadline) {
        requestWithRetry(tracing, {});
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.ok(sink.spans().length > 0, `no span delivered in 20 s (${dropped} dropped)`);
      assert.equal(relay.held.length, 1);
    } finally {
      await tracing.shutdown(3000);
      relay.close();
    }
    assert.deepEqual(unhandled, []);
  });

  for (const protocol of ['grpc', 'http/protobuf'] as const satisfies readonly OtlpProtocol[]) {
    it(`drops and counts spans without blocking when the ${protocol} collector is down`, async () => {
      const port = await closedPort();
      let dropped = 0;
      const lines: string[] = [];
      const tracing = createTracing({
        protocol,
        endpoint: `http://127.0.0.1:${port}`,
        samplingRatio: 1,
        maxQueueSize: 6,
        maxExportBatchSize: 3,
        exportTimeoutMs: 1500,
        onDropped: (n) => {
          dropped += n;
        },
        log: createLogger({ sink: { write: (l) => lines.push(l) } }),
      });
      try {
        const started = performance.now();
        for (let i = 0; i < 4; i++) requestWithRetry(tracing, {});
        // 12 spans: 3 leave at once as a full batch, 6 fill the queue, 3 are refused — all
        // synchronously and cheaply, whatever the collector does.
        assert.ok(performance.now() - started < 50, 'span calls must not wait for the exporter');
        assert.equal(dropped, 3);
        await tracing.forceFlush();
        await until(() => dropped === 12, 5000);
        requestWithRetry(tracing, {});
        await tracing.forceFlush();
        await until(() => dropped === 15, 5000);
        const warnings = lines.filter((l) => l.includes('trace export failing'));
        assert.equal(warnings.length, 1, 'one log line per outage');
        assert.match(warnings[0] ?? '', /collector running/);
      } finally {
        await tracing.shutdown(3000);
      }
      assert.deepEqual(unhandled, []);
    });
  }
});
