/**
 * CaptureManager end to end in real namespaces, with its real parts: the lab netns annotation,
 * the iptables executor and the native listeners, and a handler that serves the fds it is given.
 * Covers capture, an agent restart (stop, then adopt by a new manager), and release.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import type { CaptureFds, CaptureHandler, CapturePod } from '../../node-agent/capture/listeners.ts';
import { CaptureManager } from '../../node-agent/capture/manager.ts';
import { LAB_NETNS_ANNOTATION } from '../../node-agent/capture/netns.ts';
import { connectInNetns, listenServerInNetns, originalDst, socketFd } from '../../node-agent/native/index.ts';
import { assertRoot, useNetnsLab, type TestNetns } from '../helpers/netns.ts';

const execFileAsync = promisify(execFile);

/** Serves each fd with a server that answers `<listener> <original destination>`. */
class TaggingHandler implements CaptureHandler {
  readonly open = new Set<net.Server>();

  async serve(_pod: CapturePod, _nsPath: string, fds: CaptureFds): Promise<{ close(): Promise<void> }> {
    const servers = await Promise.all(
      (['outbound', 'inbound', 'hbone'] as const).map(async (tag) => {
        const server = net.createServer((s) => {
          s.on('error', () => undefined);
          const d = originalDst(socketFd(s));
          s.end(`${tag} ${d.address}:${d.port}`);
        });
        this.open.add(server);
        await new Promise<void>((resolve) => server.listen({ fd: fds[tag] }, resolve));
        return server;
      }),
    );
    return {
      close: async () => {
        await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
        for (const s of servers) this.open.delete(s);
      },
    };
  }
}

async function ask(ns: TestNetns, host: string, port: number): Promise<string> {
  const socket = await connectInNetns(ns.path, host, port, { timeoutMs: 3000 });
  let text = '';
  socket.setEncoding('utf8');
  for await (const chunk of socket) text += String(chunk);
  return text;
}

describe('node-agent/capture CaptureManager in real namespaces', function () {
  this.timeout(30_000);
  const lab = useNetnsLab();
  const handler = new TaggingHandler();
  const managers: CaptureManager[] = [];
  const servers: net.Server[] = [];
  let podNs: TestNetns;
  let peer: TestNetns;
  let pod: CapturePod;
  let peerIp: string;

  const manager = (): CaptureManager => {
    const m = new CaptureManager({ handler, probeSourceIps: [] });
    managers.push(m);
    return m;
  };

  before(async () => {
    assertRoot();
    podNs = await lab.createNetns();
    peer = await lab.createNetns();
    const pair = await lab.link(podNs, peer);
    peerIp = pair.b.ipv4;
    pod = {
      uid: 'c0ffee00-0000-4000-8000-000000000001',
      namespace: 'shop',
      name: 'cart',
      ips: [pair.a.ipv4],
      annotations: { [LAB_NETNS_ANNOTATION]: podNs.path },
    };
    const server = net.createServer((s) => s.end('peer'));
    servers.push(server);
    await listenServerInNetns(server, peer.path, { host: '0.0.0.0', port: 8080 });
  });

  after(async () => {
    for (const m of managers) await m.stop({ deadlineMs: 1000 });
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    assert.equal(handler.open.size, 0, 'every pod listener was closed');
  });

  it('capture opens the listeners inside the pod and redirects its traffic to them', async () => {
    const m = manager();
    await m.capture(pod);
    assert.equal(await ask(podNs, peerIp, 8080), `outbound ${peerIp}:8080`);
    assert.equal(await ask(peer, pod.ips[0] ?? '', 9000), `inbound ${pod.ips[0]}:9000`);
    assert.deepEqual(m.captured(), [{ uid: pod.uid, pod: 'shop/cart', nsPath: podNs.path }]);
  });

  it('an agent restart re-adopts the pod without duplicating rules', async () => {
    await managers[0]?.stop({ deadlineMs: 1000 });
    const m = manager();
    assert.deepEqual(
      (await m.adopt([pod])).map((r) => r.outcome),
      ['adopted'],
    );
    const { stdout } = await execFileAsync('ip', [
      'netns',
      'exec',
      podNs.name,
      'iptables',
      '-t',
      'nat',
      '-S',
    ]);
    assert.equal(stdout.split('\n').filter((l) => l === '-A OUTPUT -p tcp -j WAYMESH_OUTPUT').length, 1);
    assert.equal(await ask(podNs, peerIp, 8080), `outbound ${peerIp}:8080`);
  });

  it('release makes the traffic plain again and closes the listeners', async () => {
    const m = managers[1];
    assert.ok(m !== undefined);
    assert.equal(await m.release(pod.uid), true);
    assert.equal(await ask(podNs, peerIp, 8080), 'peer');
    assert.equal(handler.open.size, 0);
    await assert.rejects(ask(peer, pod.ips[0] ?? '', 15001), /ECONNREFUSED/);
  });
});
