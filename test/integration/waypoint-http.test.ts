// The waypoint's HTTP engine on loopback (issue 6 §1, §2, §5): tunnels are TCP connections to a
// local server that hands each one to `serveTunnel` wrapped in a plain Duplex (not a net.Socket,
// like an HBONE stream), upstream streams likewise; a fake Router returns fixed decisions.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';

import * as grpc from '@grpc/grpc-js';
import { Client } from 'undici';

import type { AppProtocol, MeshService } from '../../common/ir/mesh.ts';
import type { RouteEntry } from '../../common/ir/routes.ts';
import type { ServiceKey } from '../../common/ir/source.ts';
import { isMeshError, MeshError } from '../../common/errors.ts';
import { HboneRefusedError } from '../../common/hbone/index.ts';
import { silentLogger } from '../../common/log.ts';
import { loadGrpcService } from '../../common/proto.ts';
import { startGrpcEcho } from '../../apps/echo/grpc.ts';
import type { EchoGrpcServer } from '../../apps/echo/grpc.ts';
import { createHttpEngine, type PathNormalization } from '../../waypoint/http/index.ts';
import type {
  EngineConfig,
  EngineHooks,
  EngineLimits,
  HttpEngine,
  RequestDone,
  TunnelContext,
} from '../../waypoint/http/index.ts';
import type { RouteDecision, RouteRequest, Router } from '../../waypoint/routing/types.ts';

/** A Duplex that is not a net.Socket, relaying to `socket` with back-pressure. */
function wrap(socket: net.Socket): Duplex {
  const d: Duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!d.push(chunk)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  socket.on('error', () => d.destroy());
  return d;
}

type Decide = (req: RouteRequest) => RouteDecision;

class FakeRouter implements Router {
  constructor(readonly decideFn: Decide) {}
  decide(_target: unknown, req: RouteRequest): RouteDecision {
    return this.decideFn(req);
  }
  protocolOf(): 'http' | undefined {
    return 'http';
  }
}

const SVC: ServiceKey = 'default/web';
const BACK: ServiceKey = 'default/backend';

function service(key: ServiceKey, appProtocol: AppProtocol, ports: number[]): MeshService {
  const [namespace = '', name = ''] = key.split('/');
  return {
    key,
    namespace,
    name,
    clusterIPs: ['10.96.0.10'],
    ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol }],
    endpoints: ports.map((p, i) => ({
      workloadUid: `uid-${p}`,
      ip: '127.0.0.1',
      node: 'n',
      ready: i >= 0,
      ports: { 80: p },
    })),
    source: { group: '', kind: 'Service', namespace, name },
  };
}

function entry(rule = '0'): RouteEntry {
  return {
    id: `httproute/default/r/rule/${rule}/match/0`,
    route: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default', name: 'r' },
    rule,
    match: { kind: 'http', headers: [], queryParams: [] },
    filters: [],
    backends: [],
    timeouts: {},
  };
}

function fwd(over: Partial<Extract<RouteDecision, { kind: 'forward' }>> = {}, path?: string): Decide {
  return (req) => ({
    kind: 'forward',
    entry: entry(),
    backend: { kind: 'service', service: BACK, port: 80, weight: 1, filters: [] },
    request: {
      pathAndQuery: path ?? req.path + (req.query === '' ? '' : `?${req.query}`),
      authority: req.authority,
      headerEdits: [],
    },
    responseEdits: [],
    mirrors: [],
    timeouts: {},
    retry: undefined,
    ...over,
  });
}

/** The world of one test: backends, a tunnel server, the engine, its records. */
class World {
  readonly closers: (() => Promise<void> | void)[] = [];
  readonly done: RequestDone[] = [];
  config!: EngineConfig;
  engine!: HttpEngine;
  port = 0;
  ctx: TunnelContext = {
    target: { service: SVC, port: 80 },
    protocol: 'unknown',
    sourceIdentity: 'spiffe://cluster.local/ns/client/sa/c',
    sourceNamespace: 'client',
  };
  connects = 0;
  /** Connects to these ports fail with the given error, as an HBONE peer would refuse them. */
  readonly refusals = new Map<number, Error>();

  async start(
    decide: Decide,
    services: MeshService[],
    opts: { limits?: Partial<EngineLimits>; hooks?: EngineHooks; pathNormalization?: PathNormalization } = {},
  ): Promise<void> {
    this.config = { router: new FakeRouter(decide), services: new Map(services.map((s) => [s.key, s])) };
    this.engine = createHttpEngine({
      getConfig: () => this.config,
      connector: {
        connect: (ep) =>
          new Promise((resolve, reject) => {
            this.connects++;
            const refusal = this.refusals.get(ep.port);
            if (refusal !== undefined) return reject(refusal);
            const s = net.connect({ port: ep.port, host: ep.ip, noDelay: true });
            s.once('connect', () => resolve(wrap(s)));
            // As the HBONE client reports a peer it cannot reach.
            s.once('error', (err) =>
              reject(
                new MeshError('HBONE_CONNECT_FAILED', `HBONE connect failed: ${err.message}`, { cause: err }),
              ),
            );
          }),
      },
      limits: opts.limits,
      hooks: { onRequestDone: (d) => this.done.push(d), ...opts.hooks },
      random: () => 0.5,
      logger: silentLogger,
      ...(opts.pathNormalization === undefined ? {} : { pathNormalization: opts.pathNormalization }),
    });
    const server = net.createServer({ noDelay: true }, (socket) =>
      this.engine.serveTunnel(wrap(socket), this.ctx),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.port = (server.address() as net.AddressInfo).port;
    this.closers.push(async () => {
      await this.engine.stop({ deadlineMs: 0 });
      await new Promise<void>((r) => server.close(() => r()));
    });
  }

  async backend(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
    const server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.closers.push(() => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
    return (server.address() as net.AddressInfo).port;
  }

  client(): Client {
    const c = new Client(`http://127.0.0.1:${this.port}`, { pipelining: 10 });
    this.closers.push(() => c.destroy());
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.closers.reverse()) await c();
  }
}

/** Echo backend: JSON facts about the request; `x-status` sets the status, `x-hang` never answers. */
function echo(name: string): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.headers['x-hang'] !== undefined) return;
      const body = JSON.stringify({
        name,
        url: req.url,
        method: req.method,
        headers: req.headers,
        bodyLength: Buffer.concat(chunks).length,
      });
      res.writeHead(Number(req.headers['x-status'] ?? 200), {
        'content-type': 'application/json',
        'x-from': name,
      });
      res.end(body);
    });
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function json(
  c: Client,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
) {
  const r = await c.request({ path, method, headers, body });
  const text = await r.body.text();
  return {
    status: r.statusCode,
    headers: r.headers,
    text,
    body: text.startsWith('{')
      ? (JSON.parse(text) as {
          name: string;
          url: string;
          headers: Record<string, string>;
          bodyLength: number;
        })
      : undefined,
  };
}

/** Raw HTTP/1.1 exchange: writes `data`, resolves with everything read until the peer closes or `ms`. */
function raw(port: number, data: string, ms = 2000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false });
    }, ms);
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    s.on('error', () => undefined);
    s.write(data);
  });
}

describe('waypoint HTTP engine (loopback)', function () {
  this.timeout(30_000);
  let w: World;
  beforeEach(() => {
    w = new World();
  });
  afterEach(async () => {
    await w.close();
  });

  it('serves HTTP/1.1 keep-alive and pipelined requests in order over one tunnel', async () => {
    const port = await w.backend(echo('b1'));
    await w.start(fwd(), [service(BACK, 'http', [port])]);
    const text = (
      await raw(
        w.port,
        'GET /one HTTP/1.1\r\nHost: web\r\n\r\nGET /two HTTP/1.1\r\nHost: web\r\n\r\nGET /three HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n',
      )
    ).text;
    const urls = [...text.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(urls, ['/one', '/two', '/three']);
    assert.equal(text.match(/HTTP\/1\.1 200/g)?.length, 3);
  });

  it('serves a port declared http without detection and refuses tcp tunnels with a MeshError', async () => {
    const port = await w.backend(echo('b1'));
    await w.start(fwd(), [service(BACK, 'http', [port])]);
    w.ctx = { ...w.ctx, protocol: 'http' };
    assert.equal((await json(w.client(), '/declared')).body?.url, '/declared');
    const [a] = [
      new Duplex({
        read() {},
        write(_c, _e, cb) {
          cb();
        },
      }),
    ];
    assert.throws(
      () => w.engine.serveTunnel(a, { ...w.ctx, protocol: 'tcp' }),
      (err: unknown) => isMeshError(err, 'WAYPOINT_UNSUPPORTED_PROTOCOL'),
    );
    a.destroy();
  });

  it('serves h2c with prior knowledge (detected from the preface)', async () => {
    const port = await w.backend(echo('b1'));
    await w.start(fwd(), [service(BACK, 'http', [port])]);
    const session = http2.connect(`http://127.0.0.1:${w.port}`);
    w.closers.push(() => void session.destroy());
    const results = await Promise.all(
      ['/a', '/b'].map(
        (path) =>
          new Promise<{ status: number; body: string }>((resolve, reject) => {
            const st = session.request({ ':path': path, ':authority': 'web.default:80' });
            let body = '';
            let status = 0;
            st.on('response', (h) => (status = Number(h[':status'])));
            st.on('data', (d: Buffer) => (body += d.toString()));
            st.on('end', () => resolve({ status, body }));
            st.on('error', reject);
          }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200],
    );
    const parsed = results.map((r) => JSON.parse(r.body) as { url: string; headers: Record<string, string> });
    assert.deepEqual(
      parsed.map((p) => p.url),
      ['/a', '/b'],
    );
    assert.equal(parsed[0]?.headers['host'], 'web.default:80');
  });

  it('maps every decision kind to its HTTP status', async () => {
    const port = await w.backend(echo('b1'));
    const decisions: Record<string, Decide> = {
      '/pass': () => ({ kind: 'passthrough', service: BACK, port: 80 }),
      '/none': () => ({ kind: 'no-match' }),
      '/redir': () => ({
        kind: 'redirect',
        entry: entry(),
        status: 301,
        location: 'http://other/x',
        responseEdits: [{ set: [{ name: 'x-r', value: '1' }], add: [], remove: [] }],
      }),
      '/invalid': () => ({
        kind: 'invalid-backend',
        entry: entry(),
        backend: { kind: 'invalid', weight: 1, reason: 'Service default/gone not found' },
      }),
      '/noep': fwd({
        backend: { kind: 'service', service: 'default/empty', port: 80, weight: 1, filters: [] },
      }),
    };
    await w.start(
      (req) => (decisions[req.path] ?? fwd())(req),
      [service(BACK, 'http', [port]), service('default/empty', 'http', [])],
    );
    const c = w.client();
    const pass = await json(c, '/pass?q=1');
    assert.equal(pass.status, 200);
    assert.equal(pass.body?.url, '/pass?q=1');
    const none = await json(c, '/none');
    assert.equal(none.status, 404);
    assert.match(none.text, /no route rule of default\/web port 80 matches GET \/none/);
    const redir = await json(c, '/redir');
    assert.equal(redir.status, 301);
    assert.equal(redir.headers['location'], 'http://other/x');
    assert.equal(redir.headers['x-r'], '1');
    const invalid = await json(c, '/invalid');
    assert.equal(invalid.status, 500);
    assert.match(invalid.text, /gone not found/);
    assert.equal((await json(c, '/noep')).status, 503);
    assert.deepEqual(
      w.done.map((d) => [d.outcome, d.status]),
      [
        ['passthrough', 200],
        ['no-match', 404],
        ['redirect', 301],
        ['invalid-backend', 500],
        ['forward', 503],
      ],
    );
  });

  it('applies request and response header edits and rewrites path and authority', async () => {
    const port = await w.backend(echo('b1'));
    await w.start(
      fwd({
        request: {
          pathAndQuery: '/rewritten?x=1',
          authority: 'backend.default',
          headerEdits: [
            {
              set: [{ name: 'x-set', value: 'new' }],
              add: [{ name: 'x-add', value: 'two' }],
              remove: ['x-gone'],
            },
          ],
        },
        responseEdits: [{ set: [{ name: 'x-resp', value: 'yes' }], add: [], remove: ['x-from'] }],
      }),
      [service(BACK, 'http', [port])],
    );
    const r = await json(w.client(), '/orig', {
      'x-set': 'old',
      'x-add': 'one',
      'x-gone': 'bye',
      connection: 'keep-alive',
    });
    assert.equal(r.status, 200);
    assert.equal(r.body?.url, '/rewritten?x=1');
    assert.equal(r.body?.headers['host'], 'backend.default');
    assert.equal(r.body?.headers['x-set'], 'new');
    assert.equal(r.body?.headers['x-add'], 'one, two');
    assert.equal(r.body?.headers['x-gone'], undefined);
    assert.equal(r.headers['x-resp'], 'yes');
    assert.equal(r.headers['x-from'], undefined);
  });

  it('picks the endpoint with the fewest outstanding requests', async () => {
    const held: ServerResponse[] = [];
    const slow = await w.backend((req, res) => {
      if (req.url === '/hold') held.push(res);
      else echo('slow')(req, res);
    });
    const fast = await w.backend(echo('fast'));
    await w.start(fwd(), [service(BACK, 'http', [slow, fast])]);
    // random 0.5 with two tied endpoints keeps the first: the slow one gets the held request.
    const c1 = new Client(`http://127.0.0.1:${w.port}`);
    w.closers.push(() => c1.destroy());
    const pending = c1.request({ path: '/hold', method: 'GET' });
    for (let i = 0; i < 50 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(held.length, 1);
    const names = [];
    for (let i = 0; i < 4; i++) names.push((await json(w.client(), '/x')).body?.name);
    assert.deepEqual(names, ['fast', 'fast', 'fast', 'fast']);
    held[0]?.end('done');
    assert.equal((await pending).statusCode, 200);
  });

  it('answers 504 when the backend never answers (backendRequest and request timeouts)', async () => {
    const port = await w.backend(echo('b1'));
    const decisions: Record<string, Decide> = {
      '/backend': fwd({ timeouts: { backendRequestMs: 150 } }),
      '/overall': fwd({ timeouts: { requestMs: 150 } }),
    };
    await w.start((req) => (decisions[req.path] ?? fwd())(req), [service(BACK, 'http', [port])]);
    const c = w.client();
    const t0 = Date.now();
    const a = await json(c, '/backend', { 'x-hang': '1' });
    assert.equal(a.status, 504);
    assert.match(a.text, /backendRequest timeout of 150 ms exceeded waiting for backend default\/backend/);
    const b = await json(c, '/overall', { 'x-hang': '1' });
    assert.equal(b.status, 504);
    assert.ok(Date.now() - t0 < 5000);
    assert.deepEqual(w.engine.stats().outstanding, {});
  });

  it('answers 504 when a replayable body does not arrive before the request timeout', async () => {
    const port = await w.backend(echo('b1'));
    await w.start(fwd({ timeouts: { requestMs: 150 }, retry: { attempts: 2, codes: [503], backoffMs: 0 } }), [
      service(BACK, 'http', [port]),
    ]);
    const r = await raw(w.port, 'POST /slow HTTP/1.1\r\nHost: web\r\nContent-Length: 10\r\n\r\nabc', 1000);
    assert.match(r.text, /^HTTP\/1\.1 504 /);
    assert.equal(w.done[0]?.errorCode, 'WAYPOINT_TIMEOUT');
  });

  it('retries on 503 and reports the attempts; never retries a large streamed body', async () => {
    let calls = 0;
    const port = await w.backend((req, res) => {
      calls++;
      req.resume();
      req.on('end', () => {
        if (calls < 3) {
          res.writeHead(503);
          res.end('busy');
        } else res.end('ok');
      });
    });
    await w.start(
      fwd({ retry: { attempts: 3, codes: [503], backoffMs: 10 } }),
      [service(BACK, 'http', [port])],
      { limits: { replayBodyBytes: 1024 } },
    );
    const c = w.client();
    const r = await c.request({ path: '/x', method: 'POST', body: 'small body' });
    await r.body.text();
    assert.equal(r.statusCode, 200);
    assert.equal(calls, 3);
    assert.equal(w.done[0]?.attempts, 3);
    assert.equal(w.done[0]?.retries, 2);
    calls = 0;
    const big = await c.request({ path: '/y', method: 'POST', body: Buffer.alloc(200_000, 1) });
    await big.body.text();
    assert.equal(big.statusCode, 503);
    assert.equal(calls, 1);
    assert.equal(w.done[1]?.attempts, 1);
  });

  it('answers 502 naming the backend when the connection is refused (after retrying)', async () => {
    const dead = await freePort();
    // One retry (Gateway API `attempts` counts retries): two connects in all.
    await w.start(fwd({ retry: { attempts: 1, codes: [], backoffMs: 0 } }), [service(BACK, 'http', [dead])]);
    const r = await json(w.client(), '/x');
    assert.equal(r.status, 502);
    assert.match(r.text, /cannot connect to backend default\/backend/);
    assert.equal(w.connects, 2);
    assert.equal(w.done[0]?.errorCode, 'WAYPOINT_UPSTREAM_CONNECT_FAILED');
  });

  it('fails over at once to another endpoint when a tunnel cannot be opened, then skips the dead one', async () => {
    const dead = await freePort();
    const live = await w.backend(echo('live'));
    // No retry policy. Both endpoints idle: the fixed random source picks the first, the dead one.
    await w.start(fwd(), [service(BACK, 'http', [dead, live])]);
    const c = w.client();
    const r = await json(c, '/x');
    assert.equal(r.status, 200);
    assert.equal(r.body?.name, 'live');
    assert.equal(w.connects, 2);
    assert.equal(w.done[0]?.attempts, 2);
    assert.equal(w.done[0]?.retries, 1);
    for (let i = 0; i < 4; i++) assert.equal((await json(c, `/y${i}`)).status, 200);
    assert.equal(w.connects, 2, 'later requests skip the dead endpoint and reuse the live connection');
    assert.deepEqual(
      w.done.slice(1).map((d) => d.attempts),
      [1, 1, 1, 1],
    );
  });

  it('fails over a streamed body, which the dead endpoint never read', async () => {
    const dead = await freePort();
    const live = await w.backend(echo('live'));
    await w.start(fwd(), [service(BACK, 'http', [dead, live])]);
    // Above the replay limit: streamed, so a route retry could not send it again.
    const big = await json(w.client(), '/up', {}, 'POST', 'x'.repeat(200_000));
    assert.equal(big.status, 200);
    assert.equal(big.body?.bodyLength, 200_000);
    assert.equal(w.done[0]?.attempts, 2);
  });

  it('gives up after the first endpoint and two others could not be reached (502)', async () => {
    const dead = [await freePort(), await freePort(), await freePort(), await freePort()];
    const live = await w.backend(echo('live'));
    // The fixed random source makes the picker try endpoints in list order.
    await w.start(fwd(), [service(BACK, 'http', [...dead, live])]);
    const r = await json(w.client(), '/x');
    assert.equal(r.status, 502);
    assert.equal(w.connects, 3);
    assert.equal(w.done[0]?.attempts, 3);
    assert.equal(w.done[0]?.errorCode, 'WAYPOINT_UPSTREAM_CONNECT_FAILED');
  });

  it('does not fail over refusals another endpoint would repeat (403), but does a 503 of the peer', async () => {
    const [a, b] = [await w.backend(echo('a')), await w.backend(echo('b'))];
    w.refusals.set(a, new HboneRefusedError(403, 'denied by policy', `127.0.0.1:${a}`));
    await w.start(fwd(), [service(BACK, 'http', [a, b])]);
    const c = w.client();
    const denied = await json(c, '/x');
    assert.equal(denied.status, 502);
    assert.match(denied.text, /refused with 403/);
    assert.equal(w.done[0]?.attempts, 1);
    w.refusals.set(a, new HboneRefusedError(503, 'app not listening', `127.0.0.1:${a}`));
    const r = await json(c, '/y');
    assert.equal(r.status, 200);
    assert.equal(r.body?.name, 'b');
    assert.equal(w.done[1]?.attempts, 2);
  });

  it('frees the upstream when the client disappears mid-body', async () => {
    let backendAborted = false;
    let gotBytes = 0;
    const port = await w.backend((req) => {
      req.on('data', (c: Buffer) => (gotBytes += c.length));
      req.on('aborted', () => (backendAborted = true));
      req.on('close', () => {
        if (!req.complete) backendAborted = true;
      });
    });
    await w.start(fwd(), [service(BACK, 'http', [port])]);
    const s = net.connect(w.port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write('POST /upload HTTP/1.1\r\nHost: web\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(1000));
    for (let i = 0; i < 100 && gotBytes === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(gotBytes > 0, 'the backend saw the start of the body');
    s.destroy();
    for (let i = 0; i < 100 && !backendAborted; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(backendAborted, 'the backend saw the abort');
    for (let i = 0; i < 100 && Object.keys(w.engine.stats().outstanding).length > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(w.engine.stats().outstanding, {});
  });

  it('keeps the config an in-flight request started with when it is swapped', async () => {
    const held: ServerResponse[] = [];
    const one = await w.backend((req, res) => {
      if (req.url === '/hold') held.push(res);
      else echo('one')(req, res);
    });
    const two = await w.backend(echo('two'));
    await w.start(fwd(), [service(BACK, 'http', [one])]);
    const c = w.client();
    const pending = c.request({ path: '/hold', method: 'GET' });
    for (let i = 0; i < 50 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    w.config = {
      router: new FakeRouter(() => ({ kind: 'no-match' })),
      services: new Map([[BACK, service(BACK, 'http', [two])]]),
    };
    held[0]?.end('from one');
    const r = await pending;
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'from one');
    assert.equal((await json(w.client(), '/after')).status, 404);
  });

  it('mirrors fire and forget without changing the main response', async () => {
    let mirrored: string | undefined;
    const port = await w.backend(echo('main'));
    const mport = await w.backend((req, res) => {
      mirrored = req.url;
      res.end();
    });
    await w.start(
      fwd({
        mirrors: [
          {
            backend: { kind: 'service', service: 'default/mirror', port: 80, weight: 1, filters: [] },
            request: { pathAndQuery: '/m', authority: 'mirror', headerEdits: [] },
          },
        ],
      }),
      [service(BACK, 'http', [port]), service('default/mirror', 'http', [mport])],
    );
    const r = await json(w.client(), '/x', {}, 'POST', 'hello');
    assert.equal(r.body?.name, 'main');
    for (let i = 0; i < 100 && mirrored === undefined; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(mirrored, '/m');
    assert.equal(w.engine.stats().mirrors.sent, 1);
  });

  it('calls authorize and rateLimit before routing (403, 429 with headers)', async () => {
    const port = await w.backend(echo('b1'));
    await w.start(fwd(), [service(BACK, 'http', [port])], {
      hooks: {
        authorize: (info) => ({
          allowed: info.path !== '/deny',
          policy: 'default/deny-it',
          reason: 'path /deny',
        }),
        rateLimit: (info) =>
          Promise.resolve({
            allowed: info.path !== '/limit',
            policy: 'default/rl',
            headers: { 'ratelimit-remaining': '0', 'retry-after': '1' },
          }),
      },
    });
    const c = w.client();
    const d = await json(c, '/deny');
    assert.equal(d.status, 403);
    assert.match(d.text, /denied by default\/deny-it/);
    const l = await json(c, '/limit');
    assert.equal(l.status, 429);
    assert.equal(l.headers['retry-after'], '1');
    const ok = await json(c, '/ok');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['ratelimit-remaining'], '0');
  });

  /** A DENY of `/admin` and everything under it, as an authorization hook. */
  const NO_ADMIN: EngineHooks = {
    authorize: (info) => ({
      allowed: info.path !== '/admin' && !info.path.startsWith('/admin/'),
      policy: 'default/no-admin',
      reason: 'path /admin',
    }),
  };

  it('gives policy and the backend one spelling of the path: no way around a DENY on /admin', async () => {
    const seen: string[] = [];
    const port = await w.backend((req, res) => {
      seen.push(`${req.url} host=${req.headers.host}`);
      echo('b1')(req, res);
    });
    await w.start(fwd(), [service(BACK, 'http', [port])], {
      hooks: NO_ADMIN,
    });
    const get = async (target: string): Promise<string> =>
      (await raw(w.port, `GET ${target} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`)).text;
    for (const target of [
      '/%61dmin',
      '/public/../admin',
      '/public/%2e%2e/admin/x',
      '/a\\..\\admin',
      'http://web/admin',
      'http://web/a/../admin?q=1',
    ]) {
      assert.match(await get(target), /^HTTP\/1\.1 403 /, target);
    }
    assert.deepEqual(seen, []);
    assert.match(await get('/%7Euser/./docs/%2e%2e/a%2fb?q=%2e%2e'), /^HTTP\/1\.1 200 /);
    assert.match(await get('http://reviews.shop:8080?x'), /^HTTP\/1\.1 200 /);
    assert.deepEqual(seen, ['/~user/a%2Fb?q=%2e%2e host=web', '/?x host=reviews.shop:8080']);
    assert.match(await get('/bad%zz'), /^HTTP\/1\.1 400 [^]*malformed percent-encoding/);
    assert.match(await get('http://user@web/a'), /^HTTP\/1\.1 400 [^]*userinfo/);
    assert.equal(seen.length, 2);

    const session = http2.connect(`http://127.0.0.1:${w.port}`);
    w.closers.push(() => void session.destroy());
    const h2 = (path: string): Promise<number | string> =>
      new Promise((resolve) => {
        const st = session.request({ ':path': path, ':authority': 'web' });
        st.on('response', (h) => resolve(Number(h[':status'])));
        st.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        st.resume();
      });
    assert.equal(await h2('/x/%2E%2E/%61dmin'), 403);
    // A `:path` that is not a path makes the stream malformed (RFC 9113 §8.1.1): nghttp2 resets it.
    assert.equal(await h2('http://web/admin'), 'ERR_HTTP2_STREAM_ERROR');
    assert.equal(await h2('/ok'), 200);
    assert.equal(seen.at(-1), '/ok host=web');
  });

  for (const mode of ['merge-slashes', 'decode-and-merge-slashes'] as const) {
    it(`with ${mode}, repeated slashes${mode === 'merge-slashes' ? '' : ' and encoded slashes'} reach neither policy nor backend`, async () => {
      const seen: string[] = [];
      const port = await w.backend((req, res) => {
        seen.push(req.url ?? '');
        echo('b1')(req, res);
      });
      await w.start(fwd(), [service(BACK, 'http', [port])], {
        pathNormalization: mode,
        hooks: NO_ADMIN,
      });
      const get = async (target: string): Promise<string> =>
        (await raw(w.port, `GET ${target} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`)).text;
      for (const target of ['//admin', '/public/..//admin/', '///admin//x'])
        assert.match(await get(target), /^HTTP\/1\.1 403 /, target);
      const encoded = ['/%2Fadmin', '/public%2F..%2Fadmin', '/%5cadmin'];
      for (const target of encoded)
        assert.match(
          await get(target),
          mode === 'merge-slashes' ? /^HTTP\/1\.1 200 / : /^HTTP\/1\.1 403 /,
          target,
        );
      assert.match(await get('//a//b/?q=//x'), /^HTTP\/1\.1 200 /);
      // Dot segments go first, as RFC 3986 reads them (`..` after `//` leaves `public/`), and the
      // backend gets exactly the path policy saw.
      assert.match(await get('/public//..//admin/'), /^HTTP\/1\.1 200 /);
      assert.deepEqual(seen, [
        ...(mode === 'merge-slashes' ? ['/%2Fadmin', '/public%2F..%2Fadmin', '/%5Cadmin'] : []),
        '/a/b/?q=//x',
        '/public/admin/',
      ]);
    });
  }

  it('gives policy, routes and the backend one spelling of the method: no way around a DENY of DELETE', async () => {
    const seen: string[] = [];
    const port = await w.backend((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      echo('b1')(req, res);
    });
    const methods: string[] = [];
    await w.start(fwd(), [service(BACK, 'http', [port])], {
      hooks: {
        authorize: (info) => {
          methods.push(info.method);
          return { allowed: info.method !== 'DELETE', policy: 'default/no-delete', reason: 'method' };
        },
      },
    });
    const send = async (method: string): Promise<string> =>
      (await raw(w.port, `${method} /x HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`)).text;
    for (const m of ['DELETE', 'delete', 'Delete']) assert.match(await send(m), /^HTTP\/1\.1 403 /, m);
    assert.deepEqual(seen, []);
    assert.match(await send('get'), /^HTTP\/1\.1 200 /);
    assert.match(await send('pAtCh'), /^HTTP\/1\.1 200 /);
    assert.deepEqual(seen, ['GET /x', 'PATCH /x']);
    assert.deepEqual(methods, ['DELETE', 'DELETE', 'DELETE', 'GET', 'PATCH']);
  });

  it('serves 200 concurrent requests', async () => {
    const port = await w.backend(echo('b1'));
    await w.start(fwd(), [service(BACK, 'http', [port])]);
    const { Pool } = await import('undici');
    const pool = new Pool(`http://127.0.0.1:${w.port}`, { connections: 50 });
    w.closers.push(() => pool.destroy());
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const r = await pool.request({ path: `/r${i}`, method: 'GET' });
        const body = JSON.parse(await r.body.text()) as { url: string };
        return r.statusCode === 200 && body.url === `/r${i}`;
      }),
    );
    assert.equal(results.filter(Boolean).length, 200);
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 1000) {
      await Promise.all(
        Array.from({ length: 20 }, () =>
          pool.request({ path: '/loop', method: 'GET' }).then((r) => r.body.dump()),
        ),
      );
      n += 20;
    }
    console.log(`      simple loop: ${Math.round((n * 1000) / (performance.now() - t0))} req/s`);
  });
});

describe('waypoint HTTP engine bad input', function () {
  this.timeout(30_000);
  let w: World;
  beforeEach(() => {
    w = new World();
  });
  afterEach(async () => {
    await w.close();
  });

  it('answers 431 to oversized headers and 408 to slow headers, then keeps serving', async () => {
    const port = await w.backend(echo('b1'));
    await w.start(fwd(), [service(BACK, 'http', [port])], {
      limits: { maxHeaderSize: 1024, headersTimeoutMs: 200, requestTimeoutMs: 400 },
    });
    const big = await raw(w.port, `GET / HTTP/1.1\r\nHost: web\r\nx-big: ${'a'.repeat(4000)}\r\n\r\n`);
    assert.match(big.text, /^HTTP\/1\.1 431 /);
    assert.ok(big.closed);
    const slow = await raw(w.port, 'GET / HTTP/1.1\r\nHost: web\r\n', 3000);
    assert.match(slow.text, /^HTTP\/1\.1 408 /);
    assert.ok(slow.closed);
    assert.equal((await json(w.client(), '/fine')).status, 200);
    assert.equal(w.engine.stats().badInput.byStatus[431], 1);
  });

  const smuggling: [string, string][] = [
    [
      'content-length with transfer-encoding',
      'POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'two different content-lengths',
      'POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
    ],
    [
      'transfer-encoding not ending in chunked',
      'POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n',
    ],
    ['malformed request line', 'GET /a b c HTTP/9\r\n\r\n'],
  ];
  it('cuts a streamed response whose trailer field holds a control character, then keeps serving', async () => {
    // A chunked response that streams (its end comes in a later read), ending with a trailer
    // field whose value holds a control character: a malformed body from the backend. (This
    // once threw in the relay's 'end' listener, which would have ended the waypoint process.)
    const upstream = net.createServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
        setTimeout(() => socket.write('0\r\nx-t: a\x01b\r\n\r\n'), 50);
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    w.closers.push(() => new Promise<void>((r) => upstream.close(() => r())));
    const bad = (upstream.address() as net.AddressInfo).port;
    const good = await w.backend(echo('b1'));
    await w.start((req) => fwd({}, req.path)(req), [service(BACK, 'http', [bad])]);
    const r = await raw(w.port, 'GET /t HTTP/1.1\r\nHost: web\r\n\r\n', 1000);
    // The head and the first chunk were relayed; the end never is: the client sees a cut body.
    assert.match(r.text, /^HTTP\/1\.1 200 [^]*\r\nhello\r\n$/);
    assert.ok(r.closed);
    assert.equal(w.done.at(-1)?.errorCode, 'WAYPOINT_UPSTREAM_RESET');
    w.config = { ...w.config, services: new Map([[BACK, service(BACK, 'http', [good])]]) };
    assert.equal((await json(w.client(), '/next')).status, 200);
  });

  for (const [name, request] of smuggling) {
    it(`answers 400 and closes the tunnel for ${name}; the next connection still works`, async () => {
      let backendCalls = 0;
      const port = await w.backend((req, res) => {
        backendCalls++;
        echo('b1')(req, res);
      });
      await w.start(fwd(), [service(BACK, 'http', [port])]);
      const r = await raw(w.port, request);
      assert.match(r.text, /^HTTP\/1\.1 400 /);
      assert.ok(r.closed);
      assert.equal(backendCalls, 0);
      assert.equal((await json(w.client(), '/next')).status, 200);
    });
  }

  /** A loopback TCP backend that answers each request's first bytes with `answer` (raw HTTP/1.1). */
  async function rawBackend(w: World, answer: (socket: net.Socket) => void): Promise<number> {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => answer(socket));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    w.closers.push(() => {
      // close() waits for the connections, and these backends leave theirs hanging on purpose.
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    });
    const sockets = new Set<net.Socket>();
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    return (server.address() as net.AddressInfo).port;
  }

  /** A loopback h2c backend whose streams `handle` answers. */
  async function h2Backend(w: World, handle: (stream: http2.ServerHttp2Stream) => void): Promise<number> {
    const server = http2.createServer();
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on('session', (session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
    server.on('stream', (stream) => {
      stream.on('error', () => undefined);
      handle(stream);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    w.closers.push(() => {
      for (const session of sessions) session.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    });
    return (server.address() as net.AddressInfo).port;
  }

  /** One GET from an h2c client to the engine: the head, the body as text and the trailers. */
  async function h2cGet(
    w: World,
    path: string,
  ): Promise<{ head: http2.IncomingHttpHeaders; text: string; trailers?: http2.IncomingHttpHeaders }> {
    const session = http2.connect(`http://127.0.0.1:${w.port}`);
    w.closers.push(() => session.destroy());
    const stream = session.request({ ':path': path, ':authority': 'web' });
    let trailers: http2.IncomingHttpHeaders | undefined;
    stream.once('trailers', (t: http2.IncomingHttpHeaders) => (trailers = t));
    const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    stream.setEncoding('utf8');
    let text = '';
    for await (const chunk of stream) text += String(chunk);
    return { head, text, ...(trailers === undefined ? {} : { trailers }) };
  }

  const STREAMING_HEAD = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nc\r\nfirst chunk\n\r\n';

  /** Resolves once `w` recorded `n` finished requests (or rejects after `ms`). */
  async function recorded(w: World, n: number, ms = 3000): Promise<RequestDone> {
    const end = Date.now() + ms;
    while (w.done.length < n) {
      if (Date.now() > end) throw new Error(`${w.done.length} of ${n} requests recorded after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return w.done[n - 1] as RequestDone;
  }

  // Bodies that break mid-way. Each of these once ended the process: an upstream body (or a
  // replay buffer) was destroyed with an error after its reader let go, or before it listened,
  // and an 'error' event without a listener is fatal in Node. Mocha fails a test on such an
  // uncaught exception.

  /** After the case: a plain request to a healthy backend still works. */
  async function stillServes(): Promise<void> {
    const good = await w.backend(echo('good'));
    w.config = { ...w.config, services: new Map([[BACK, service(BACK, 'http', [good])]]) };
    assert.equal((await json(w.client(), '/next')).status, 200);
  }

  for (const protocol of ['http', 'http2'] as const) {
    it(`survives a client that leaves while a streamed ${protocol} response is relayed`, async () => {
      const port =
        protocol === 'http'
          ? await rawBackend(w, (s) => s.write(STREAMING_HEAD))
          : await h2Backend(w, (stream) => {
              stream.respond({ ':status': 200 });
              stream.write('first chunk\n');
            });
      await w.start(fwd(), [service(BACK, protocol, [port])]);
      const client = net.connect(w.port, '127.0.0.1');
      client.on('error', () => undefined);
      client.write('GET /stream HTTP/1.1\r\nHost: web\r\n\r\n');
      await new Promise((r) => client.once('data', r));
      client.destroy();
      assert.equal((await recorded(w, 1)).errorCode, 'WAYPOINT_CLIENT_GONE');
      await stillServes();
    });
  }

  it('cuts a streamed response when the backend request timeout fires mid-body', async () => {
    const port = await rawBackend(w, (s) => s.write(STREAMING_HEAD));
    await w.start(fwd({ timeouts: { backendRequestMs: 200 } }), [service(BACK, 'http', [port])]);
    const r = await raw(w.port, 'GET /slow HTTP/1.1\r\nHost: web\r\n\r\n', 3000);
    assert.match(r.text, /^HTTP\/1\.1 200 [^]*first chunk\n\r\n$/);
    assert.ok(r.closed);
    assert.equal((await recorded(w, 1)).errorCode, 'WAYPOINT_TIMEOUT');
    await stillServes();
  });

  it('closes the connection, not leaves it hanging, when the body breaks in the read that brought the head', async () => {
    const port = await rawBackend(w, (s) =>
      s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nZZ\r\n'),
    );
    await w.start(fwd(), [service(BACK, 'http', [port])]);
    const r = await raw(w.port, 'GET /bad HTTP/1.1\r\nHost: web\r\n\r\n', 3000);
    assert.ok(r.closed, `still open after 3 s, got ${JSON.stringify(r.text)}`);
    assert.equal((await recorded(w, 1)).errorCode, 'WAYPOINT_UPSTREAM_RESET');
    await stillServes();
  });

  it('survives an HTTP/2 backend that resets its stream after answering, while the request body still uploads', async () => {
    const port = await h2Backend(w, (stream) => {
      stream.resume();
      stream.respond({ ':status': 200, 'content-length': '3' });
      stream.end('ok\n');
      setTimeout(() => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR), 200);
    });
    await w.start(fwd(), [service(BACK, 'http2', [port])]);
    const client = net.connect(w.port, '127.0.0.1');
    client.on('error', () => undefined);
    client.write(`POST /upload HTTP/1.1\r\nHost: web\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(100)}`);
    await recorded(w, 1);
    await new Promise((r) => setTimeout(r, 400));
    client.destroy();
    await stillServes();
  });

  it('survives a client that leaves mid-body on a route with retries (a body beyond the replay buffer)', async () => {
    const port = await h2Backend(w, (stream) => stream.resume());
    const retry = { attempts: 1, codes: [503], backoffMs: 0 };
    await w.start(fwd({ retry }), [service(BACK, 'http2', [port])]);
    const client = net.connect(w.port, '127.0.0.1');
    client.on('error', () => undefined);
    client.write(`POST /big HTTP/1.1\r\nHost: web\r\nContent-Length: 200000\r\n\r\n`);
    client.write(Buffer.alloc(70_000, 'a'));
    await new Promise((r) => setTimeout(r, 300));
    client.destroy();
    await recorded(w, 1);
    await stillServes();
  });

  it('answers 502 to an h2c client when the backend repeats a field HTTP/2 allows once', async () => {
    const port = await rawBackend(w, (s) =>
      s.write('HTTP/1.1 200 OK\r\ncontent-type: a/b\r\ncontent-type: c/d\r\ncontent-length: 2\r\n\r\nok'),
    );
    await w.start(fwd(), [service(BACK, 'http', [port])]);
    const r = await h2cGet(w, '/t');
    assert.equal(r.head[':status'], 502);
    assert.match(r.text, /content-type/);
    await stillServes();
  });

  it('joins a repeated trailer field for an h2c client (Node refuses a repeated etag when it sends them)', async () => {
    const port = await rawBackend(w, (s) =>
      s.write(
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\netag: "a"\r\netag: "b"\r\n\r\n',
      ),
    );
    await w.start(fwd(), [service(BACK, 'http', [port])]);
    assert.equal((await h2cGet(w, '/t')).trailers?.['etag'], '"a", "b"');
    await stillServes();
  });
});

describe('waypoint HTTP engine gRPC', function () {
  this.timeout(30_000);
  let w: World;
  let echoServer: EchoGrpcServer;
  const Echo = loadGrpcService('echo.proto', 'waymesh.echo.v1.Echo');
  beforeEach(async () => {
    w = new World();
    echoServer = await startGrpcEcho({
      host: '127.0.0.1',
      port: 0,
      identity: { pod: 'echo-0', namespace: 'default' },
      logger: silentLogger,
    });
    w.closers.push(() => echoServer.stop(0));
  });
  afterEach(async () => {
    await w.close();
  });

  function call(
    client: grpc.Client,
    req: object,
    metadata = new grpc.Metadata(),
  ): Promise<{ err: grpc.ServiceError | null; res: { pod?: string; authority?: string } | undefined }> {
    return new Promise((resolve) => {
      (
        client as unknown as {
          Echo: (
            r: object,
            m: grpc.Metadata,
            cb: (e: grpc.ServiceError | null, r?: { pod: string }) => void,
          ) => void;
        }
      ).Echo(req, metadata, (err, res) => resolve({ err, res }));
    });
  }

  it('routes a unary call through the engine to a grpc-js server, trailers included', async () => {
    await w.start(fwd(), [service(BACK, 'grpc', [echoServer.port])]);
    w.ctx = { ...w.ctx, protocol: 'grpc' };
    const client = new Echo(`127.0.0.1:${w.port}`, grpc.credentials.createInsecure());
    w.closers.push(() => client.close());
    const ok = await call(client, { message: 'hi' });
    assert.equal(ok.err, null);
    assert.equal(ok.res?.pod, 'echo-0');
    const md = new grpc.Metadata();
    md.set('x-echo-status', 'NOT_FOUND');
    const failed = await call(client, { message: 'hi' }, md);
    assert.equal(failed.err?.code, grpc.status.NOT_FOUND);
    assert.equal(w.done[1]?.grpcStatus, grpc.status.NOT_FOUND);
  });

  it('maps engine errors to gRPC statuses', async () => {
    const dead = await freePort();
    const decisions: Record<string, Decide> = {
      none: () => ({ kind: 'no-match' }),
      invalid: () => ({
        kind: 'invalid-backend',
        entry: entry(),
        backend: { kind: 'invalid', weight: 1, reason: 'gone' },
      }),
      noep: fwd({ backend: { kind: 'service', service: 'default/empty', port: 80, weight: 1, filters: [] } }),
      refused: fwd({
        backend: { kind: 'service', service: 'default/dead', port: 80, weight: 1, filters: [] },
      }),
      slow: fwd({ timeouts: { requestMs: 100 } }),
    };
    await w.start(
      (req) => (decisions[req.header('x-case') ?? ''] ?? fwd())(req),
      [
        service(BACK, 'grpc', [echoServer.port]),
        service('default/empty', 'grpc', []),
        service('default/dead', 'grpc', [dead]),
      ],
      { hooks: { authorize: (i) => ({ allowed: i.header('x-case') !== 'deny', policy: 'p', reason: 'r' }) } },
    );
    const client = new Echo(`127.0.0.1:${w.port}`, grpc.credentials.createInsecure());
    w.closers.push(() => client.close());
    const expect: [string, grpc.status][] = [
      ['none', grpc.status.UNIMPLEMENTED],
      ['invalid', grpc.status.UNAVAILABLE],
      ['noep', grpc.status.UNAVAILABLE],
      ['refused', grpc.status.UNAVAILABLE],
      ['slow', grpc.status.DEADLINE_EXCEEDED],
      ['deny', grpc.status.PERMISSION_DENIED],
    ];
    for (const [name, code] of expect) {
      const md = new grpc.Metadata();
      md.set('x-case', name);
      const r = await call(client, { message: 'x', delayMs: name === 'slow' ? 2000 : 0 }, md);
      assert.equal(r.err?.code, code, `${name}: ${r.err?.details}`);
    }
  });

  it('retries a call that failed with UNAVAILABLE when 503 is retryable', async () => {
    await w.start(fwd({ retry: { attempts: 2, codes: [503], backoffMs: 5 } }), [
      service(BACK, 'grpc', [echoServer.port]),
    ]);
    w.ctx = { ...w.ctx, protocol: 'grpc' };
    const client = new Echo(`127.0.0.1:${w.port}`, grpc.credentials.createInsecure());
    w.closers.push(() => client.close());
    const md = new grpc.Metadata();
    md.set('x-echo-status', 'UNAVAILABLE');
    const r = await call(client, { message: 'x' }, md);
    assert.equal(r.err?.code, grpc.status.UNAVAILABLE);
    assert.equal(w.done[0]?.attempts, 3);
  });
});
