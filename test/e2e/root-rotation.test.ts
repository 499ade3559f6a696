/**
 * A root rotation in the lab, as docs/certificates.md tells an operator to do it, with kubectl
 * and `waymesh certs init` only: no node agent, waypoint or pod is restarted. Step 1 adds the new
 * root next to the old one; every node agent and waypoint learns it from the config stream, with
 * no new certificate. Step 2 makes the new root sign; the controllers are then restarted (as an
 * upgrade would), so every agent and waypoint has to verify a controller serving under the new
 * root to get its config and certificates back. A pod started afterwards gets a certificate under
 * the new root and talks mutual TLS, through the waypoint, with pods still holding certificates
 * under the old root.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'mocha';

import { certsFromPem, parseCertificate } from '../../certs/index.ts';
import {
  apply,
  createWaypoint,
  curl,
  echoDeployment,
  echoFacts,
  eventually,
  getJson,
  installMesh,
  podIps,
  rootCertPem,
  service,
  WAYPOINT_PODS,
} from '../helpers/journey.ts';
import { useLab, WAYMESH } from '../helpers/lab.ts';

const run = promisify(execFile);

/**
 * The kubectl blocks of docs/certificates.md, "Rotating the root", by step: each starts with a
 * `# step N` line. The test runs them as they are written.
 */
function docSteps(): Map<string, string> {
  const text = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'certificates.md'), 'utf8');
  const section = text.slice(text.indexOf('## Rotating the root'));
  const steps = new Map<string, string>();
  for (const m of section.matchAll(/```sh\n(# step (\d)[^\n]*\n[\s\S]*?)```/g))
    steps.set(m[2] ?? '', m[1] ?? '');
  assert.deepEqual([...steps.keys()], ['1', '2', '3'], 'docs/certificates.md has the three steps');
  return steps;
}

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string };
  status?: { podIP?: string };
}

/** A node agent or waypoint replica, with readers of its `/config_dump`. */
interface Proxy {
  readonly name: string;
  stream(): Promise<StreamState>;
  roots(): Promise<{ subjectKeyId: string | null }[]>;
}

/** What a proxy's `/config_dump` says about its config stream. */
interface StreamState {
  connected?: boolean;
  reconnects?: number;
}

interface AgentDump {
  config: StreamState;
  trustBundle: { sha256: string; subjectKeyId: string | null }[];
  identities: { spiffeId: string; state: string; issuerKeyId: string | null }[];
}

interface WaypointDump {
  identity: { trustBundle: { subjectKeyId: string | null }[] } | null;
  source: StreamState;
}

const APP = `apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { waymesh.io/dataplane-mode: ambient } }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: echo, namespace: shop }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: client, namespace: shop }
---
${echoDeployment('echo', 'app: echo', '"--http-port", "8080"')}---
${service('echo', 'app: echo', 80, 'http')}---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: shop }
spec:
  serviceAccountName: client
  containers: [{ name: client, image: waymesh/client:latest }]
`;

/** A client pod with its own service account (a new identity) on `node`. */
function probePod(name: string, node: string): string {
  return `apiVersion: v1
kind: ServiceAccount
metadata: { name: ${name}, namespace: shop }
---
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: shop }
spec:
  nodeName: ${node}
  serviceAccountName: ${name}
  containers: [{ name: client, image: waymesh/client:latest }]
`;
}

/** Prints the DER (base64) of the certificate a TLS server at argv[1]:15012 presents. */
const SERVED_CERT = `const tls = require('node:tls');
const s = tls.connect({ host: process.argv[1], port: 15012, rejectUnauthorized: false, ALPNProtocols: ['h2'], servername: 'waymesh-controller' }, () => {
  process.stdout.write(s.getPeerCertificate().raw.toString('base64'));
  s.destroy();
});
s.on('error', (e) => { console.error(e.message); process.exit(1); });`;

function keyIdOf(pem: string): string {
  const [cert] = certsFromPem(pem, 'root');
  const id = cert?.subjectKeyId?.toString('hex');
  assert.ok(id !== undefined, 'the root has a subject key identifier');
  return id;
}

describe('root rotation in the lab without restarts (e2e, kubectl)', function () {
  this.timeout(300_000);
  const lab = useLab('rr');
  const work = mkdtempSync(join(tmpdir(), 'wm-rr-'));
  const steps = docSteps();
  /** The old and the new root's subject key ids (read from the files step 1 writes). */
  let oldRoot = '';
  let newRoot = '';
  let nodes: string[] = [];

  const agents = async (): Promise<Pod[]> =>
    (
      await getJson<{ items: Pod[] }>(
        lab,
        '-n',
        'waymesh-system',
        'pods',
        '-l',
        'app.kubernetes.io/name=waymesh-node-agent',
      )
    ).items;
  const dumpOf = async (agent: Pod): Promise<AgentDump> =>
    JSON.parse(
      await lab.exec(
        `waymesh-system/${agent.metadata.name}`,
        'curl',
        '-sf',
        'http://127.0.0.1:15000/config_dump',
      ),
    ) as AgentDump;
  const waypoints = async (): Promise<string[]> =>
    (await getJson<{ items: Pod[] }>(lab, '-n', 'shop', 'pods', '-l', WAYPOINT_PODS)).items.map(
      (p) => p.metadata.name,
    );
  const waypointDump = async (pod: string): Promise<WaypointDump> =>
    JSON.parse(
      await lab.exec(`shop/${pod}`, 'curl', '-sf', 'http://127.0.0.1:15000/config_dump'),
    ) as WaypointDump;
  /** Every node agent and waypoint pod, with a reader of its config stream's state. */
  const proxies = async (): Promise<Proxy[]> => [
    ...(await agents()).map((a) => ({
      name: a.metadata.name,
      stream: async () => (await dumpOf(a)).config,
      roots: async () => (await dumpOf(a)).trustBundle,
    })),
    ...(await waypoints()).map((pod) => ({
      name: `waypoint ${pod}`,
      stream: async () => (await waypointDump(pod)).source,
      roots: async () => (await waypointDump(pod)).identity?.trustBundle ?? [],
    })),
  ];
  /** The serving certificate of every controller replica: its serial and issuer key id. */
  const served = async (): Promise<{ serial: string; issuer: string }[]> => {
    const ips = await podIps(lab, 'waymesh-system', 'app.kubernetes.io/name=waymesh-controller');
    const out: { serial: string; issuer: string }[] = [];
    for (const ip of ips) {
      const der = await lab.exec('shop/client', process.execPath, '-e', SERVED_CERT, ip);
      const cert = parseCertificate(Buffer.from(der, 'base64'));
      out.push({ serial: cert.serialHex, issuer: cert.authorityKeyId?.toString('hex') ?? '' });
    }
    return out;
  };
  /** Runs step `n` of the docs (in `work`, as an operator's shell) and waits until every replica renewed its serving certificate. */
  const reloadWith = async (n: string): Promise<{ serial: string; issuer: string }[]> => {
    const before = new Set((await served()).map((c) => c.serial));
    await run('bash', ['-euo', 'pipefail', '-c', steps.get(n) ?? ''], {
      cwd: work,
      env: {
        ...process.env,
        KUBECONFIG: lab.kubeconfig,
        PATH: `${join(work, 'bin')}:${process.env['PATH'] ?? ''}`,
      },
      timeout: 60_000,
    });
    return eventually(
      'every controller replica reloading its CA',
      async () => {
        const now = await served();
        return now.every((c) => !before.has(c.serial)) ? now : undefined;
      },
      90_000,
    );
  };
  const rootsInConfigMap = async (): Promise<number> =>
    certsFromPem(await rootCertPem(lab), 'ConfigMap').length;
  /** SPIFFE id → issuer key id of every identity the node agents hold. */
  const issuers = async (): Promise<Map<string, string | null>> => {
    const out = new Map<string, string | null>();
    for (const agent of await agents())
      for (const i of (await dumpOf(agent)).identities) out.set(i.spiffeId, i.issuerKeyId);
    return out;
  };
  /** Starts a probe pod per node and waits until each is Ready. */
  const probes = async (prefix: string): Promise<string[]> => {
    const names = nodes.map((_, i) => `${prefix}-${i}`);
    apply(lab, nodes.map((n, i) => probePod(names[i] ?? '', n)).join('---\n'));
    for (const name of names)
      await lab.kubectl('-n', 'shop', 'wait', '--for=condition=Ready', `pod/${name}`, '--timeout=90s');
    return names;
  };
  /** Calls echo from `pod` through the mesh (echo sees an agent, not the pod). */
  const callEcho = async (pod: string): Promise<void> => {
    const ip = (await getJson<Pod>(lab, '-n', 'shop', 'pod', pod)).status?.podIP ?? '';
    const facts = await eventually(`echo from ${pod} through the mesh`, async () => {
      const f = echoFacts(await curl(lab, `shop/${pod}`, 'http://echo/'));
      return f.remoteAddr.split(':')[0] === ip ? undefined : f;
    });
    assert.match(facts.pod, /^echo-/);
  };

  before(async function () {
    this.timeout(240_000);
    await installMesh(lab);
    apply(lab, APP);
    await lab.kubectl('-n', 'shop', 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=90s');
    // Calls to echo go through a waypoint, whose own certificate is renewed only at half life.
    await createWaypoint(lab, ['echo']);
    await lab.kubectl(
      '-n',
      'shop',
      'wait',
      '--for=condition=Ready',
      'pod',
      '-l',
      WAYPOINT_PODS,
      '--timeout=90s',
    );
    nodes = (await lab.kubectl('get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'))
      .trim()
      .split(/\s+/);
    // `waymesh` on the operator's PATH.
    mkdirSync(join(work, 'bin'));
    writeFileSync(join(work, 'bin', 'waymesh'), `#!/bin/sh\nexec "${process.execPath}" "${WAYMESH}" "$@"\n`);
    chmodSync(join(work, 'bin', 'waymesh'), 0o755);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('step 1: with both roots in the Secret, every node agent and waypoint learns the new root from the config stream', async () => {
    await callEcho('client');
    const renewed = await reloadWith('1');
    oldRoot = keyIdOf(readFileSync(join(work, 'old-root-cert.pem'), 'utf8'));
    newRoot = keyIdOf(readFileSync(join(work, 'new-ca', 'root-cert.pem'), 'utf8'));
    assert.notEqual(oldRoot, newRoot);
    assert.deepEqual([...new Set(renewed.map((c) => c.issuer))], [oldRoot], 'the old root still signs');
    await eventually('both roots in ConfigMap waymesh-ca-root-cert', async () =>
      (await rootsInConfigMap()) === 2 ? true : undefined,
    );
    // No new identity anywhere: the roots come with the snapshots.
    const all = await proxies();
    assert.ok((await waypoints()).length > 0, 'the waypoint has replicas');
    for (const p of all) {
      const roots = await eventually(`${p.name} trusting both roots`, async () => {
        const bundle = await p.roots();
        return bundle.length === 2 ? bundle : undefined;
      });
      assert.ok(roots.some((r) => r.subjectKeyId === newRoot));
    }
    // Pods whose certificates stay under the old root through step 2.
    await probes('before');
  });

  it('step 2: the new root signs; after a controller restart the agents reconnect, and new pods get certificates under it and talk to pods under the old root', async () => {
    const renewed = await reloadWith('2');
    assert.deepEqual(
      [...new Set(renewed.map((c) => c.issuer))],
      [newRoot],
      'the controllers serve under the new root',
    );
    // Connections made before the switch stay up; a restart of the controllers (an upgrade, a
    // node drained) makes every agent connect again and verify the controller under the new root.
    const before = new Map<string, number>();
    for (const p of await proxies()) before.set(p.name, (await p.stream()).reconnects ?? 0);
    await lab.kubectl('-n', 'waymesh-system', 'rollout', 'restart', 'deployment/waymesh-controller');
    await lab.kubectl(
      '-n',
      'waymesh-system',
      'rollout',
      'status',
      'deployment/waymesh-controller',
      '--timeout=120s',
    );
    for (const p of await proxies()) {
      const was = before.get(p.name) ?? 0;
      await eventually(
        `${p.name} subscribed to a restarted controller`,
        async () => {
          const c = await p.stream();
          return c.connected === true && (c.reconnects ?? 0) > was ? true : undefined;
        },
        90_000,
      );
    }
    const names = await probes('after');
    for (const name of names) {
      const id = `spiffe://cluster.local/ns/shop/sa/${name}`;
      await eventually(`${id} under the new root`, async () =>
        (await issuers()).get(id) === newRoot ? true : undefined,
      );
    }
    assert.equal((await issuers()).get('spiffe://cluster.local/ns/shop/sa/echo'), oldRoot);
    // New root → old root, and old root → old root, through the agents and the waypoint.
    for (const name of names) await callEcho(name);
    await callEcho('client');
    await callEcho('before-0');
  });

  it('step 3: without the old root in the Secret, pods under either root still talk', async () => {
    const renewed = await reloadWith('3');
    assert.deepEqual([...new Set(renewed.map((c) => c.issuer))], [newRoot]);
    await eventually('only the new root in ConfigMap waymesh-ca-root-cert', async () =>
      (await rootsInConfigMap()) === 1 ? true : undefined,
    );
    await callEcho('client');
    await callEcho('after-0');
  });
});
