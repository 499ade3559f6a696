// HBONE client and server against each other on 127.0.0.1 with real mesh certificates: tunnels,
// half-close, pooling under load, peer rejection both ways, refusals, junk on the port, certificate
// rotation, draining, idle release and bulk integrity. Network: loopback, port 0 only.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { after, afterEach, before, describe, it } from 'mocha';
import { isMeshError } from '../../common/errors.ts';
import { formatSpiffeId } from '../../common/spiffe.ts';
import {
  createHboneServer,
  formatForwarded,
  HboneClient,
  HboneRefusedError,
  pipeTunnel,
  tunnelFailover,
  type HboneClientTls,
  type HboneServer,
  type HboneServerOptions,
  type HboneTunnel,
  type PipeStats,
} from '../../common/hbone/index.ts';
import {
  inMemoryRootCa,
  issueLocalIdentity,
  verifyTlsPeer,
  type CertificateAuthority,
  type LocalIdentity,
} from '../../certs/index.ts';

const TD = 'cluster.local';
const LOOP = '127.0.0.1';
const SERVER_ID = `spiffe://${TD}/ns/dest/sa/server`;
const CLIENT_ID = `spiffe://${TD}/ns/src/sa/client`;

const ca: CertificateAuthority = inMemoryRootCa(TD);
const foreignCa: CertificateAuthority = inMemoryRootCa(TD);
const serverIdentity = issueLocalIdentity(ca, SERVER_ID);
const clientIdentity = issueLocalIdentity(ca, CLIENT_ID);

function material(id: LocalIdentity): { key: string; cert: string; ca: string } {
  return { key: id.keyPem, cert: id.certChainPem.join(''), ca: id.bundle.toPem() };
}

function clientTls(id: LocalIdentity): HboneClientTls {
  return { ...material(id), identityKey: `${id.issued.identity}#${id.issued.cert.serialHex}` };
}

const verifyServer = (socket: tls.TLSSocket): string =>
  formatSpiffeId(verifyTlsPeer(socket, clientIdentity.bundle, 'server'));

/** What a node agent does with a tunnel: connect to the target, answer, pipe. */
const pipes: PipeStats[] = [];
function forward(tunnel: HboneTunnel): void {
  const upstream = net.connect({
    host: tunnel.authority.host,
    port: tunnel.authority.port,
    allowHalfOpen: true,
  });
  upstream.once('error', (err) => {
    if (!tunnel.settled) tunnel.refuse(503, `target unreachable: ${err.message}`);
  });
  upstream.once('connect', () => {
    if (tunnel.settled) {
      upstream.destroy();
      return;
    }
    pipeTunnel(tunnel.accept({ 'x-peer': tunnel.peerId }), upstream, (stats) => pipes.push(stats));
  });
}

/** Writes `payload`, half-closes, and collects everything until the far side ends. */
async function roundTrip(stream: Duplex, payload: Buffer | string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const ended = once(stream, 'end');
  stream.end(payload);
  await ended;
  return Buffer.concat(chunks);
}

async function listenTcp(handler: (s: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, handler);
  server.listen(0, LOOP);
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Resolves once `check()` holds, polling; rejects after `ms`. */
async function eventually(check: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}

function closedOf(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('common/hbone client and server (loopback, real certificates)', function () {
  this.timeout(60_000);
  let hbone: HboneServer;
  let hbonePort = 0;
  let echoPort = 0;
  let replyPort = 0;
  let closedPort = 0;
  let onTunnel: (t: HboneTunnel) => void = forward;
  const seen: HboneTunnel[] = [];
  const tcpServers: net.Server[] = [];
  const clients: HboneClient[] = [];
  const extraServers: HboneServer[] = [];

  /**
   * A server besides the suite's, listening on port 0 and closed after the suite: the server
   * identity, accepting CLIENT_ID, forwarding tunnels, unless `opts` says otherwise.
   */
  async function extraServer(
    opts: Partial<HboneServerOptions> = {},
  ): Promise<{ server: HboneServer; port: number }> {
    const server = createHboneServer({
      tls: material(serverIdentity),
      verifyPeer: () => CLIENT_ID,
      onTunnel: forward,
      ...opts,
    });
    extraServers.push(server);
    return { server, port: await server.listen({ host: LOOP, port: 0 }) };
  }

  function newClient(opts: ConstructorParameters<typeof HboneClient>[0] = {}): HboneClient {
    const c = new HboneClient(opts);
    clients.push(c);
    return c;
  }

  function openEcho(client: HboneClient, port = hbonePort, id = clientIdentity) {
    return client.open({
      via: { host: LOOP, port },
      authority: `${LOOP}:${echoPort}`,
      tls: clientTls(id),
      verifyServer,
    });
  }

  before(async () => {
    const echo = await listenTcp((s) => s.pipe(s));
    // Replies only after the client's half-close: proves the reverse direction stays open.
    const reply = await listenTcp((s) => {
      let n = 0;
      s.on('data', (c: Buffer) => (n += c.length));
      s.on('end', () => s.end(`received ${n}`));
    });
    const closed = await listenTcp(() => undefined);
    closedPort = closed.port;
    await new Promise<void>((resolve) => closed.server.close(() => resolve()));
    tcpServers.push(echo.server, reply.server);
    echoPort = echo.port;
    replyPort = reply.port;
    hbone = createHboneServer({
      tls: material(serverIdentity),
      verifyPeer: (s) => formatSpiffeId(verifyTlsPeer(s, serverIdentity.bundle, 'client')),
      onTunnel: (t) => {
        seen.push(t);
        onTunnel(t);
      },
    });
    hbonePort = await hbone.listen({ host: LOOP, port: 0 });
  });

  afterEach(async () => {
    onTunnel = forward;
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  after(async () => {
    await Promise.all(extraServers.map((s) => s.close({ deadlineMs: 0 })));
    await hbone.close({ deadlineMs: 0 });
    for (const s of tcpServers) s.close();
  });

  it('echoes through a tunnel both ways, with identities and headers on each side', async () => {
    const client = newClient();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const t = await client.open({
      via: { host: LOOP, port: hbonePort },
      authority: `${LOOP}:${echoPort}`,
      tls: clientTls(clientIdentity),
      verifyServer,
      headers: { forwarded: formatForwarded('10.0.0.9', 41000), traceparent, baggage: 'k=v' },
    });
    assert.equal(t.status, 200);
    assert.equal(t.peerId, SERVER_ID);
    const got = await roundTrip(t.stream, 'hello mesh');
    assert.equal(got.toString(), 'hello mesh');
    const last = seen.at(-1);
    assert.ok(last !== undefined);
    assert.equal(last.peerId, CLIENT_ID);
    assert.deepEqual(last.authority, { host: LOOP, port: echoPort });
    assert.equal(last.headers['forwarded'], 'for="10.0.0.9:41000"');
    assert.equal(last.headers['traceparent'], traceparent);
    assert.equal(last.headers['baggage'], 'k=v');
    assert.equal(last.remoteAddress, LOOP);
  });

  it('propagates half-close: the client ends and still receives the answer', async () => {
    const client = newClient();
    const t = await client.open({
      via: { host: LOOP, port: hbonePort },
      authority: `${LOOP}:${replyPort}`,
      tls: clientTls(clientIdentity),
      verifyServer,
    });
    const got = await roundTrip(t.stream, Buffer.alloc(12_345, 1));
    assert.equal(got.toString(), 'received 12345');
  });

  it('runs 1,000 sequential and 200 concurrent tunnels over a bounded pool', async () => {
    const maxStreams = 50;
    const client = newClient({ maxStreamsPerSession: maxStreams });
    for (let i = 0; i < 1000; i++) {
      const t = await openEcho(client);
      assert.equal((await roundTrip(t.stream, `seq-${i}`)).toString(), `seq-${i}`);
    }
    assert.equal(client.stats().sessions, 1, 'sequential tunnels reuse one session');
    const open = await Promise.all(Array.from({ length: 200 }, () => openEcho(client)));
    const stats = client.stats();
    assert.equal(stats.activeStreams, 200);
    assert.ok(stats.sessions <= Math.ceil(200 / maxStreams) + 1, `sessions: ${stats.sessions}`);
    assert.ok(stats.sessions >= Math.ceil(200 / maxStreams), `sessions: ${stats.sessions}`);
    const answers = await Promise.all(open.map((t, i) => roundTrip(t.stream, `par-${i}`)));
    answers.forEach((a, i) => assert.equal(a.toString(), `par-${i}`));
    await sleep(50);
    assert.equal(client.stats().activeStreams, 0);
  });

  it('rejects a client whose certificate comes from a foreign CA, and counts it', async () => {
    const before = hbone.stats().rejected.tls;
    const client = newClient();
    const foreign = issueLocalIdentity(foreignCa, CLIENT_ID);
    await assert.rejects(openEcho(client, hbonePort, foreign), (err: unknown) =>
      isMeshError(err, 'HBONE_PEER_REJECTED'),
    );
    // The server reports the failed handshake just after sending its alert.
    await eventually(() => hbone.stats().rejected.tls === before + 1);
  });

  it('rejects a client the verification callback refuses, before any stream runs', async () => {
    const { server: strict, port } = await extraServer({
      verifyPeer: () => {
        throw new Error('namespace src may not call this workload');
      },
      onTunnel: () => assert.fail('no tunnel may reach the handler'),
    });
    const err = await openEcho(newClient(), port).then(
      () => assert.fail('open succeeded'),
      (e: unknown) => e,
    );
    assert.ok(isMeshError(err, 'HBONE_PEER_REJECTED'), String(err));
    assert.equal(strict.stats().rejected.verify, 1);
    assert.equal(strict.stats().streamsTotal, 0);
  });

  it('rejects a server whose certificate comes from a foreign CA', async () => {
    const { port } = await extraServer({ tls: material(issueLocalIdentity(foreignCa, SERVER_ID)) });
    await assert.rejects(openEcho(newClient(), port), (err: unknown) =>
      isMeshError(err, 'HBONE_PEER_REJECTED'),
    );
  });

  it('rejects a server the client verification callback refuses', async () => {
    const client = newClient();
    await assert.rejects(
      client.open({
        via: { host: LOOP, port: hbonePort },
        authority: `${LOOP}:${echoPort}`,
        tls: clientTls(clientIdentity),
        verifyServer: () => {
          throw new Error('expected the waypoint identity');
        },
      }),
      (err: unknown) => isMeshError(err, 'HBONE_PEER_REJECTED') && /expected the waypoint/.test(err.message),
    );
  });

  it('delivers refusals to the client as HBONE_REFUSED with status and reason', async () => {
    const byPort: Record<number, [number, string]> = {
      4011: [401, 'no identity'],
      4031: [403, 'denied by policy ns/deny-all'],
      5031: [503, 'no ready endpoint'],
      5041: [504, 'target connect timeout'],
    };
    onTunnel = (t) => {
      const answer = byPort[t.authority.port];
      if (answer === undefined) forward(t);
      else t.refuse(answer[0], answer[1]);
    };
    const client = newClient();
    for (const [port, [status, reason]] of Object.entries(byPort)) {
      await assert.rejects(
        client.open({
          via: { host: LOOP, port: hbonePort },
          authority: `${LOOP}:${port}`,
          tls: clientTls(clientIdentity),
          verifyServer,
        }),
        (err: unknown) =>
          isMeshError(err, 'HBONE_REFUSED') &&
          err instanceof HboneRefusedError &&
          err.status === status &&
          err.reason === reason,
      );
    }
    // A real unreachable target: the forwarder answers 503 with the socket error.
    await assert.rejects(
      client.open({
        via: { host: LOOP, port: hbonePort },
        authority: `${LOOP}:${closedPort}`,
        tls: clientTls(clientIdentity),
        verifyServer,
      }),
      (err: unknown) => isMeshError(err, 'HBONE_REFUSED') && /ECONNREFUSED/.test(err.message),
    );
    // Refusals do not poison the session: the next tunnel on it works.
    const t = await openEcho(client);
    assert.equal((await roundTrip(t.stream, 'still fine')).toString(), 'still fine');
    assert.equal(client.stats().sessions, 1);
  });

  it('classifies real open failures for failover: unreachable peers are ejected, refusals final', async () => {
    onTunnel = (t) => (t.authority.port === 4031 ? t.refuse(403, 'denied') : forward(t));
    const client = newClient({ connectTimeoutMs: 300 });
    const failure = async (port: number, authority = `${LOOP}:${echoPort}`): Promise<unknown> => {
      const err = await client
        .open({ via: { host: LOOP, port }, authority, tls: clientTls(clientIdentity), verifyServer })
        .then(
          (t) => {
            t.stream.destroy();
            return undefined;
          },
          (e: unknown) => e,
        );
      assert.ok(err !== undefined, `opening via ${port} to ${authority} failed`);
      return err;
    };
    // Nothing listens on the peer's port: the kernel refuses the TCP connect.
    assert.deepEqual(tunnelFailover(await failure(closedPort)), {
      code: 'HBONE_CONNECT_FAILED',
      eject: true,
    });
    // The peer's agent cannot reach its pod: another endpoint may, this one stays in rotation.
    assert.deepEqual(tunnelFailover(await failure(hbonePort, `${LOOP}:${closedPort}`)), {
      code: 'HBONE_REFUSED_503',
      eject: false,
    });
    // Policy and identity refusals would be the same elsewhere.
    assert.equal(tunnelFailover(await failure(hbonePort, `${LOOP}:4031`)), undefined);
    const { port: foreign } = await extraServer({ tls: material(issueLocalIdentity(foreignCa, SERVER_ID)) });
    assert.equal(tunnelFailover(await failure(foreign)), undefined);
    // A peer that accepts TCP but never answers TLS.
    const silent = await listenTcp(() => undefined);
    tcpServers.push(silent.server);
    assert.deepEqual(tunnelFailover(await failure(silent.port)), {
      code: 'HBONE_CONNECT_TIMEOUT',
      eject: true,
    });
    assert.equal(tunnelFailover(new Error('anything else')), undefined);
  });

  it('answers 400 to a bad authority and 405 to a non-CONNECT request', async () => {
    await assert.rejects(
      newClient().open({
        via: { host: LOOP, port: hbonePort },
        authority: 'example.com:80',
        tls: clientTls(clientIdentity),
        verifyServer,
      }),
      (err: unknown) =>
        isMeshError(err, 'HBONE_REFUSED') && err instanceof HboneRefusedError && err.status === 400,
    );
    const session = http2.connect(`https://${LOOP}:${hbonePort}`, {
      ...material(clientIdentity),
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined,
    });
    try {
      const req = session.request({ ':method': 'GET', ':path': '/' });
      const [headers] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
      assert.equal(headers[':status'], 405);
      assert.equal(headers['allow'], 'CONNECT');
      assert.match(String(headers['waymesh-error']), /only CONNECT/);
      req.resume();
      await once(req, 'end');
    } finally {
      session.destroy();
    }
  });

  it('closes only the offending connection when junk arrives on the port', async () => {
    const client = newClient();
    const live = await openEcho(client);
    live.stream.write('before ');
    const before = hbone.stats();
    // Plain HTTP, random bytes, and a TLS record header announcing more than follows (the server
    // answers that one with an alert: unread, it would hold the client's 'end' and 'close' back,
    // which is how ~1 in 200 random junks hung this test).
    const overlong = Buffer.concat([Buffer.from('160303ffff', 'hex'), randomBytes(4091)]);
    for (const junk of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), randomBytes(4096), overlong]) {
      const raw = net.connect({ host: LOOP, port: hbonePort });
      raw.on('error', () => undefined);
      raw.resume();
      raw.end(junk);
      await closedOf(raw);
    }
    // A TLS client offering only http/1.1 fails ALPN; one offering nothing is dropped at once.
    for (const ALPNProtocols of [['http/1.1'], undefined]) {
      const h1 = tls.connect({
        host: LOOP,
        port: hbonePort,
        ...material(clientIdentity),
        ...(ALPNProtocols === undefined ? {} : { ALPNProtocols }),
        checkServerIdentity: () => undefined,
      });
      h1.on('error', () => undefined);
      await closedOf(h1);
    }
    await eventually(() => {
      const now = hbone.stats();
      return now.rejected.tls >= before.rejected.tls + 4 && now.rejected.alpn === before.rejected.alpn + 1;
    });
    const fresh = await openEcho(newClient());
    assert.equal((await roundTrip(fresh.stream, 'new')).toString(), 'new');
    assert.equal((await roundTrip(live.stream, 'after')).toString(), 'before after');
  });

  it('swaps the serving certificate without dropping open tunnels', async () => {
    const { server: rotatedServer, port } = await extraServer({
      verifyPeer: (s) => formatSpiffeId(verifyTlsPeer(s, serverIdentity.bundle, 'client')),
    });
    const serials: string[] = [];
    const recordingVerify = (s: tls.TLSSocket): string => {
      serials.push(s.getPeerCertificate().serialNumber.toLowerCase().replace(/^0+/, ''));
      return verifyServer(s);
    };
    const open = (c: HboneClient) =>
      c.open({
        via: { host: LOOP, port },
        authority: `${LOOP}:${echoPort}`,
        tls: clientTls(clientIdentity),
        verifyServer: recordingVerify,
      });
    const old = await open(newClient());
    old.stream.write('one ');
    const next = issueLocalIdentity(ca, SERVER_ID);
    rotatedServer.setTls(material(next));
    const fresh = await open(newClient());
    assert.equal((await roundTrip(fresh.stream, 'new')).toString(), 'new');
    assert.equal((await roundTrip(old.stream, 'two')).toString(), 'one two');
    const hex = (id: LocalIdentity) => id.issued.cert.serialHex.toLowerCase().replace(/^0+/, '');
    assert.deepEqual(serials, [hex(serverIdentity), hex(next)]);
    assert.notEqual(hex(serverIdentity), hex(next));
  });

  it('drains on close: open tunnels finish until the deadline, then are reset', async () => {
    const { server: draining, port } = await extraServer();
    const client = newClient();
    const finishing = await openEcho(client, port);
    const lingering = await openEcho(client, port);
    lingering.stream.on('error', () => undefined);
    const lingeringClosed = once(lingering.stream, 'close');
    const started = Date.now();
    const closed = draining.close({ deadlineMs: 400 });
    await sleep(50);
    // Still served during the grace period...
    assert.equal((await roundTrip(finishing.stream, 'in grace')).toString(), 'in grace');
    // ...but no new connections.
    await assert.rejects(openEcho(newClient(), port), (err: unknown) =>
      isMeshError(err, 'HBONE_CONNECT_FAILED'),
    );
    await closed;
    await lingeringClosed;
    assert.ok(Date.now() - started >= 350, 'the lingering tunnel lasted until the deadline');
    assert.equal(draining.stats().sessions, 0);
  });

  it('does not wait on close for a client stuck in its TLS handshake', async () => {
    const { server, port } = await extraServer();
    // A TCP client that never sends a ClientHello: the handshake timeout is 10 s.
    const stuck = net.connect({ host: LOOP, port });
    stuck.on('error', () => undefined);
    await once(stuck, 'connect');
    await sleep(50);
    const started = Date.now();
    await server.close({ deadlineMs: 200 });
    const took = Date.now() - started;
    assert.ok(took < 2_000, `close took ${took} ms with a stalled handshake (deadline 200 ms)`);
    await once(stuck, 'close');
  });

  it('releases an idle session after idleTimeoutMs, and a new identity gets its own session', async () => {
    const client = newClient({ idleTimeoutMs: 150 });
    const t = await openEcho(client);
    await roundTrip(t.stream, 'x');
    const rotated = issueLocalIdentity(ca, CLIENT_ID);
    const t2 = await openEcho(client, hbonePort, rotated);
    assert.equal(client.stats().sessions, 2, 'a new identity never reuses the old session');
    await roundTrip(t2.stream, 'y');
    await sleep(400);
    assert.deepEqual(client.stats(), { sessions: 0, activeStreams: 0, byKey: [] });
  });

  it('keeps a quiet session whose peer answers pings', async () => {
    const { server: pinging, port } = await extraServer({ sessionIdleTimeoutMs: 80 });
    const t = await openEcho(newClient(), port);
    t.stream.write('quiet ');
    await sleep(600);
    assert.equal((await roundTrip(t.stream, 'but alive')).toString(), 'quiet but alive');
    assert.equal(pinging.stats().sessionsTotal, 1);
  });

  it('carries 10 MiB intact (sha256)', async () => {
    const client = newClient();
    const t = await openEcho(client);
    const payload = randomBytes(10 * 1024 * 1024);
    const back = await roundTrip(t.stream, payload);
    assert.equal(back.length, payload.length);
    assert.equal(
      createHash('sha256').update(back).digest('hex'),
      createHash('sha256').update(payload).digest('hex'),
    );
  });

  it('bench sanity: 100 MiB through one tunnel (prints MB/s)', async () => {
    const sink = await listenTcp((s) => {
      let n = 0;
      s.on('data', (c: Buffer) => (n += c.length));
      s.on('end', () => s.end(String(n)));
    });
    tcpServers.push(sink.server);
    const client = newClient();
    const t = await client.open({
      via: { host: LOOP, port: hbonePort },
      authority: `${LOOP}:${sink.port}`,
      tls: clientTls(clientIdentity),
      verifyServer,
    });
    const chunk = randomBytes(256 * 1024);
    const total = 100 * 1024 * 1024;
    const started = process.hrtime.bigint();
    const chunks: Buffer[] = [];
    t.stream.on('data', (c: Buffer) => chunks.push(c));
    const ended = once(t.stream, 'end');
    for (let sent = 0; sent < total; sent += chunk.length) {
      if (!t.stream.write(chunk)) await once(t.stream, 'drain');
    }
    t.stream.end();
    await ended;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    assert.equal(Buffer.concat(chunks).toString(), String(total));
    console.log(
      `      hbone single tunnel: ${(total / 1e6 / seconds).toFixed(0)} MB/s (${seconds.toFixed(2)} s)`,
    );
  });
});
