// HBONE the way the node agent runs it: the server listens on an fd opened inside pod A's network
// namespace (native addon), the client dials from pod B's namespace through a caller-made socket
// carrying the agent's mark, and the tunnel reaches an app inside pod A over IPv4 and IPv6.
// Needs root; never skipped. Namespaces are `wmt-…`, cleaned up by the lab even on failure.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'mocha';
import { formatSpiffeId } from '../../common/spiffe.ts';
import {
  createHboneServer,
  formatAuthority,
  HBONE_PORT,
  HboneClient,
  pipeTunnel,
  type HboneServer,
  type HboneTunnel,
} from '../../common/hbone/index.ts';
import { inMemoryRootCa, issueLocalIdentity, verifyTlsPeer, type LocalIdentity } from '../../certs/index.ts';
import {
  connectInNetns,
  getMark,
  listenInNetns,
  listenServerInNetns,
  socketFd,
} from '../../node-agent/native/index.ts';
import { assertRoot, NetnsLab, type TestNetns, type VethPair } from '../helpers/netns.ts';

const APP_PORT = 7000;
const MESH_MARK = 0x539;
const ca = inMemoryRootCa('cluster.local');
const podA = issueLocalIdentity(ca, 'spiffe://cluster.local/ns/a/sa/app-a');
const podB = issueLocalIdentity(ca, 'spiffe://cluster.local/ns/b/sa/app-b');

function material(id: LocalIdentity): { key: string; cert: string; ca: string } {
  return { key: id.keyPem, cert: id.certChainPem.join(''), ca: id.bundle.toPem() };
}

async function roundTrip(stream: Duplex, payload: string): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const ended = once(stream, 'end');
  stream.end(payload);
  await ended;
  return Buffer.concat(chunks).toString();
}

describe('common/hbone in network namespaces (fd listener, netns client socket)', function () {
  this.timeout(60_000);
  const lab = new NetnsLab();
  let nsA: TestNetns;
  let nsB: TestNetns;
  let link: VethPair;
  let hbone: HboneServer;
  let app: net.Server;
  const client = new HboneClient();
  const marks: number[] = [];

  /** Inbound side of an agent: connect to the app inside pod A's namespace, then pipe. */
  function inbound(tunnel: HboneTunnel): void {
    connectInNetns(nsA.path, tunnel.authority.host, tunnel.authority.port, { allowHalfOpen: true }).then(
      (upstream) => pipeTunnel(tunnel.accept(), upstream, () => undefined),
      (err: Error) => tunnel.refuse(503, `target unreachable: ${err.message}`),
    );
  }

  before(async () => {
    assertRoot();
    nsA = await lab.createNetns();
    nsB = await lab.createNetns();
    link = await lab.link(nsA, nsB);
    app = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
    await listenServerInNetns(app, nsA.path, { host: '::', port: APP_PORT });
    hbone = createHboneServer({
      tls: material(podA),
      verifyPeer: (s) => formatSpiffeId(verifyTlsPeer(s, podA.bundle, 'client')),
      onTunnel: inbound,
    });
    const { fd } = listenInNetns(nsA.path, { host: '::', port: HBONE_PORT });
    const port = await hbone.listen({ fd });
    assert.equal(port, HBONE_PORT);
  });

  after(async () => {
    await client.close();
    await hbone?.close({ deadlineMs: 0 });
    app?.close();
    await lab.cleanup();
  });

  for (const family of ['ipv4', 'ipv6'] as const) {
    it(`tunnels from pod B to the app in pod A over ${family}`, async () => {
      const ip = link.a[family];
      const t = await client.open({
        via: { host: ip, port: HBONE_PORT },
        authority: formatAuthority(ip, APP_PORT),
        tls: { ...material(podB), identityKey: podB.issued.identity },
        verifyServer: (s: TLSSocket) => formatSpiffeId(verifyTlsPeer(s, podB.bundle, 'server')),
        connect: async () => {
          const socket = await connectInNetns(nsB.path, ip, HBONE_PORT, { mark: MESH_MARK });
          marks.push(getMark(socketFd(socket)));
          return socket;
        },
      });
      assert.equal(t.peerId, 'spiffe://cluster.local/ns/a/sa/app-a');
      assert.equal(await roundTrip(t.stream, `hello over ${family}`), `hello over ${family}`);
      assert.deepEqual(marks.at(-1), MESH_MARK);
    });
  }

  it('reports a refused 15008 from the caller-made socket as HBONE_CONNECT_FAILED', async () => {
    await assert.rejects(
      client.open({
        via: { host: link.a.ipv4, port: HBONE_PORT + 1 },
        authority: formatAuthority(link.a.ipv4, APP_PORT),
        tls: { ...material(podB), identityKey: podB.issued.identity },
        verifyServer: () => 'unused',
        connect: () => connectInNetns(nsB.path, link.a.ipv4, HBONE_PORT + 1),
      }),
      (err: unknown) => err instanceof Error && 'code' in err && err.code === 'HBONE_CONNECT_FAILED',
    );
    // One pooled session per 15008 endpoint (IPv4 and IPv6 address), untouched by the failure.
    assert.equal(hbone.stats().sessions, 2);
    assert.equal(client.stats().sessions, 2);
  });
});
