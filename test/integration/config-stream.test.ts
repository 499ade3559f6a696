import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { ConfigClient } from '../../common/config-client/client.ts';
import { STREAM_PATH, type ProxyId } from '../../common/config-client/defs.ts';
import type { ProxySnapshot, Workload } from '../../common/ir/index.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { buildSnapshots, type SnapshotSet } from '../../controller/snapshots/index.ts';
import { startConfigServer, type ConfigServer } from '../../controller/xds/server.ts';
import { blackHoleFirst } from '../helpers/black-hole.ts';

const TOKENS: ReadonlyMap<string, ProxyId> = new Map<string, ProxyId>([
  ['tok-a', { kind: 'node', name: 'node-a' }],
  ['tok-b', { kind: 'node', name: 'node-b' }],
  ['tok-wp', { kind: 'waypoint', name: 'shop/wp' }],
]);

function authenticate(metadata: grpc.Metadata): Promise<ProxyId | undefined> {
  const m = /^Bearer (\S+)$/.exec(String(metadata.get('authorization')[0] ?? ''));
  return Promise.resolve(m?.[1] === undefined ? undefined : TOKENS.get(m[1]));
}

function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return {
    logger: createLogger({
      level: 'debug',
      sink: { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) },
    }),
    lines,
  };
}

function workload(name: string, node: string): Workload {
  return {
    uid: `uid-${name}`,
    name,
    namespace: 'shop',
    node,
    ips: [`10.0.0.${name.length}`],
    serviceAccount: 'default',
    identity: 'spiffe://cluster.local/ns/shop/sa/default',
    captured: true,
    labels: {},
    namedPorts: {},
  };
}

/** Snapshots for node-a, node-b and waypoint shop/wp; `generation` changes node-a's content only. */
function snapshots(generation: number): SnapshotSet {
  return buildSnapshots({
    trustDomain: 'cluster.local',
    workloads: [workload(`web-${generation}`, 'node-a'), workload('api', 'node-b')],
    services: [],
    tables: [],
    authorization: [],
    rateLimits: [],
    nodes: ['node-a', 'node-b'],
    waypoints: [{ namespace: 'shop', name: 'wp' }],
  });
}

function versionOf(set: SnapshotSet, node: string): string {
  const v = set.nodes.get(node)?.version;
  assert.ok(v !== undefined);
  return v;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A client that records what it applied; `reject` makes onSnapshot throw for those versions. */
function recordingClient(
  port: number,
  proxy: ProxyId,
  token: string,
  reject: Set<string> = new Set(),
): { client: ConfigClient; applied: ProxySnapshot[] } {
  const applied: ProxySnapshot[] = [];
  const client = new ConfigClient({
    address: `127.0.0.1:${port}`,
    credentials: grpc.credentials.createInsecure(),
    proxy,
    token,
    initialBackoffMs: 20,
    maxBackoffMs: 200,
    random: () => 0.5,
    onSnapshot: (s) => {
      if (reject.has(s.version)) throw new Error(`cannot apply ${s.version.slice(0, 8)}: port in use`);
      applied.push(s);
    },
  });
  client.start();
  return { client, applied };
}

/** Opens a raw stream, sends `messages` as they are, resolves with the final status. */
function rawStream(port: number, token: string, messages: Buffer[]): Promise<grpc.StatusObject> {
  const raw = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  const call = raw.makeBidiStreamRequest(
    STREAM_PATH,
    (b: Buffer) => b,
    (b: Buffer) => b,
    md,
  );
  return new Promise((resolve) => {
    call.on('data', () => undefined);
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => {
      raw.close();
      resolve(s);
    });
    for (const m of messages) call.write(m);
  });
}

describe('config stream (controller/xds ↔ common/config-client)', function () {
  this.timeout(20_000);
  let server: ConfigServer;
  let log: ReturnType<typeof memoryLogger>;
  const clients: ConfigClient[] = [];

  const start = async (address = '127.0.0.1:0'): Promise<ConfigServer> =>
    startConfigServer({
      address,
      credentials: grpc.ServerCredentials.createInsecure(),
      authenticate,
      logger: log.logger,
    });
  const track = <T extends { client: ConfigClient }>(c: T): T => {
    clients.push(c.client);
    return c;
  };

  beforeEach(async () => {
    log = memoryLogger();
    server = await start();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.stop({ deadlineMs: 1_000 });
    await server.stop({ deadlineMs: 1_000 });
  });

  it('delivers the current snapshot after the hello and records the ACK', async () => {
    const set = snapshots(1);
    server.publish(set);
    const { client, applied } = track(
      recordingClient(server.port, { kind: 'node', name: 'node-a' }, 'tok-a'),
    );
    await waitFor('snapshot', () => applied.length === 1);
    assert.equal(applied[0]?.kind, 'node');
    assert.equal(applied[0]?.version, versionOf(set, 'node-a'));
    assert.equal(applied[0]?.kind === 'node' ? applied[0].node : '', 'node-a');
    await waitFor('ack', () => server.status()[0]?.lastAcked === versionOf(set, 'node-a'));
    assert.deepEqual(server.status(), [
      {
        kind: 'node',
        name: 'node-a',
        streams: 1,
        current: versionOf(set, 'node-a'),
        lastSent: versionOf(set, 'node-a'),
        lastAcked: versionOf(set, 'node-a'),
        ackCount: 1,
        nackCount: 0,
      },
    ]);
    assert.equal(client.state().version, versionOf(set, 'node-a'));
    assert.equal(client.state().connected, true);
  });

  it('pushes only versions that changed, to the proxies they belong to', async () => {
    server.publish(snapshots(1));
    const a = track(recordingClient(server.port, { kind: 'node', name: 'node-a' }, 'tok-a'));
    const b = track(recordingClient(server.port, { kind: 'node', name: 'node-b' }, 'tok-b'));
    await waitFor('first snapshots', () => a.applied.length === 1 && b.applied.length === 1);
    server.publish(snapshots(1)); // same content: nothing to send
    const v2 = snapshots(2);
    server.publish(v2); // node-a changed, node-b did not
    await waitFor('update', () => a.applied.length === 2);
    assert.equal(a.applied[1]?.version, versionOf(v2, 'node-a'));
    await waitFor('ack of update', () => server.status()[0]?.lastAcked === versionOf(v2, 'node-a'));
    assert.equal(b.applied.length, 1);
    assert.equal(server.status().find((s) => s.name === 'node-b')?.ackCount, 1);
  });

  it('serves every replica of a waypoint', async () => {
    const set = snapshots(1);
    server.publish(set);
    const r1 = track(recordingClient(server.port, { kind: 'waypoint', name: 'shop/wp' }, 'tok-wp'));
    const r2 = track(recordingClient(server.port, { kind: 'waypoint', name: 'shop/wp' }, 'tok-wp'));
    await waitFor('both replicas', () => r1.applied.length === 1 && r2.applied.length === 1);
    assert.equal(r1.applied[0]?.kind, 'waypoint');
    await waitFor('two acks', () => server.status()[0]?.ackCount === 2);
    assert.equal(server.status()[0]?.streams, 2);
  });

  it('records a NACK, logs it at warn, and the proxy keeps its last good snapshot', async () => {
    const good = snapshots(1);
    const bad = snapshots(2);
    server.publish(good);
    const { client, applied } = track(
      recordingClient(
        server.port,
        { kind: 'node', name: 'node-a' },
        'tok-a',
        new Set([versionOf(bad, 'node-a')]),
      ),
    );
    await waitFor('good snapshot', () => applied.length === 1);
    server.publish(bad);
    await waitFor('nack', () => server.status()[0]?.nackCount === 1);
    const st = server.status()[0];
    assert.deepEqual(st?.lastNack, {
      version: versionOf(bad, 'node-a'),
      error: `cannot apply ${versionOf(bad, 'node-a').slice(0, 8)}: port in use`,
    });
    assert.equal(st?.lastAcked, versionOf(good, 'node-a'));
    assert.equal(client.state().version, versionOf(good, 'node-a'));
    assert.equal(client.state().rejected, 1);
    assert.equal(applied.length, 1);
    const warn = log.lines.find((l) => l['level'] === 'warn' && String(l['msg']).includes('NACK'));
    assert.equal(warn?.['version'], versionOf(bad, 'node-a'));
    assert.equal(warn?.['proxy'], 'node/node-a');
  });

  it('sends the trust anchors with the snapshots, the same snapshot again when only they change, and the proxy takes each value once', async () => {
    await server.stop({ deadlineMs: 1_000 });
    let anchors = 'ROOTS-1';
    server = await startConfigServer({
      address: '127.0.0.1:0',
      credentials: grpc.ServerCredentials.createInsecure(),
      authenticate,
      logger: log.logger,
      trustAnchors: () => anchors,
    });
    server.publish(snapshots(1));
    const clientLog = memoryLogger();
    const took: string[] = [];
    const applied: ProxySnapshot[] = [];
    const client = new ConfigClient({
      address: `127.0.0.1:${server.port}`,
      credentials: grpc.credentials.createInsecure(),
      proxy: { kind: 'node', name: 'node-a' },
      token: 'tok-a',
      logger: clientLog.logger,
      onSnapshot: (snap) => {
        applied.push(snap);
      },
      onTrustAnchors: (pem) => {
        took.push(pem);
        if (pem === 'BAD') throw new Error('no certificate in the trust anchors');
      },
    });
    clients.push(client);
    client.start();
    const acks = (): number => server.status()[0]?.ackCount ?? 0;
    await waitFor('first snapshot', () => applied.length === 1 && acks() === 1);
    assert.deepEqual(took, ['ROOTS-1']);
    // A new snapshot with the same anchors: applied; the anchors are not handed over again.
    const v2 = snapshots(2);
    server.publish(v2);
    await waitFor('second snapshot', () => applied.length === 2 && acks() === 2);
    assert.deepEqual(took, ['ROOTS-1']);
    // Nothing changed: nothing is sent.
    server.anchorsChanged();
    // Only the anchors change: the same version again, ACKed, not applied again.
    anchors = 'ROOTS-2';
    server.anchorsChanged();
    await waitFor('new anchors', () => took.length === 2 && acks() === 3);
    assert.deepEqual(took, ['ROOTS-1', 'ROOTS-2']);
    assert.equal(applied.length, 2);
    assert.equal(server.status()[0]?.lastAcked, versionOf(v2, 'node-a'));
    // Anchors the proxy refuses: logged, the snapshot is still ACKed (no NACK), and the same
    // value sent again is not tried again.
    anchors = 'BAD';
    server.anchorsChanged();
    await waitFor('refused anchors', () => took.length === 3 && acks() === 4);
    assert.equal(server.status()[0]?.nackCount, 0);
    const warn = clientLog.lines.find(
      (l) => l['level'] === 'warn' && String(l['msg']).includes('refused the trust anchors'),
    );
    assert.equal(warn?.['error'], 'no certificate in the trust anchors');
    server.publish(snapshots(3));
    await waitFor('third snapshot', () => applied.length === 3 && acks() === 5);
    assert.equal(took.length, 3);
  });

  /** A node-a client that applied its first snapshot, then the server stopped. */
  const firstSnapshotThenStop = async (): Promise<{
    client: ConfigClient;
    applied: ProxySnapshot[];
    port: number;
  }> => {
    server.publish(snapshots(1));
    const c = track(recordingClient(server.port, { kind: 'node', name: 'node-a' }, 'tok-a'));
    await waitFor('first snapshot', () => c.applied.length === 1);
    const port = server.port;
    await server.stop({ deadlineMs: 1_000 });
    return { ...c, port };
  };

  it('reconnects after a controller restart and gets the current version', async () => {
    const { client, applied, port } = await firstSnapshotThenStop();
    await waitFor('client notices', () => !client.state().connected);
    server = await start(`127.0.0.1:${port}`);
    const v3 = snapshots(3);
    server.publish(v3);
    await waitFor('resumed', () => applied.length === 2, 10_000);
    assert.equal(applied[1]?.version, versionOf(v3, 'node-a'));
    await waitFor('ack on the new server', () => server.status()[0]?.lastAcked === versionOf(v3, 'node-a'));
    assert.ok(client.state().reconnects >= 1);
  });

  it('resumes within its backoff cap of a controller that was down for many attempts', async () => {
    const { client, applied, port } = await firstSnapshotThenStop();
    // Long enough for grpc-js's own connect backoff (1 s growing ×1.6, up to 120 s by default)
    // to reach several seconds, had the client not capped it with its own (200 ms here).
    await new Promise((r) => setTimeout(r, 6_000));
    assert.ok(client.state().reconnects >= 10, `reconnect attempts while down: ${client.state().reconnects}`);
    server = await start(`127.0.0.1:${port}`);
    const back = Date.now();
    server.publish(snapshots(3));
    await waitFor('resumed', () => applied.length === 2, 10_000);
    const ms = Date.now() - back;
    assert.ok(ms < 1_500, `resumed ${ms} ms after the controller returned (cap 200 ms)`);
  });

  it('starts over on a new connection when connecting hangs (a peer that never answers)', async () => {
    // The first connection lands in a black hole (accepted, never answered), as a SYN to a
    // Service address still translated to a pod that is gone; later ones reach the server.
    const relay = await blackHoleFirst(server.port);
    try {
      server.publish(snapshots(1));
      const applied: ProxySnapshot[] = [];
      const client = new ConfigClient({
        address: `127.0.0.1:${relay.port}`,
        credentials: grpc.credentials.createInsecure(),
        proxy: { kind: 'node', name: 'node-a' },
        token: 'tok-a',
        initialBackoffMs: 20,
        maxBackoffMs: 200,
        connectTimeoutMs: 300,
        random: () => 0.5,
        logger: log.logger,
        onSnapshot: (s) => {
          applied.push(s);
        },
      });
      clients.push(client);
      client.start();
      await waitFor('snapshot through a new connection', () => applied.length === 1, 3_000);
      assert.equal(relay.held.length, 1, 'the first connection was the black hole');
      const renewed = log.lines.filter(
        (l) => l['msg'] === 'connecting to the controller hangs; starting over on a new connection',
      );
      assert.equal(renewed.length, 1);
      assert.ok(Number(renewed[0]?.['stuckMs']) >= 300);
    } finally {
      relay.close();
    }
  });

  it('does not re-apply the version it already has after a reconnect, but ACKs it', async () => {
    const set = snapshots(1);
    server.publish(set);
    const { applied } = track(recordingClient(server.port, { kind: 'node', name: 'node-a' }, 'tok-a'));
    await waitFor('first snapshot', () => applied.length === 1);
    const port = server.port;
    await server.stop({ deadlineMs: 1_000 });
    server = await start(`127.0.0.1:${port}`);
    server.publish(set);
    await waitFor(
      'ack on the new server',
      () => server.status()[0]?.lastAcked === versionOf(set, 'node-a'),
      10_000,
    );
    assert.equal(applied.length, 1);
  });

  it('forgets a stream when its proxy goes away', async () => {
    server.publish(snapshots(1));
    const { client, applied } = recordingClient(server.port, { kind: 'node', name: 'node-a' }, 'tok-a');
    await waitFor('snapshot', () => applied.length === 1);
    assert.equal(server.status()[0]?.streams, 1);
    await client.stop({ deadlineMs: 1_000 });
    await waitFor('stream closed', () => server.status()[0]?.streams === 0);
  });

  describe('misbehaving clients', () => {
    let good: ReturnType<typeof recordingClient>;
    let generation = 10;
    beforeEach(async () => {
      server.publish(snapshots(1));
      good = track(recordingClient(server.port, { kind: 'node', name: 'node-a' }, 'tok-a'));
      await waitFor('good client', () => good.applied.length === 1);
    });

    /** The well-behaved client still receives updates after someone else misbehaved. */
    const goodClientStillServed = async (): Promise<void> => {
      const before = good.applied.length;
      const set = snapshots(++generation);
      server.publish(set);
      await waitFor('update to the good client', () => good.applied.length === before + 1);
      assert.equal(good.applied[before]?.version, versionOf(set, 'node-a'));
      assert.equal(server.status().find((s) => s.name === 'node-a')?.streams, 1);
    };

    const cases: [string, string, Buffer[], grpc.status, RegExp][] = [
      [
        'undecodable bytes',
        'tok-b',
        [Buffer.from('0a05ffff', 'hex')],
        grpc.status.INVALID_ARGUMENT,
        /not a ConfigRequest/,
      ],
      // {version: "v1"} before any hello
      [
        'an ACK before the hello',
        'tok-b',
        [Buffer.from('12027631', 'hex')],
        grpc.status.INVALID_ARGUMENT,
        /first message/,
      ],
      ['an empty message', 'tok-b', [Buffer.alloc(0)], grpc.status.INVALID_ARGUMENT, /first message/],
      ['an unknown proxy kind', 'tok-b', [hello('pod', 'x')], grpc.status.INVALID_ARGUMENT, /proxy\.kind/],
      [
        'a waypoint name without namespace',
        'tok-b',
        [hello('waypoint', 'wp')],
        grpc.status.INVALID_ARGUMENT,
        /namespace/,
      ],
      [
        'a hello naming another proxy',
        'tok-b',
        [hello('node', 'node-a')],
        grpc.status.PERMISSION_DENIED,
        /node\/node-b/,
      ],
      ['an unknown token', 'nope', [hello('node', 'node-b')], grpc.status.UNAUTHENTICATED, /Bearer/],
      [
        'two hellos',
        'tok-b',
        [hello('node', 'node-b'), hello('node', 'node-b')],
        grpc.status.INVALID_ARGUMENT,
        /one hello/,
      ],
    ];
    for (const [what, token, messages, code, details] of cases) {
      it(`refuses ${what} with ${grpc.status[code]}`, async () => {
        const status = await rawStream(server.port, token, messages);
        assert.equal(grpc.status[status.code], grpc.status[code], status.details);
        assert.match(status.details, details);
        await goodClientStillServed();
      });
    }

    it('refuses a stream that never says hello', async () => {
      const quick = await startConfigServer({
        address: '127.0.0.1:0',
        credentials: grpc.ServerCredentials.createInsecure(),
        authenticate,
        helloTimeoutMs: 100,
      });
      try {
        const status = await rawStream(quick.port, 'tok-b', []);
        assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
        assert.match(status.details, /no hello/);
      } finally {
        await quick.stop({ deadlineMs: 1_000 });
      }
    });
  });
});

/** Encodes `{proxy: {kind, name}}` by hand (protobuf wire format), as a foreign client would. */
function hello(kind: string, name: string): Buffer {
  const field = (n: number, body: Buffer): Buffer =>
    Buffer.concat([Buffer.from([(n << 3) | 2, body.length]), body]);
  return field(1, Buffer.concat([field(1, Buffer.from(kind)), field(2, Buffer.from(name))]));
}
