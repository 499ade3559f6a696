/**
 * In-pod capture in real network namespaces: a "pod" linked to a "peer" (another pod) and to a
 * "node" (the kubelet's probe source). Rules applied with the real executor; listeners opened
 * inside the pod with the native addon; traffic checked for where it lands.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { promisify } from 'node:util';
import { IptablesExecutor } from '../../node-agent/capture/iptables.ts';
import { AGENT_MARK, buildCaptureRules, type CaptureRuleSet } from '../../node-agent/capture/rules.ts';
import { connectInNetns, listenServerInNetns, originalDst, socketFd } from '../../node-agent/native/index.ts';
import { assertRoot, useNetnsLab, type TestNetns, type VethPair } from '../helpers/netns.ts';

const execFileAsync = promisify(execFile);

/** A server answering every connection with `reply(socket)` and closing. */
function replier(reply: (s: net.Socket) => string): net.Server {
  return net.createServer((s) => {
    s.on('error', () => undefined);
    s.end(reply(s));
  });
}

/** What a listener inside the pod saw: its tag and the original destination. */
function capturedReply(tag: string): (s: net.Socket) => string {
  return (s) => {
    const d = originalDst(socketFd(s));
    return `${tag} ${d.family === 6 ? `[${d.address}]` : d.address}:${d.port}`;
  };
}

/** Connects from `ns` to `host:port` (optionally marked) and returns everything the server sent. */
async function ask(ns: TestNetns, host: string, port: number, mark?: number): Promise<string> {
  const socket = await connectInNetns(ns.path, host, port, {
    timeoutMs: 3000,
    ...(mark === undefined ? {} : { mark }),
  });
  let text = '';
  socket.setEncoding('utf8');
  for await (const chunk of socket) text += String(chunk);
  return text;
}

async function iptablesS(ns: TestNetns, tool = 'iptables'): Promise<string[]> {
  const { stdout } = await execFileAsync('ip', ['netns', 'exec', ns.name, tool, '-t', 'nat', '-S']);
  return stdout.trim().split('\n');
}

describe('node-agent/capture in real namespaces', function () {
  this.timeout(30_000);
  const lab = useNetnsLab();
  const servers: net.Server[] = [];
  const executor = new IptablesExecutor();
  let pod: TestNetns;
  let peer: TestNetns;
  let node: TestNetns;
  let toPeer: VethPair;
  let toNode: VethPair;
  let rules: CaptureRuleSet;
  let target: { pod: string; nsPath: string };

  const serve = async (ns: TestNetns, host: string, port: number, server: net.Server): Promise<void> => {
    servers.push(server);
    await listenServerInNetns(server, ns.path, { host, port, v6Only: false });
  };

  before(async () => {
    assertRoot();
    [pod, peer, node] = [await lab.createNetns(), await lab.createNetns(), await lab.createNetns()];
    toPeer = await lab.link(pod, peer);
    toNode = await lab.link(pod, node);
    target = { pod: 'test/pod', nsPath: pod.path };
    rules = buildCaptureRules({ podIps: [toPeer.a.ipv4, toPeer.a.ipv6], probeSourceIps: [toNode.b.ipv4] });
    await serve(
      peer,
      '::',
      8080,
      replier(() => 'peer'),
    );
    await serve(
      peer,
      '::',
      53,
      replier(() => 'dns'),
    );
    await serve(
      pod,
      '::',
      80,
      replier(() => 'app'),
    );
    await serve(pod, '::', 15001, replier(capturedReply('outbound')));
    await serve(pod, '::', 15006, replier(capturedReply('inbound')));
    await serve(
      pod,
      '::',
      15008,
      replier(() => 'hbone'),
    );
  });

  after(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it('without rules, traffic is plain', async () => {
    assert.equal(await ask(pod, toPeer.b.ipv4, 8080), 'peer');
    assert.equal(await ask(peer, toPeer.a.ipv4, 80), 'app');
  });

  it('applies the rules, and applying twice leaves every rule exactly once', async () => {
    await executor.apply(target, rules);
    await executor.apply(target, rules);
    for (const tool of ['iptables', 'ip6tables']) {
      const lines = await iptablesS(pod, tool);
      assert.equal(new Set(lines).size, lines.length, `${tool} -S has duplicates:\n${lines.join('\n')}`);
      assert.equal(lines.filter((l) => l === '-A OUTPUT -p tcp -j WAYMESH_OUTPUT').length, 1);
      assert.equal(lines.filter((l) => l === '-A PREROUTING -p tcp -j WAYMESH_PREROUTING').length, 1);
    }
    const found = await executor.inspect(target, rules);
    assert.deepEqual(found, { ipv4: 'current', ipv6: 'current', present: true, current: true });
  });

  it('outbound TCP lands on 15001 with the real original destination (IPv4 and IPv6)', async () => {
    assert.equal(await ask(pod, toPeer.b.ipv4, 8080), `outbound ${toPeer.b.ipv4}:8080`);
    assert.equal(await ask(pod, toPeer.b.ipv6, 8080), `outbound [${toPeer.b.ipv6}]:8080`);
  });

  it('a socket carrying the agent mark bypasses capture', async () => {
    assert.equal(await ask(pod, toPeer.b.ipv4, 8080, AGENT_MARK), 'peer');
  });

  it('TCP DNS, loopback and the pod own address are left alone', async () => {
    assert.equal(await ask(pod, toPeer.b.ipv4, 53), 'dns');
    assert.equal(await ask(pod, '127.0.0.1', 80), 'app');
    assert.equal(await ask(pod, toPeer.a.ipv4, 80), 'app');
    assert.equal(await ask(pod, '::1', 80), 'app');
  });

  it('inbound TCP lands on 15006, except 15008 and the probe source', async () => {
    assert.equal(await ask(peer, toPeer.a.ipv4, 80), `inbound ${toPeer.a.ipv4}:80`);
    assert.equal(await ask(peer, toPeer.a.ipv6, 80), `inbound [${toPeer.a.ipv6}]:80`);
    assert.equal(await ask(peer, toPeer.a.ipv4, 15008), 'hbone');
    assert.equal(await ask(node, toNode.a.ipv4, 80), 'app');
  });

  it('inspect reports stale rules after a change of options, and apply converges', async () => {
    const changed = buildCaptureRules({ podIps: [toPeer.a.ipv4, toPeer.a.ipv6], probeSourceIps: [] });
    assert.equal((await executor.inspect(target, changed)).current, false);
    await executor.apply(target, changed);
    assert.equal(await ask(node, toNode.a.ipv4, 80), `inbound ${toNode.a.ipv4}:80`);
    await executor.apply(target, rules);
    assert.equal((await executor.inspect(target, rules)).current, true);
  });

  it('remove makes traffic plain again and leaves nothing of ours', async () => {
    assert.equal(await executor.remove(target), 'removed');
    assert.equal(await ask(pod, toPeer.b.ipv4, 8080), 'peer');
    assert.equal(await ask(peer, toPeer.a.ipv4, 80), 'app');
    for (const tool of ['iptables', 'ip6tables']) {
      assert.ok((await iptablesS(pod, tool)).every((l) => !l.includes('WAYMESH_')));
    }
    assert.equal(await executor.remove(target), 'absent');
    assert.equal((await executor.inspect(target, rules)).present, false);
  });

  it('remove on a namespace that was deleted is a no-op', async () => {
    const name = `wmt-${randomBytes(3).toString('hex')}`;
    await execFileAsync('ip', ['netns', 'add', name]);
    const gone = { pod: 'test/gone', nsPath: `/var/run/netns/${name}` };
    try {
      await executor.apply(gone, rules);
    } finally {
      await execFileAsync('ip', ['netns', 'del', name]);
    }
    assert.equal(await executor.remove(gone), 'gone');
  });
});
