/**
 * The node agent's data path in real network namespaces: two "node agents" (a CaptureManager and
 * a proxy handler each, in this process) serving pods that are namespaces behind one router,
 * with hand-built node snapshots and certificates from an in-process CA that rotates them every
 * ~1.5 s. Apps are TCP echo servers inside the pods.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  CertificateAuthority,
  createCsr,
  generateKey,
  inMemoryRootCa,
  privateKeyToPem,
  verifyTlsPeer,
} from '../../certs/index.ts';
import { isMeshError } from '../../common/errors.ts';
import { HboneClient } from '../../common/hbone/index.ts';
import type { AuthorizationPolicy, MeshService, NodeSnapshot, Workload } from '../../common/ir/index.ts';
import { Registry } from '../../common/metrics/index.ts';
import { formatSpiffeId } from '../../common/spiffe.ts';
import { CaptureManager } from '../../node-agent/capture/manager.ts';
import type { CapturePod } from '../../node-agent/capture/listeners.ts';
import { IdentityManager, type CertificateSource } from '../../node-agent/identity/index.ts';
import { connectInNetns } from '../../node-agent/native/index.ts';
import { createProxyHandler, type AccessLogEntry, type ProxyHandler } from '../../node-agent/proxy/index.ts';
import { buildNodeState } from '../../node-agent/state/index.ts';
import {
  MeshTopology,
  startEcho,
  vipAddress,
  type EchoServer,
  type TopologyHost,
} from '../helpers/mesh-topology.ts';
import { assertRoot, useNetnsLab, type TestNetns } from '../helpers/netns.ts';

const TD = 'cluster.local';
const APP_PORT = 8080;
const VIP = vipAddress(10);
/** `shop/pair`: api and a ghost endpoint whose node agent does not answer (nothing on its 15008). */
const PAIR_VIP = vipAddress(11);
const NODES = ['node-1', 'node-2'] as const;
/** notBefore is backdated 300 s: a 303 s TTL puts the half life 1.5 s after issuance. */
const ROTATING_TTL_S = 303;

const idOf = (sa: string): string => `spiffe://${TD}/ns/shop/sa/${sa}`;

function workload(host: TopologyHost, extra: Partial<Workload> = {}): Workload {
  return {
    uid: `uid-${host.name}`,
    name: host.name,
    namespace: 'shop',
    node: host.node,
    ips: [host.ip],
    serviceAccount: host.name,
    identity: idOf(host.name),
    captured: true,
    labels: {},
    namedPorts: {},
    ...extra,
  };
}

function service(name: string, clusterIPs: string[], backend: Workload): MeshService {
  return {
    key: `shop/${name}`,
    namespace: 'shop',
    name,
    clusterIPs,
    ports: [{ name: 'tcp', port: 80, protocol: 'TCP', appProtocol: 'tcp' }],
    endpoints: [
      {
        workloadUid: backend.uid,
        ip: backend.ips[0] ?? '',
        node: backend.node,
        ready: true,
        ports: { 80: APP_PORT },
      },
    ],
    source: { group: '', kind: 'Service', namespace: 'shop', name },
  };
}

function l4Policy(
  name: string,
  target: string,
  action: 'ALLOW' | 'DENY',
  principals: string[],
): AuthorizationPolicy {
  const none = { values: [], not: [] };
  return {
    id: `authorizationpolicy/shop/${name}`,
    source: { group: 'policy.waymesh.io', kind: 'AuthorizationPolicy', namespace: 'shop', name },
    scope: { kind: 'service', service: `shop/${target}` },
    action,
    layer: 'L4',
    rules: [{ from: [{ principals: { values: principals, not: [] }, namespaces: none }], to: [], when: [] }],
  };
}

/** Sends `data`, half-closes, and resolves with everything received until the peer's end. */
function exchange(socket: Socket, data: Buffer | string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => {
      socket.destroy();
      resolve(Buffer.concat(chunks));
    });
    socket.once('error', reject);
    socket.end(data);
  });
}

async function dial(from: TestNetns, ip: string, port: number, allowHalfOpen = true): Promise<Socket> {
  return connectInNetns(from.path, ip, port, { timeoutMs: 5000, allowHalfOpen });
}

/** Dials and exchanges; a reset during the handshake or after it rejects alike. */
async function talk(from: TestNetns, ip: string, port: number, data: Buffer | string): Promise<string> {
  return (await exchange(await dial(from, ip, port), data)).toString();
}

async function until<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Agent {
  readonly node: string;
  readonly identities: IdentityManager;
  readonly registry: Registry;
  readonly handler: ProxyHandler;
  readonly capture: CaptureManager;
  readonly log: AccessLogEntry[];
}

describe('node-agent proxy in real namespaces (two agents, HBONE across nodes)', function () {
  this.timeout(60_000);
  const lab = useNetnsLab();
  const ca = inMemoryRootCa(TD);
  const agents: Agent[] = [];
  const echoes: EchoServer[] = [];
  let topo: MeshTopology;
  let workloads: Workload[];
  /** In the snapshots as captured on node-2, but never captured: its 15008 refuses connections. */
  let ghost: Workload;
  let pods: Map<string, CapturePod>;
  const host = (name: string): TopologyHost => topo.host(name);

  const source: CertificateSource = {
    sign: (csr) => Promise.resolve([...ca.issue(csr, ROTATING_TTL_S).certChainPem]),
  };

  function snapshot(node: string): NodeSnapshot {
    const by = (n: string): Workload => workloads.find((w) => w.name === n) as Workload;
    const pair = service('pair', [PAIR_VIP], by('api'));
    const ghostEndpoint = { workloadUid: ghost.uid, ip: host('ghost').ip, node: 'node-2', ready: true };
    return {
      kind: 'node',
      version: `v-${node}`,
      trustDomain: TD,
      node,
      workloads: [...workloads, ghost],
      services: [
        service('api', [VIP], by('api')),
        { ...pair, endpoints: [{ ...ghostEndpoint, ports: { 80: APP_PORT } }, ...pair.endpoints] },
        service('vault', [], by('vault')),
        service('blocked', [], by('blocked')),
      ],
      policies: [
        l4Policy('vault-only-client', 'vault', 'ALLOW', [idOf('client')]),
        l4Policy('deny-client', 'blocked', 'DENY', [idOf('client')]),
      ],
    };
  }

  before(async function () {
    assertRoot();
    topo = await MeshTopology.create(lab, [
      { name: 'client', node: 'node-1' },
      { name: 'intruder', node: 'node-1' },
      { name: 'api', node: 'node-2' },
      { name: 'vault', node: 'node-2' },
      { name: 'blocked', node: 'node-2' },
      { name: 'strict', node: 'node-2' },
      { name: 'external' },
      { name: 'outsider' },
      { name: 'ghost', node: 'node-2' },
    ]);
    ghost = workload(host('ghost'));
    workloads = ['client', 'intruder', 'api', 'vault', 'blocked', 'strict'].map((n) =>
      workload(host(n), n === 'strict' ? { mtls: 'STRICT' } : {}),
    );
    pods = new Map(
      workloads.map((w) => [w.name, { uid: w.uid, namespace: w.namespace, name: w.name, ips: w.ips }]),
    );
    for (const name of ['api', 'vault', 'blocked', 'strict', 'external']) {
      echoes.push(await startEcho(host(name), APP_PORT, { greet: name === 'api' }));
    }
    for (const node of NODES) {
      const registry = new Registry();
      const identities = new IdentityManager({ trustDomain: TD, source, registry });
      const state = buildNodeState(snapshot(node));
      const log: AccessLogEntry[] = [];
      const handler = createProxyHandler({
        state: () => state,
        identities,
        registry,
        accessLog: (e) => log.push(e),
        connectTimeoutMs: 3000,
        releaseDeadlineMs: 200,
      });
      const capture = new CaptureManager({
        handler,
        probeSourceIps: [],
        findNetns: (pod) => Promise.resolve(host(pod.name).ns.path),
      });
      agents.push({ node, identities, registry, handler, capture, log });
      for (const w of workloads.filter((x) => x.node === node))
        await capture.capture(pods.get(w.name) as CapturePod);
    }
  });

  after(async () => {
    for (const a of agents) {
      await a.capture.stop({ deadlineMs: 1000 }).catch(() => undefined);
      await a.handler.drain({ deadlineMs: 0 });
      a.identities.stop();
    }
    await Promise.all(echoes.map((e) => e.close()));
  });

  const agent = (node: string): Agent => agents.find((a) => a.node === node) as Agent;
  const lastInbound = (node: string, pod: string): Promise<AccessLogEntry> =>
    until(`an inbound access-log entry for ${pod} on ${node}`, () =>
      agent(node).log.findLast((e) => e.direction === 'inbound' && e.pod === `shop/${pod}`),
    );

  it('pod → service VIP → pod on another node over HBONE; the destination sees the source identity', async () => {
    agent('node-2').log.length = 0;
    const reply = (await exchange(await dial(host('client').ns, VIP, 80), 'hello')).toString();
    // The app sees its own pod address: the agent connects to it from inside the pod.
    assert.match(reply, new RegExp(`^peer ${host('api').ip.replaceAll('.', '\\.')}:\\d+\\nhello$`));
    const entry = await lastInbound('node-2', 'api');
    assert.equal(entry.sourcePrincipal, idOf('client'));
    assert.equal(entry.sourceWorkload, 'shop/client');
    assert.equal(entry.transport, 'hbone');
    assert.equal(entry.result, 'ok');
    assert.ok(entry.sourceAddress.startsWith(`${host('client').ip}:`), entry.sourceAddress);
    const out = await until('the outbound entry', () =>
      agent('node-1').log.findLast((e) => e.direction === 'outbound'),
    );
    assert.equal(out.destinationService, 'shop/api');
    assert.equal(out.destinationPrincipal, idOf('api'));
    assert.equal(out.bytesReceived, 5);
    const metrics = agent('node-2').registry.render();
    assert.match(
      metrics,
      /waymesh_tcp_connections_opened_total\{direction="inbound",source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/client",destination_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/api",source_workload="shop\/client",destination_workload="shop\/api",destination_service="unknown"\} [1-9]/,
    );
  });

  it('retries a connection whose tunnel failed to open on another endpoint, and counts it', async () => {
    const log = agent('node-1').log;
    // The picker draws at random; the ghost, once it failed, is skipped for 2 s, so the first
    // connection that draws it is the one retried.
    let retried: AccessLogEntry | undefined;
    for (let i = 0; i < 20 && retried === undefined; i++) {
      const from = log.length;
      const reply = (await exchange(await dial(host('client').ns, PAIR_VIP, 80), `try ${i}`)).toString();
      assert.match(reply, new RegExp(`^peer ${host('api').ip.replaceAll('.', '\\.')}:\\d+\\ntry ${i}$`));
      const entry = await until('the outbound entry', () =>
        log.slice(from).find((e) => e.direction === 'outbound' && e.destinationService === 'shop/pair'),
      );
      assert.equal(entry.result, 'ok');
      assert.equal(entry.destinationWorkload, 'shop/api');
      if (entry.retries !== undefined) retried = entry;
    }
    assert.ok(retried !== undefined, 'one of 20 connections drew the ghost first');
    assert.equal(retried.retries, 1);
    assert.equal(retried.destinationPrincipal, idOf('api'));
    assert.match(
      agent('node-1').registry.render(),
      /waymesh_tcp_connect_retries_total\{destination_service="shop\/pair",failed_workload="shop\/ghost",code="HBONE_CONNECT_FAILED"\} 1\n/,
    );
  });

  it('carries 1 MiB both ways intact, with half-close end to end', async () => {
    const data = randomBytes(1024 * 1024);
    const socket = await dial(host('client').ns, host('vault').ip, APP_PORT);
    const echoed = await exchange(socket, data);
    assert.equal(echoed.length, data.length);
    assert.equal(
      createHash('sha256').update(echoed).digest('hex'),
      createHash('sha256').update(data).digest('hex'),
    );
    const entry = await lastInbound('node-2', 'vault');
    assert.equal(entry.bytesReceived, data.length);
    assert.equal(entry.bytesSent, data.length);
  });

  it('reaches a destination outside the mesh in plaintext', async () => {
    const reply = await exchange(await dial(host('client').ns, host('external').ip, APP_PORT), 'out');
    assert.equal(reply.toString(), 'out');
    const out = await until('the passthrough entry', () =>
      agent('node-1').log.findLast((e) => e.transport === 'passthrough'),
    );
    assert.equal(out.destinationAddress, `${host('external').ip}:${APP_PORT}`);
    assert.equal(out.result, 'ok');
  });

  it('ALLOW admits the listed principal and refuses another one (403, counted)', async () => {
    assert.equal(
      (await exchange(await dial(host('client').ns, host('vault').ip, APP_PORT), 'ok')).toString(),
      'ok',
    );
    await assert.rejects(talk(host('intruder').ns, host('vault').ip, APP_PORT, 'no'), {
      code: 'ECONNRESET',
    });
    const entry = await lastInbound('node-2', 'vault');
    assert.equal(entry.result, 'denied');
    assert.equal(entry.sourcePrincipal, idOf('intruder'));
    assert.match(
      agent('node-2').registry.render(),
      /waymesh_tcp_denied_total\{source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/intruder",destination_workload="shop\/vault",policy="authorizationpolicy\/shop\/vault-only-client"\} 1/,
    );
    const out = await until('the refused outbound entry', () =>
      agent('node-1').log.findLast((e) => e.sourceWorkload === 'shop/intruder'),
    );
    assert.equal(out.result, 'refused');
    assert.match(out.reason ?? '', /403/);
  });

  it('DENY resets the denied principal and lets others through', async () => {
    await assert.rejects(talk(host('client').ns, host('blocked').ip, APP_PORT, 'x'), {
      code: 'ECONNRESET',
    });
    assert.equal(
      (await exchange(await dial(host('intruder').ns, host('blocked').ip, APP_PORT), 'y')).toString(),
      'y',
    );
    assert.match(
      agent('node-2').registry.render(),
      /waymesh_tcp_denied_total\{[^}]*sa\/client",destination_workload="shop\/blocked",policy="authorizationpolicy\/shop\/deny-client"\} 1/,
    );
  });

  it('STRICT refuses a plaintext client outside the mesh but serves mesh clients', async () => {
    await assert.rejects(talk(host('outsider').ns, host('strict').ip, APP_PORT, 'p'), {
      code: 'ECONNRESET',
    });
    assert.match(
      agent('node-2').registry.render(),
      /waymesh_tcp_denied_total\{source_principal="unknown",destination_workload="shop\/strict",policy="mtls-strict"\} 1/,
    );
    assert.equal(
      (await exchange(await dial(host('client').ns, host('strict').ip, APP_PORT), 'm')).toString(),
      'm',
    );
    // A plaintext client of a PERMISSIVE pod without policies is served, through 15006.
    assert.match(await talk(host('outsider').ns, host('api').ip, APP_PORT, 'q'), /\nq$/);
  });

  it('refuses HBONE clients with a certificate from another CA, or an expired one', async () => {
    const mesh = agent('node-2').identities.bundle();
    assert.ok(mesh !== undefined);
    const other = inMemoryRootCa(TD);
    const past = new Date(Date.now() - 120_000);
    const stale = new CertificateAuthority(ca.material, { trustDomain: TD, now: () => past });
    const client = new HboneClient({ connectTimeoutMs: 3000 });
    try {
      for (const [label, issuer, ttl] of [
        ['other CA', other, 3600],
        ['expired', stale, 60],
      ] as const) {
        const key = generateKey();
        const issued = issuer.issue(createCsr(key, idOf('forger')), ttl);
        const open = client.open({
          via: { host: host('api').ip, port: 15008 },
          authority: `${host('api').ip}:${APP_PORT}`,
          tls: {
            key: privateKeyToPem(key),
            cert: issued.certChainPem.join(''),
            ca: mesh.toPem(),
            identityKey: label,
          },
          verifyServer: (s) => formatSpiffeId(verifyTlsPeer(s, mesh, 'server')),
          connect: () => dial(host('outsider').ns, host('api').ip, 15008, false),
        });
        await assert.rejects(open, (err: unknown) => {
          assert.ok(isMeshError(err), `${label}: ${String(err)}`);
          assert.match(
            err.code,
            /HBONE_(PEER_REJECTED|CONNECT_FAILED|STREAM_FAILED)/,
            `${label}: ${err.message}`,
          );
          return true;
        });
      }
    } finally {
      await client.close();
    }
  });

  it('keeps an established connection across certificate rotations', async () => {
    const server = agent('node-2').identities;
    const before = server.get(idOf('api'))?.serial;
    assert.ok(before !== undefined);
    const socket = await dial(host('client').ns, VIP, 80);
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    socket.write('one;');
    await until('the first echo', () =>
      Buffer.concat(received).toString().endsWith('one;') ? true : undefined,
    );
    await until(
      'a rotated api certificate',
      () => (server.get(idOf('api'))?.serial !== before ? true : undefined),
      8000,
    );
    await exchange(socket, 'two;');
    assert.match(Buffer.concat(received).toString(), /\none;two;$/);
    // New connections use the new certificate.
    assert.match((await exchange(await dial(host('client').ns, VIP, 80), 'three')).toString(), /three$/);
  });

  it('a pod released from capture talks plainly again', async () => {
    const client = pods.get('client') as CapturePod;
    assert.equal(await agent('node-1').capture.release(client.uid), true);
    const outboundBefore = agent('node-1').log.length;
    assert.equal(
      (await exchange(await dial(host('client').ns, host('api').ip, APP_PORT), 'plain'))
        .toString()
        .endsWith('plain'),
      true,
    );
    const entry = await lastInbound('node-2', 'api');
    assert.equal(entry.transport, 'plaintext');
    assert.equal(entry.sourcePrincipal, 'unknown');
    assert.equal(agent('node-1').log.length, outboundBefore);
  });
});
