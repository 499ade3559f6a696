import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { silentLogger } from '../../../common/log.ts';
import { Registry } from '../../../common/metrics/index.ts';
import { Flow, FlowSet, addressOf, type AccessLogEntry } from '../../../node-agent/proxy/flow.ts';
import { TcpMetrics, workloadLabel } from '../../../node-agent/proxy/metrics.ts';

/** A duplex whose writes go to `out` and whose reads come from `in`. */
function pair(): { side: Duplex; in: PassThrough; out: PassThrough } {
  const inbound = new PassThrough();
  const outbound = new PassThrough();
  const side = Duplex.from({ readable: inbound, writable: outbound });
  return { side, in: inbound, out: outbound };
}

function setup(): {
  registry: Registry;
  log: AccessLogEntry[];
  flows: FlowSet;
  ctx: ConstructorParameters<typeof Flow>[0];
} {
  const registry = new Registry();
  const log: AccessLogEntry[] = [];
  const ctx = {
    metrics: new TcpMetrics(registry),
    log: silentLogger,
    accessLog: (e: AccessLogEntry) => log.push(e),
    outstanding: new Map<string, number>(),
  };
  return { registry, log, flows: new FlowSet(), ctx };
}

const INFO = {
  direction: 'outbound',
  pod: 'shop/client',
  sourceAddress: '10.0.0.1:5000',
  destinationAddress: '10.0.0.2:80',
} as const;

describe('node-agent/proxy flow', () => {
  it('counts bytes both ways, closes the series and writes one access-log entry', async () => {
    const { registry, log, flows, ctx } = setup();
    const client = pair();
    const upstream = pair();
    const flow = new Flow(ctx, INFO, flows, client.side);
    flow.labels = {
      ...flow.labels,
      sourcePrincipal: 'spiffe://td/ns/shop/sa/client',
      destinationService: 'shop/api',
    };
    flow.track('uid-api');
    assert.equal(ctx.outstanding.get('uid-api'), 1);
    flow.pipe(client.side, upstream.side);
    client.in.end('abc');
    upstream.in.end('12345');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(flows.size, 0);
    assert.equal(log.length, 1);
    assert.equal(log[0]?.bytesReceived, 3);
    assert.equal(log[0]?.bytesSent, 5);
    assert.equal(log[0]?.result, 'ok');
    assert.equal(ctx.outstanding.has('uid-api'), false);
    const text = registry.render();
    assert.match(
      text,
      /waymesh_tcp_received_bytes_total\{direction="outbound",source_principal="spiffe:\/\/td\/ns\/shop\/sa\/client",destination_principal="unknown",source_workload="unknown",destination_workload="unknown",destination_service="shop\/api"\} 3/,
    );
    assert.match(text, /waymesh_tcp_sent_bytes_total\{[^}]*\} 5/);
    assert.match(text, /waymesh_tcp_connections_closed_total\{[^}]*\} 1/);
  });

  it('a failed flow logs its reason once and counts no connection', () => {
    const { registry, log, flows, ctx } = setup();
    const flow = new Flow(ctx, INFO, flows);
    flow.fail('refused', 'no ready endpoint');
    flow.fail('error', 'again');
    assert.deepEqual(
      log.map((e) => [e.result, e.reason]),
      [['refused', 'no ready endpoint']],
    );
    assert.doesNotMatch(registry.render(), /connections_opened_total\{/);
  });

  it('drain destroys flows still open at the deadline', async () => {
    const { flows, ctx, log } = setup();
    const client = pair();
    const upstream = pair();
    new Flow(ctx, INFO, flows, client.side).pipe(client.side, upstream.side);
    const started = Date.now();
    await flows.drain(50);
    assert.ok(Date.now() - started >= 45);
    assert.ok(client.side.destroyed && upstream.side.destroyed);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(log[0]?.result, 'error');
  });

  it('formats addresses and workload labels', () => {
    assert.equal(addressOf('fd00::1', 80), '[fd00::1]:80');
    assert.equal(addressOf('10.0.0.1', 80), '10.0.0.1:80');
    assert.equal(addressOf(undefined, 80), 'unknown');
    assert.equal(workloadLabel({ namespace: 'shop', name: 'api-1' }), 'shop/api-1');
    assert.equal(workloadLabel(undefined), 'unknown');
  });
});
