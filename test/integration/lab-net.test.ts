/**
 * The lab network and kube-proxy rules in real namespaces: a two-node lab with pods on both nodes,
 * pod→pod on one node and across nodes, pod→core, the pod's resolv.conf, idempotent `up` (with
 * leftovers of a crashed run removed), a ClusterIP spreading over two endpoints, a service without
 * endpoints refused fast, hairpin, idempotent re-application, and a `down` that leaves nothing.
 * Network: only addresses inside the lab's own namespaces. Needs root; never skipped.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { LabNetwork, listLabNamespaces } from '../../lab/net/cluster-net.ts';
import { inNetns, ip } from '../../lab/net/exec.ts';
import { createPodNetwork, deletePodNetwork, NodeIpam, type PodNetwork } from '../../lab/net/pod-net.ts';
import { coreNetns, nodeNetns, parseLabNetns } from '../../lab/net/plan.ts';
import { applyProxyRules, removeProxyRules } from '../../lab/proxy/apply.ts';
import { buildProxyRules, type ProxyService } from '../../lab/proxy/rules.ts';
import { assertRoot } from '../helpers/netns.ts';

const LAB = `t${randomBytes(3).toString('hex')}`;
const NODE = process.execPath;
const children = new Set<ChildProcess>();

// A TCP server that answers every connection with "<name> <peer address>" and closes.
const SERVER = `const net=require('net');const [port,name]=process.argv.slice(1);
net.createServer(s=>{s.end(name+' '+s.remoteAddress+'\\n')}).listen(+port,'0.0.0.0',()=>console.log('ready'));`;
// Connects, prints the answer, or "ERR <code> <ms>".
const CLIENT = `const net=require('net');const [host,port]=process.argv.slice(1);const t=Date.now();let out='';
const s=net.connect({host,port:+port,timeout:3000});s.on('data',d=>out+=d);s.on('end',()=>console.log(out.trim()));
s.on('timeout',()=>{console.log('ERR ETIMEDOUT '+(Date.now()-t));s.destroy()});
s.on('error',e=>console.log('ERR '+e.code+' '+(Date.now()-t)));`;

function hostLinks(): string[] {
  const out = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
}

function cleanupSync(): void {
  for (const child of children) child.kill('SIGKILL');
  const names = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n');
  for (const line of names) {
    const name = line.split(' ')[0] ?? '';
    if (parseLabNetns(LAB, name) !== undefined) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  }
  for (const name of existsSync('/etc/netns') ? readdirSync('/etc/netns') : []) {
    if (parseLabNetns(LAB, name) !== undefined)
      rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  }
}

async function serve(netns: string, port: number, name: string): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', netns, NODE, '-e', SERVER, String(port), name], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`server in ${netns} exited with ${code}`)));
  });
}

async function connect(netns: string, host: string, port: number): Promise<string> {
  return (await inNetns(netns, NODE, ['-e', CLIENT, host, String(port)])).stdout.trim();
}

describe('lab network (integration, root)', function () {
  this.timeout(30_000);
  const net = new LabNetwork({ lab: LAB, nodes: 2 });
  const state = mkdtempSync(join(tmpdir(), 'wm-labnet-'));
  const dns = {
    nameservers: ['10.96.0.10'],
    searches: ['default.svc.cluster.local', 'cluster.local'],
    options: ['ndots:5'],
  };
  let linksBefore: string[] = [];
  let a: PodNetwork; // node 1
  let b: PodNetwork; // node 1
  let c: PodNetwork; // node 2

  before(async () => {
    assertRoot();
    process.once('exit', cleanupSync);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        cleanupSync();
        process.exit(130);
      });
    }
    linksBefore = hostLinks();
    await net.up();
    const ipam1 = new NodeIpam(join(state, 'node1.json'), 1);
    const ipam2 = new NodeIpam(join(state, 'node2.json'), 2);
    const pod = async (ipam: NodeIpam, nodeIndex: number, name: string): Promise<PodNetwork> => {
      const podUid = randomUUID();
      return createPodNetwork({
        lab: LAB,
        nodeIndex,
        podUid,
        ip: ipam.allocate(podUid),
        hostname: name,
        podName: name,
        dns,
      });
    };
    a = await pod(ipam1, 1, 'pod-a');
    b = await pod(ipam1, 1, 'pod-b');
    c = await pod(ipam2, 2, 'pod-c');
    await serve(b.netns, 8080, 'B');
    await serve(c.netns, 8080, 'C');
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    try {
      await net.down();
    } finally {
      cleanupSync();
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('routes pod→pod on one node, without NAT', async () => {
    assert.equal(await connect(a.netns, b.ip, 8080), `B ${a.ip}`);
  });

  it('routes pod→pod across nodes, without NAT', async () => {
    assert.equal(await connect(a.netns, c.ip, 8080), `C ${a.ip}`);
    assert.equal(await connect(c.netns, b.ip, 8080), `B ${c.ip}`);
  });

  it('reaches a listener on 10.100.0.1 in the core namespace', async () => {
    await serve(coreNetns(LAB), 6443, 'core');
    assert.equal(await connect(c.netns, '10.100.0.1', 6443), `core ${c.ip}`);
  });

  it('gives the pod its resolv.conf and hosts under ip netns exec, and the node cluster DNS', async () => {
    const resolv = (await inNetns(a.netns, 'cat', ['/etc/resolv.conf'])).stdout;
    assert.equal(
      resolv,
      'search default.svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
    );
    assert.match(
      (await inNetns(a.netns, 'cat', ['/etc/hosts'])).stdout,
      new RegExp(`^${a.ip.replace(/\./g, '\\.')}\\tpod-a$`, 'm'),
    );
    assert.match(
      (await inNetns(nodeNetns(LAB, 2), 'cat', ['/etc/resolv.conf'])).stdout,
      /^nameserver 10\.96\.0\.10$/m,
    );
  });

  it('up and createPodNetwork are idempotent and remove leftovers that do not fit', async () => {
    const vethBefore = (await ip('-n', a.nodeNetns, '-o', 'link', 'show', 'dev', a.hostVeth)).stdout.split(
      ':',
    )[0];
    // Leftovers of a "crashed run": a node beyond the count and a pod namespace without its veth.
    const staleNode = nodeNetns(LAB, 3);
    const stalePod = `wml-${LAB}-pdeadbeef`;
    await ip('netns', 'add', staleNode);
    await ip('netns', 'add', stalePod);
    await net.up();
    await createPodNetwork({
      lab: LAB,
      nodeIndex: 1,
      podUid: a.podUid,
      ip: a.ip,
      hostname: 'pod-a',
      podName: 'pod-a',
      dns,
    });
    const names = (await listLabNamespaces(LAB)).map((ns) => ns.name);
    assert.ok(!names.includes(staleNode) && !names.includes(stalePod), `leftovers kept: ${names.join(' ')}`);
    const vethAfter = (await ip('-n', a.nodeNetns, '-o', 'link', 'show', 'dev', a.hostVeth)).stdout.split(
      ':',
    )[0];
    assert.equal(vethAfter, vethBefore, 'the pod veth was recreated');
    assert.equal(await connect(a.netns, c.ip, 8080), `C ${a.ip}`);
  });

  describe('kube-proxy rules', () => {
    const web: ProxyService = {
      namespace: 'default',
      name: 'web',
      clusterIP: '10.96.0.50',
      ports: [{ name: 'http', port: 80, protocol: 'TCP', endpoints: [] }],
    };
    const services = (): ProxyService[] => [
      {
        ...web,
        ports: [
          {
            ...web.ports[0]!,
            endpoints: [
              { ip: b.ip, port: 8080 },
              { ip: c.ip, port: 8080 },
            ],
          },
        ],
      },
      { ...web, name: 'empty', clusterIP: '10.96.0.51' },
      {
        ...web,
        name: 'self',
        clusterIP: '10.96.0.52',
        ports: [{ ...web.ports[0]!, endpoints: [{ ip: b.ip, port: 8080 }] }],
      },
    ];
    const nodes = [nodeNetns(LAB, 1), nodeNetns(LAB, 2)];

    before(async () => {
      for (const node of nodes) await applyProxyRules(node, buildProxyRules(services()));
    });

    it('spreads a ClusterIP over both endpoints', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 16 && seen.size < 2; i++) {
        const answer = await connect(a.netns, '10.96.0.50', 80);
        assert.match(answer, /^[BC] /);
        seen.add(answer.slice(0, 1));
      }
      assert.deepEqual([...seen].sort(), ['B', 'C']);
    });

    it('refuses a service without endpoints at once', async () => {
      const answer = await connect(a.netns, '10.96.0.51', 80);
      const m = /^ERR ECONNREFUSED (\d+)$/.exec(answer);
      assert.ok(m !== null, answer);
      assert.ok(Number(m[1]) < 1000, `refusal took ${m[1]} ms`);
    });

    it('lets an endpoint reach its own service (hairpin)', async () => {
      // Without WML-MARK-MASQ the reply would carry the pod's own address as source and be dropped.
      const answer = await connect(b.netns, '10.96.0.52', 80);
      assert.match(answer, /^B /);
      assert.notEqual(answer, `B ${b.ip}`, 'hairpin traffic was not masqueraded');
    });

    it('re-applies idempotently: one jump each, stale chains gone, others untouched; removal leaves nothing', async () => {
      const node = nodes[0]!;
      await inNetns(node, 'iptables', [
        '-t',
        'nat',
        '-A',
        'POSTROUTING',
        '-s',
        '192.0.2.1/32',
        '-j',
        'RETURN',
      ]);
      await applyProxyRules(node, buildProxyRules(services()));
      await applyProxyRules(node, buildProxyRules(services().slice(1)));
      const saved = (await inNetns(node, 'iptables-save', [])).stdout;
      for (const chain of ['PREROUTING', 'OUTPUT', 'POSTROUTING', 'FORWARD']) {
        const jumps = saved.split('\n').filter((l) => l.startsWith(`-A ${chain} `) && / -j WML-/.test(l));
        assert.equal(jumps.length, chain === 'OUTPUT' ? 2 : 1, `${chain}: ${jumps.join(' | ')}`);
      }
      assert.doesNotMatch(saved, /10\.96\.0\.50/, 'removed service still present');
      assert.equal((saved.match(/^:WML-SVC-/gm) ?? []).length, 1, 'only the self service keeps a SVC chain');
      assert.match(saved, /-A POSTROUTING -s 192\.0\.2\.1\/32 -j RETURN/);
      assert.match(await connect(b.netns, '10.96.0.52', 80), /^B /);
      await removeProxyRules(node);
      await removeProxyRules(node);
      const empty = (await inNetns(node, 'iptables-save', [])).stdout;
      assert.doesNotMatch(empty, /WML-/);
      assert.match(empty, /192\.0\.2\.1/);
    });
  });

  describe('teardown', () => {
    it('deletePodNetwork is idempotent', async () => {
      await deletePodNetwork(LAB, b.podUid);
      await deletePodNetwork(LAB, b.podUid);
      assert.ok(!(await listLabNamespaces(LAB)).some((ns) => ns.name === b.netns));
      assert.ok(!existsSync(`/etc/netns/${b.netns}`));
    });

    it('down removes every namespace, /etc/netns dir and process, and the host gains no link', async () => {
      await net.down();
      await net.down();
      assert.deepEqual(await listLabNamespaces(LAB), []);
      const dirs = existsSync('/etc/netns')
        ? readdirSync('/etc/netns').filter((n) => n.startsWith(`wml-${LAB}-`))
        : [];
      assert.deepEqual(dirs, []);
      assert.deepEqual(hostLinks(), linksBefore);
      assert.equal(children.size, 0, 'servers inside the lab were not stopped');
    });
  });
});
