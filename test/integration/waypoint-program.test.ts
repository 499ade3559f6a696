/**
 * The waypoint program end to end on loopback: an in-process {@link Waypoint} with a static
 * identity from an in-process CA, started from a snapshot file; two echo backends (v1, v2), each
 * behind an HBONE server presenting its pod identity (a stand-in for the destination node agent);
 * clients opening HBONE tunnels to the waypoint with their own identities and speaking HTTP/1.1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  inMemoryRootCa,
  issueLocalIdentity,
  verifyTlsPeer,
  type CertificateAuthority,
} from '../../certs/index.ts';
import { createHboneServer, HboneClient, pipeTunnel, type HboneServer } from '../../common/hbone/index.ts';
import type { MeshService } from '../../common/ir/mesh.ts';
import type { RouteEntry } from '../../common/ir/routes.ts';
import type { WaypointSnapshot } from '../../common/ir/snapshots.ts';
import { formatSpiffeId } from '../../common/spiffe.ts';
import { fileConfigSource } from '../../waypoint/program/config-source.ts';
import {
  certFromPem,
  clientTls,
  type IdentityProvider,
  type WaypointCert,
} from '../../waypoint/program/identity.ts';
import { Waypoint } from '../../waypoint/waypoint.ts';
import { createLogger } from '../../common/log.ts';
import { startTestSink, type OtlpSink } from '../helpers/otlp.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const TD = 'cluster.local';
const WAYPOINT_ID = `spiffe://${TD}/ns/shop/sa/waypoint`;
const SRC = { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop', name: 'reviews' };
const V1_IP = '127.0.0.11';
const V2_IP = '127.0.0.12';
const DEAD_IPS = ['127.0.0.13', '127.0.0.14'] as const;

function cert(ca: CertificateAuthority, id: string): WaypointCert {
  const local = issueLocalIdentity(ca, id);
  return certFromPem(id, local.keyPem, local.certChainPem, local.bundle);
}

function staticProvider(c: WaypointCert): IdentityProvider {
  return {
    start: () => Promise.resolve(c),
    current: () => c,
    onUpdate: () => undefined,
    trustAnchors: () => undefined,
    stop: () => undefined,
  };
}

function service(name: string, ip: string, o: Partial<MeshService> = {}): MeshService {
  return {
    key: `shop/${name}`,
    namespace: 'shop',
    name,
    clusterIPs: [ip],
    ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }],
    endpoints: [],
    source: { group: '', kind: 'Service', namespace: 'shop', name },
    ...o,
  };
}

function backendOf(name: string, weight = 1): RouteEntry['backends'][number] {
  return { kind: 'service', service: `shop/${name}`, port: 80, weight, filters: [] };
}

function entry(rule: string, match: RouteEntry['match'], backends: RouteEntry['backends']): RouteEntry {
  return {
    id: `httproute/shop/reviews/rule/${rule}/match/0`,
    route: SRC,
    rule,
    match,
    filters: [],
    backends,
    timeouts: {},
  };
}

const prefix = (value: string): RouteEntry['match'] => ({
  kind: 'http',
  path: { type: 'PathPrefix', value },
  headers: [],
  queryParams: [],
});

function buildSnapshot(
  version: string,
  echoPorts: { v1: number; v2: number },
  headerTo = 'reviews-v2',
): WaypointSnapshot {
  const binding = {
    gateway: { namespace: 'shop', name: 'waypoint' },
    addresses: ['127.0.0.1'],
    identity: WAYPOINT_ID,
  };
  const endpoint = (ip: string, port: number, sa: string): MeshService['endpoints'][number] => ({
    workloadUid: sa,
    identity: `spiffe://${TD}/ns/shop/sa/${sa}`,
    ip,
    node: 'n1',
    ready: true,
    ports: { 80: port },
  });
  const v1 = endpoint(V1_IP, echoPorts.v1, 'reviews-v1');
  const v2 = endpoint(V2_IP, echoPorts.v2, 'reviews-v2');
  // No HBONE server listens on these: their tunnels are refused.
  const flaky = [
    endpoint(DEAD_IPS[0], echoPorts.v1, 'flaky'),
    endpoint(DEAD_IPS[1], echoPorts.v1, 'flaky'),
    v1,
  ];
  return {
    kind: 'waypoint',
    version,
    trustDomain: TD,
    waypoint: { namespace: 'shop', name: 'waypoint' },
    services: [
      service('reviews', '10.96.0.10', { waypoint: binding }),
      service('reviews-v1', '10.96.0.11', { endpoints: [v1] }),
      service('reviews-v2', '10.96.0.12', { endpoints: [v2] }),
      service('other', '10.96.0.20', { endpoints: [v1] }),
      service('ratings', '10.96.0.30', { waypoint: binding, endpoints: [v1] }),
      service('flaky', '10.96.0.40', { waypoint: binding, endpoints: flaky }),
      service('flaky-tcp', '10.96.0.41', {
        waypoint: binding,
        endpoints: flaky,
        ports: [{ name: 'tcp', port: 80, protocol: 'TCP', appProtocol: 'tcp' }],
      }),
    ],
    routes: [
      {
        service: 'shop/reviews',
        port: 80,
        protocol: 'http',
        producer: [
          entry(
            'by-header',
            { kind: 'http', headers: [{ name: 'x-version', type: 'Exact', value: 'v2' }], queryParams: [] },
            [backendOf(headerTo)],
          ),
          entry('split', prefix('/split'), [backendOf('reviews-v1', 90), backendOf('reviews-v2', 10)]),
          entry('api', prefix('/api'), [backendOf('reviews-v1')]),
        ],
        consumers: { frontend: [entry('frontend', prefix('/'), [backendOf('reviews-v2')])] },
      },
    ],
    policies: [
      {
        id: 'authorizationpolicy/shop/deny-admin',
        source: {
          group: 'security.istio.io',
          kind: 'AuthorizationPolicy',
          namespace: 'shop',
          name: 'deny-admin',
        },
        scope: { kind: 'service', service: 'shop/reviews' },
        action: 'DENY',
        layer: 'L7',
        rules: [
          {
            from: [],
            to: [
              {
                ports: { values: [], not: [] },
                methods: { values: [], not: [] },
                paths: { values: ['/api/admin'], not: [] },
                hosts: { values: [], not: [] },
              },
            ],
            when: [],
          },
        ],
      },
    ],
    rateLimits: [
      {
        id: 'ratelimitpolicy/shop/ratings/limit/0',
        source: { group: 'waymesh.io', kind: 'RateLimitPolicy', namespace: 'shop', name: 'ratings' },
        target: { kind: 'service', service: 'shop/ratings' },
        requests: 3,
        periodSeconds: 60,
        key: { type: 'source' },
      },
    ],
  };
}

/** An HTTP echo app answering `{backend, path}` as JSON. */
async function startEchoApp(name: string, ip: string): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({ backend: name, path: req.url, traceparent: req.headers['traceparent'] ?? null }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, ip, resolve));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** The destination node agent's stand-in: HBONE with the pod identity, piped to the app. */
function podHbone(ca: CertificateAuthority, sa: string): HboneServer {
  const id = issueLocalIdentity(ca, `spiffe://${TD}/ns/shop/sa/${sa}`);
  return createHboneServer({
    tls: { key: id.keyPem, cert: id.certChainPem.join(''), ca: id.bundle.toPem() },
    verifyPeer: (socket) => formatSpiffeId(verifyTlsPeer(socket, id.bundle, 'client')),
    onTunnel: (tunnel) => {
      const app = net.connect(tunnel.authority.port, tunnel.authority.host);
      app.once('connect', () => pipeTunnel(tunnel.accept(), app, () => undefined));
      app.once('error', (err) => {
        if (!tunnel.settled) tunnel.refuse(503, err.message);
      });
    },
  });
}

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

describe('waypoint program (integration)', function () {
  this.timeout(60_000);
  let dir: string;
  let file: string;
  let ca: CertificateAuthority;
  let waypoint: Waypoint;
  let redis: TestRedis;
  let sink: OtlpSink;
  const apps: http.Server[] = [];
  const pods: HboneServer[] = [];
  const client = new HboneClient();
  let echoPorts: { v1: number; v2: number };
  let clientCert: WaypointCert;
  let frontendCert: WaypointCert;

  const writeSnapshot = (s: WaypointSnapshot): void => {
    writeFileSync(`${file}.tmp`, JSON.stringify(s));
    renameSync(`${file}.tmp`, file);
  };

  async function request(
    path: string,
    o: { headers?: Record<string, string>; as?: WaypointCert; target?: string } = {},
  ): Promise<Reply> {
    const as = o.as ?? clientCert;
    const tunnel = await client.open({
      via: { host: '127.0.0.1', port: waypoint.addresses.hbonePort },
      authority: o.target ?? '10.96.0.10:80',
      tls: clientTls(as),
      verifyServer: (socket) => {
        const got = formatSpiffeId(verifyTlsPeer(socket, as.bundle, 'server'));
        assert.equal(got, WAYPOINT_ID);
        return got;
      },
    });
    return new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        {
          method: 'GET',
          path,
          headers: { host: 'reviews.shop', connection: 'close', ...o.headers },
          createConnection: () => tunnel.stream,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            tunnel.stream.end();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  const backendOfReply = (r: Reply): string => (JSON.parse(r.body) as { backend: string }).backend;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wmt-waypoint-'));
    file = join(dir, 'snapshot.json');
    ca = inMemoryRootCa(TD);
    redis = await startRedis();
    sink = await startTestSink();
    const v1 = await startEchoApp('v1', V1_IP);
    const v2 = await startEchoApp('v2', V2_IP);
    apps.push(v1.server, v2.server);
    echoPorts = { v1: v1.port, v2: v2.port };
    const p1 = podHbone(ca, 'reviews-v1');
    const p2 = podHbone(ca, 'reviews-v2');
    pods.push(p1, p2);
    const hbonePort = await p1.listen({ host: V1_IP, port: 0 });
    await p2.listen({ host: V2_IP, port: hbonePort });
    writeSnapshot(buildSnapshot('v-1', echoPorts));
    clientCert = cert(ca, `spiffe://${TD}/ns/test/sa/client`);
    frontendCert = cert(ca, `spiffe://${TD}/ns/frontend/sa/web`);
    const loopback = { host: '127.0.0.1', port: 0 };
    waypoint = new Waypoint({
      gateway: { namespace: 'shop', name: 'waypoint' },
      trustDomain: TD,
      identity: staticProvider(cert(ca, WAYPOINT_ID)),
      config: fileConfigSource(file),
      hbone: loopback,
      admin: loopback,
      metrics: loopback,
      ready: loopback,
      redis: { host: redis.host, port: redis.port },
      upstreamHbonePort: hbonePort,
      ...(process.env['WMT_LOG'] === undefined ? {} : { logger: createLogger({ level: 'debug' }) }),
      tracing: { endpoint: sink.grpcUrl, protocol: 'grpc', samplingRatio: 1 },
    });
    await waypoint.start();
    for (let i = 0; i < 100 && !waypoint.isReady(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(waypoint.isReady(), 'the waypoint became ready');
  });

  after(async () => {
    await waypoint?.stop({ deadlineMs: 500 });
    await client.close();
    await Promise.all(pods.map((p) => p.close({ deadlineMs: 0 })));
    await Promise.all(apps.map((a) => new Promise<void>((resolve) => a.close(() => resolve()))));
    await redis?.stop();
    await sink?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('answers /ready once identity and snapshot are in place', async () => {
    const res = await fetch(`${waypoint.addresses.readyUrl}/ready`);
    assert.equal(res.status, 200);
  });

  it('routes by header to v2, else by path to v1', async () => {
    assert.equal(backendOfReply(await request('/api/x', { headers: { 'x-version': 'v2' } })), 'v2');
    const plain = await request('/api/x');
    assert.equal(plain.status, 200);
    assert.equal(backendOfReply(plain), 'v1');
  });

  it('splits 90/10 by weight (±5 % over 1,000 requests)', async () => {
    const counts = { v1: 0, v2: 0 };
    for (let batch = 0; batch < 50; batch++) {
      const replies = await Promise.all(Array.from({ length: 20 }, () => request('/split')));
      for (const r of replies) counts[backendOfReply(r) as 'v1' | 'v2']++;
    }
    assert.equal(counts.v1 + counts.v2, 1000);
    assert.ok(Math.abs(counts.v2 / 1000 - 0.1) <= 0.05, `v2 got ${counts.v2} of 1000`);
  });

  it('fails over when the tunnels to the first endpoints cannot be opened (HTTP and L4 passthrough)', async () => {
    // Two of the three endpoints have no HBONE server; one try plus two others always reaches v1.
    for (const target of ['10.96.0.40:80', '10.96.0.41:80']) {
      for (let i = 0; i < 3; i++) {
        const r = await request('/f', { target });
        assert.equal(r.status, 200, `${target} request ${i}: ${r.body}`);
        assert.equal(backendOfReply(r), 'v1');
      }
    }
    // Requests and passthrough connections stop counting against their endpoint once they end.
    let busy: string[] = [];
    for (let i = 0; i < 50; i++) {
      const text = await (await fetch(`${waypoint.addresses.metricsUrl}/metrics`)).text();
      busy = text.split('\n').filter((l) => /^waymesh_upstream_outstanding_requests\{.*\} [1-9]/.test(l));
      if (busy.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(busy, []);
  });

  it('answers 404 when no route matches', async () => {
    assert.equal((await request('/nope')).status, 404);
  });

  it('refuses a tunnel to a service not bound to this waypoint with 403', async () => {
    await assert.rejects(request('/api', { target: '10.96.0.20:80' }), /403/);
  });

  it('applies consumer routes only to clients of that namespace', async () => {
    assert.equal(backendOfReply(await request('/nope', { as: frontendCert })), 'v2');
    assert.equal((await request('/nope')).status, 404);
  });

  it('denies by an L7 DENY policy with 403', async () => {
    const r = await request('/api/admin');
    assert.equal(r.status, 403);
  });

  it('rate-limits with Redis: 429 after 3 requests per source', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await request('/', { target: '10.96.0.30:80' })).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  });

  it('shows a Redis outage in its metrics: fallback active, one outage, errors; cleared when Redis is back', async () => {
    const metric = async (name: string): Promise<number> => {
      const text = await (await fetch(`${waypoint.addresses.metricsUrl}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      assert.ok(line !== undefined, `${name} is exported`);
      return Number(line.slice(name.length + 1));
    };
    const until = async (what: string, ok: () => Promise<boolean>): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        if (await ok()) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.fail(`timed out waiting for ${what}`);
    };
    assert.equal(await metric('waymesh_ratelimit_fallback_active'), 0);
    const outagesBefore = await metric('waymesh_ratelimit_store_outages_total');
    const errorsBefore = await metric('waymesh_ratelimit_store_errors_total');
    await redis.kill();
    try {
      await until('the fallback to take over', async () => {
        await request('/', { target: '10.96.0.30:80' });
        return (await metric('waymesh_ratelimit_fallback_active')) === 1;
      });
      await until(
        'a failed probe',
        async () => (await metric('waymesh_ratelimit_store_errors_total')) > errorsBefore,
      );
    } finally {
      await redis.restart();
    }
    await until(
      'Redis to answer again',
      async () => (await metric('waymesh_ratelimit_fallback_active')) === 0,
    );
    assert.equal(await metric('waymesh_ratelimit_store_outages_total'), outagesBefore + 1);
  });

  it('exports a server span and a client span per attempt, continuing the caller trace', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const r = await request('/api/traced', { headers: { traceparent: `00-${traceId}-${callerSpan}-01` } });
    assert.equal(r.status, 200);
    const spans = await sink.waitForSpans(
      (all) => all.filter((s) => s.traceId === traceId).length >= 2,
      10_000,
    );
    const mine = spans.filter((s) => s.traceId === traceId);
    const server = mine.find((s) => s.kind === 'server');
    const upstream = mine.find((s) => s.kind === 'client');
    assert.ok(server !== undefined && upstream !== undefined, `spans: ${mine.map((s) => s.kind).join(',')}`);
    assert.equal(server.parentSpanId, callerSpan);
    assert.equal(upstream.parentSpanId, server.spanId);
    const seen = (JSON.parse(r.body) as { traceparent: string }).traceparent;
    assert.equal(seen, `00-${traceId}-${upstream.spanId}-01`);
  });

  it('swaps the configuration while requests are in flight without failures', async () => {
    let stop = false;
    const seen = new Set<string>();
    const load = (async () => {
      let failed = 0;
      while (!stop) {
        const r = await request('/api/x', { headers: { 'x-version': 'v2' } });
        if (r.status !== 200) failed++;
        else seen.add(backendOfReply(r));
      }
      return failed;
    })();
    await new Promise((r) => setTimeout(r, 200));
    writeSnapshot(buildSnapshot('v-2', echoPorts, 'reviews-v1'));
    for (let i = 0; i < 100 && waypoint.config().version !== 'v-2'; i++)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    assert.equal(await load, 0);
    assert.equal(waypoint.config().version, 'v-2');
    assert.deepEqual([...seen].sort(), ['v1', 'v2']);
  });

  it('exports waymesh_requests_total with route labels on /metrics', async () => {
    const text = await (await fetch(`${waypoint.addresses.metricsUrl}/metrics`)).text();
    assert.match(text, /waymesh_requests_total\{[^}]*route="httproute\/shop\/reviews"[^}]*\} \d+/);
    assert.match(text, /waymesh_config_version_info\{version="v-2"\} 1/);
    assert.match(text, /waymesh_ratelimited_total\{[^}]*destination_service="shop\/ratings"/);
    assert.match(text, /waymesh_denied_total\{[^}]*policy="authorizationpolicy\/shop\/deny-admin"/);
  });
});
