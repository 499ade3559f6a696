/**
 * The controller program end to end against the lab API server, in process over HTTPS on
 * loopback: GatewayClass creation, waypoint provisioning, route status, config streams
 * authenticated by service-account tokens (node agent, waypoint, refused caller) and
 * certificate issuance from the cluster CA.
 */
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import yaml from 'js-yaml';

import * as grpc from '@grpc/grpc-js';

import { TrustBundle } from '../../certs/bundle.ts';
import { caFilesOf, generateRoot, type CaFiles } from '../../certs/index.ts';
import { CaClient } from '../../certs/client.ts';
import { createCsr } from '../../certs/csr.ts';
import { generateKey } from '../../certs/keys.ts';
import { inspectPem } from '../../certs/inspect.ts';
import { peerChainDer } from '../../certs/tls.ts';
import { verifyPeerChain } from '../../certs/verify.ts';
import { ConfigClient } from '../../common/config-client/client.ts';
import type { ProxyId } from '../../common/config-client/defs.ts';
import type { ProxySnapshot } from '../../common/ir/index.ts';
import { createLogger } from '../../common/log.ts';
import { formatSpiffeId } from '../../common/spiffe.ts';
import { startController, type Controller } from '../../controller/app.ts';
import { caFilesFromSecret, caSecret } from '../../controller/ca/secret-store.ts';
import { KubeRest, type JsonObject } from '../../controller/kube/rest.ts';

import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.ts';

const ADMIN = 'controller-app-admin';
const TD = 'cluster.local';
const GW = '/apis/gateway.networking.k8s.io/v1';

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('controller program (startController) against the lab API server', function () {
  this.timeout(60_000);
  const logLines: string[] = [];
  const logger = createLogger({ level: 'debug', sink: { write: (l) => logLines.push(l) } });
  let lab: TestApiServer | undefined;
  let rest: KubeRest;
  let controller: Controller | undefined;
  let bundle: TrustBundle;
  const clients: ConfigClient[] = [];

  const find = async (path: string): Promise<JsonObject | undefined> =>
    (await rest.find(path)) as JsonObject | undefined;
  const token = async (ns: string, sa: string, pod?: string): Promise<string> => {
    const res = await rest.post(`/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: pod === undefined ? {} : { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod } },
    });
    const t = (res['status'] as { token?: unknown } | undefined)?.token;
    assert.equal(typeof t, 'string');
    return t as string;
  };
  /** TLS to the controller, verifying its SPIFFE serving identity against the cluster CA. */
  const tls = (): grpc.ChannelCredentials =>
    grpc.credentials.createSsl(Buffer.from(bundle.toPem()), null, null, {
      checkServerIdentity: (_host, cert) => {
        const id = formatSpiffeId(verifyPeerChain(peerChainDer(cert), bundle, 'server'));
        return id === `spiffe://${TD}/ns/waymesh-system/sa/waymesh-controller`
          ? undefined
          : new Error(`unexpected controller identity ${id}`);
      },
    });
  const subscribe = (proxy: ProxyId, bearer: string): { client: ConfigClient; got: ProxySnapshot[] } => {
    const got: ProxySnapshot[] = [];
    const client = new ConfigClient({
      address: `127.0.0.1:${controller?.port ?? 0}`,
      credentials: tls(),
      proxy,
      token: bearer,
      logger,
      initialBackoffMs: 100,
      maxBackoffMs: 500,
      onSnapshot: (s) => {
        got.push(s);
      },
    });
    clients.push(client);
    client.start();
    return { client, got };
  };

  before(async () => {
    lab = await startTestApiServer({ name: 'controller-app', adminToken: ADMIN, policyCrds: true });
    const kc = lab.kubeConfig;
    rest = new KubeRest(kc);
    for (const name of ['waymesh-system', 'demo'])
      await rest.create('/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name,
          ...(name === 'demo' ? { labels: { 'waymesh.io/dataplane-mode': 'ambient' } } : {}),
        },
      });
    for (const [ns, name] of [
      ['waymesh-system', 'waymesh-node-agent'],
      ['demo', 'robot'],
    ] as const)
      await rest.create(`/api/v1/namespaces/${ns}/serviceaccounts`, {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name, namespace: ns },
      });
    await rest.create('/api/v1/namespaces/waymesh-system/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'agent-n1', namespace: 'waymesh-system' },
      spec: {
        nodeName: 'n1',
        serviceAccountName: 'waymesh-node-agent',
        containers: [{ name: 'agent', image: 'waymesh/node-agent' }],
      },
    });
    // This replica's own Pod, where it publishes its proxies' sync state.
    await rest.create('/api/v1/namespaces/waymesh-system/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'controller-0', namespace: 'waymesh-system' },
      spec: { containers: [{ name: 'controller', image: 'waymesh/controller' }] },
    });
    await rest.create('/api/v1/namespaces/demo/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'demo' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }] },
    });

    controller = await startController({
      kubeConfig: kc,
      trustDomain: TD,
      namespace: 'waymesh-system',
      listen: '127.0.0.1:0',
      identity: 'controller-0',
      waypoint: { image: 'waymesh/waypoint:test', replicas: 1, controllerAddress: 'controller:15012' },
      logger,
      debounceMs: 20,
      leaseDurationSeconds: 4,
      renewDeadlineSeconds: 3,
      retryPeriodSeconds: 1,
      resyncMs: 300,
      servingTtlSeconds: 4,
      proxyStatusIntervalMs: 100,
      caReloadMs: 200,
      ops: {
        admin: { host: '127.0.0.1', port: 0 },
        metrics: { host: '127.0.0.1', port: 0 },
        ready: { host: '127.0.0.1', port: 0 },
      },
    });
    const secret = await rest.get('/api/v1/namespaces/waymesh-system/secrets/waymesh-ca');
    const rootPem = Buffer.from((secret['data'] as Record<string, string>)['root-cert.pem'] ?? '', 'base64');
    bundle = TrustBundle.fromPem(TD, rootPem.toString('utf8'));
  });

  after(async () => {
    for (const c of clients.splice(0)) await c.stop({ deadlineMs: 1_000 });
    await controller?.stop({ deadlineMs: 1_000 });
    await lab?.close();
  });

  it('becomes leader and creates GatewayClass waymesh-waypoint with our controllerName', async () => {
    const gc = await waitFor('GatewayClass', () => find(`${GW}/gatewayclasses/waymesh-waypoint`));
    assert.equal(
      (gc['spec'] as { controllerName?: unknown }).controllerName,
      'waymesh.io/waypoint-controller',
    );
    const lease = await rest.get(
      '/apis/coordination.k8s.io/v1/namespaces/waymesh-system/leases/waymesh-controller',
    );
    assert.equal((lease['spec'] as { holderIdentity?: unknown }).holderIdentity, 'controller-0');
  });

  it("provisions a waypoint Gateway's ServiceAccount, Deployment and Service", async () => {
    const gw = (await rest.create(`${GW}/namespaces/demo/gateways`, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'wp', namespace: 'demo' },
      spec: {
        gatewayClassName: 'waymesh-waypoint',
        listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
      },
    })) as JsonObject;
    const uid = (gw['metadata'] as { uid?: string }).uid;
    for (const path of [
      '/api/v1/namespaces/demo/serviceaccounts/wp',
      '/apis/apps/v1/namespaces/demo/deployments/wp',
      '/api/v1/namespaces/demo/services/wp',
    ]) {
      const o = await waitFor(path, () => find(path));
      const owners = (o['metadata'] as { ownerReferences?: { uid?: string; kind?: string }[] })
        .ownerReferences;
      assert.deepEqual(
        owners?.map((r) => `${r.kind}/${r.uid}`),
        [`Gateway/${uid}`],
        `${path} is owned by the Gateway`,
      );
    }
    const dep = await rest.get('/apis/apps/v1/namespaces/demo/deployments/wp');
    assert.match(JSON.stringify(dep['spec']), /waymesh\/waypoint:test/);
  });

  it('publishes the CA root as ConfigMap waymesh-ca-root-cert where node agents and waypoints run', async () => {
    for (const ns of ['waymesh-system', 'demo']) {
      const cm = await waitFor(`root ConfigMap in ${ns}`, () =>
        find(`/api/v1/namespaces/${ns}/configmaps/waymesh-ca-root-cert`),
      );
      assert.equal((cm['data'] as Record<string, string>)['root-cert.pem'], bundle.toPem());
    }
    const dep = await rest.get('/apis/apps/v1/namespaces/demo/deployments/wp');
    assert.match(JSON.stringify(dep['spec']), /"WAYMESH_CA_ROOT".*"waymesh-ca-root-cert"/);
  });

  it('creates XMesh waymesh once the experimental CRD is installed, and leaves foreign XMeshes alone', async () => {
    const crd = yaml.load(
      readFileSync(join(import.meta.dirname, '..', 'fixtures', 'xmesh-crd.yaml'), 'utf8'),
    ) as JsonObject;
    await rest.create('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    const XM = '/apis/gateway.networking.x-k8s.io/v1alpha1/xmeshes';
    await waitFor('the XMesh API', async () => ((await rest.find(XM)) === undefined ? undefined : true));
    await rest.create(XM, {
      apiVersion: 'gateway.networking.x-k8s.io/v1alpha1',
      kind: 'XMesh',
      metadata: { name: 'other' },
      spec: { controllerName: 'example.com/other-mesh' },
    });
    type Mesh = {
      spec?: { controllerName?: string };
      status?: {
        conditions?: { type: string; status: string; reason: string }[];
        supportedFeatures?: { name: string }[];
      };
    };
    const mesh = await waitFor('XMesh waymesh with status', async () => {
      const m = (await find(`${XM}/waymesh`)) as Mesh | undefined;
      return m?.status?.supportedFeatures === undefined ? undefined : m;
    });
    assert.equal(mesh.spec?.controllerName, 'waymesh.io/mesh-controller');
    assert.deepEqual(
      mesh.status?.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`),
      ['Accepted=True/Accepted', 'Programmed=True/Programmed'],
    );
    const names = mesh.status?.supportedFeatures?.map((f) => f.name) ?? [];
    assert.deepEqual(names, [...names].sort(), 'supportedFeatures are sorted');
    assert.ok(names.includes('Mesh') && names.includes('MeshConsumerRoute'));
    const other = (await rest.get(`${XM}/other`)) as Mesh;
    assert.equal(other.status?.supportedFeatures, undefined, 'a foreign XMesh gets no status from us');
  });

  it('writes our entry into the status.parents of an HTTPRoute with a Service parent', async () => {
    await rest.create(`${GW}/namespaces/demo/httproutes`, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'r1', namespace: 'demo' },
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name: 'web', port: 80 }],
        rules: [{ backendRefs: [{ name: 'web', port: 80 }] }],
      },
    });
    const parent = await waitFor('route parent status', async () => {
      const route = await find(`${GW}/namespaces/demo/httproutes/r1`);
      const parents = (route?.['status'] as { parents?: JsonObject[] } | undefined)?.parents ?? [];
      return parents.find((p) => p['controllerName'] === 'waymesh.io/mesh-controller');
    });
    assert.deepEqual(parent['parentRef'], { group: '', kind: 'Service', name: 'web', port: 80 });
    const types = ((parent['conditions'] ?? []) as { type?: string }[]).map((c) => c.type);
    assert.ok(types.includes('Accepted'), `conditions: ${JSON.stringify(types)}`);
  });

  it("streams node n1's snapshot to the node agent authenticated by its pod-bound token", async () => {
    const { client, got } = subscribe(
      { kind: 'node', name: 'n1' },
      await token('waymesh-system', 'waymesh-node-agent', 'agent-n1'),
    );
    const snap = await waitFor('node snapshot', () => got[0]);
    assert.equal(snap.kind, 'node');
    assert.equal(snap.kind === 'node' ? snap.node : '', 'n1');
    await waitFor('ACK recorded', () =>
      controller !== undefined && client.state().version === snap.version ? true : undefined,
    );
    // The replica publishes the ACK on its own Pod for `waymesh status`.
    const report = await waitFor('proxy-status annotation', async () => {
      const pod = await rest.get('/api/v1/namespaces/waymesh-system/pods/controller-0');
      const text = (pod['metadata'] as { annotations?: Record<string, string> }).annotations?.[
        'waymesh.io/proxy-status'
      ];
      const r =
        text === undefined
          ? undefined
          : (JSON.parse(text) as { proxies: { kind: string; name: string; lastAcked?: string }[] });
      return r?.proxies.some((p) => p.kind === 'node' && p.name === 'n1' && p.lastAcked === snap.version)
        ? r
        : undefined;
    });
    assert.ok(report.proxies.length >= 1);
  });

  it('refuses the node agent subscribing as another node, and a token of an unrelated account', async () => {
    const agent = await token('waymesh-system', 'waymesh-node-agent', 'agent-n1');
    const other = subscribe({ kind: 'node', name: 'n2' }, agent);
    const robot = subscribe({ kind: 'node', name: 'n1' }, await token('demo', 'robot'));
    const e1 = await waitFor('n2 refused', () => other.client.state().lastError);
    const e2 = await waitFor('robot refused', () => robot.client.state().lastError);
    assert.match(e1, /may not subscribe as node\/n2/);
    assert.match(e2, /neither the node agent/);
    assert.equal(other.got.length + robot.got.length, 0);
  });

  it("streams a waypoint's snapshot to its own service account", async () => {
    const { got } = subscribe({ kind: 'waypoint', name: 'demo/wp' }, await token('demo', 'wp'));
    const snap = await waitFor('waypoint snapshot', () => got[0]);
    assert.equal(snap.kind, 'waypoint');
    assert.deepEqual(snap.kind === 'waypoint' ? snap.waypoint : undefined, { namespace: 'demo', name: 'wp' });
  });

  it('serves /ready, /healthz, /metrics (leader gauge, proxies by sync state) and /config_dump', async () => {
    const ports = controller?.opsPorts ?? {};
    const get = async (port: number | undefined, path: string): Promise<{ status: number; text: string }> => {
      const res = await fetch(`http://127.0.0.1:${String(port)}${path}`);
      return { status: res.status, text: await res.text() };
    };
    assert.equal((await get(ports['ready'], '/ready')).status, 200);
    assert.equal((await get(ports['admin'], '/healthz')).status, 200);
    const metrics = (await get(ports['metrics'], '/metrics')).text;
    assert.match(metrics, /^waymesh_controller_leader 1$/m);
    assert.match(metrics, /^waymesh_controller_proxies\{kind="node",sync="synced"\} [1-9]/m);
    assert.match(metrics, /^waymesh_controller_publishes_total [1-9]/m);
    const dump = JSON.parse((await get(ports['admin'], '/config_dump')).text) as {
      leading: boolean;
      proxies: { kind: string; name: string }[];
    };
    assert.equal(dump.leading, true);
    assert.ok(dump.proxies.some((p) => p.kind === 'node' && p.name === 'n1'));
  });

  it('renews its serving certificate on the running server (a 4 s one here, every 2 s)', async () => {
    const served = (): Promise<{ serial: string; validTo: string; san: string }> =>
      new Promise((resolve, reject) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port: controller?.port ?? 0,
          ALPNProtocols: ['h2'],
          rejectUnauthorized: false,
        });
        socket.once('secureConnect', () => {
          const cert = socket.getPeerCertificate();
          socket.destroy();
          resolve({ serial: cert.serialNumber, validTo: cert.valid_to, san: cert.subjectaltname ?? '' });
        });
        socket.once('error', reject);
      });
    const first = await served();
    assert.match(first.san, /URI:spiffe:\/\/cluster\.local\/ns\/waymesh-system\/sa\/waymesh-controller/);
    let next = first;
    for (let i = 0; i < 40 && next.serial === first.serial; i++) {
      await new Promise((r) => setTimeout(r, 200));
      next = await served();
    }
    assert.notEqual(
      next.serial,
      first.serial,
      `a new certificate within 8 s; ${logLines.filter((l) => l.includes('serving')).join('\n')}`,
    );
    assert.equal(next.san, first.san);
  });

  it('reloads its CA from Secret waymesh-cacerts without a restart: both roots, then the new signer; refuses a broken one', async () => {
    const agent = await token('waymesh-system', 'waymesh-node-agent', 'agent-n1');
    const agentId = `spiffe://${TD}/ns/waymesh-system/sa/waymesh-node-agent`;
    const secrets = '/api/v1/namespaces/waymesh-system/secrets';
    const current = caFilesFromSecret(await rest.get(`${secrets}/waymesh-ca`), 'waymesh-ca');
    const newRoot = generateRoot({ trustDomain: TD });
    const newFiles = caFilesOf({ key: newRoot.key, cert: newRoot.cert, chain: [newRoot.cert], roots: [] });
    const bothRoots = current.rootCertPem + newFiles.certChainPem;
    const both = TrustBundle.fromPem(TD, bothRoots);
    const write = async (files: CaFiles, create = false): Promise<void> => {
      const body = caSecret('waymesh-system', 'waymesh-cacerts', files);
      if (create) await rest.create(secrets, body);
      else await rest.call('PUT', `${secrets}/waymesh-cacerts`, body);
    };
    const issue = async (trusted: TrustBundle): Promise<string[]> => {
      const ca = new CaClient({
        address: `127.0.0.1:${controller?.port ?? 0}`,
        bundle: trusted,
        serverId: `spiffe://${TD}/ns/waymesh-system/sa/waymesh-controller`,
        token: () => agent,
        timeoutMs: 2_000,
      });
      try {
        return await ca.createCertificate(createCsr(generateKey(), agentId));
      } finally {
        ca.close();
      }
    };
    const rootConfigMap = async (): Promise<string> => {
      const cm = await find('/api/v1/namespaces/waymesh-system/configmaps/waymesh-ca-root-cert');
      return (cm?.['data'] as Record<string, string> | undefined)?.['root-cert.pem'] ?? '';
    };

    // Step 1: the same signer, both roots.
    await write({ ...current, rootCertPem: bothRoots }, true);
    await waitFor('both roots in the root ConfigMap', async () =>
      TrustBundle.fromPem(TD, await rootConfigMap()).roots.length === 2 ? true : undefined,
    );
    const stepOne = await issue(bundle);
    assert.equal(stepOne.length, 3, 'leaf, the old root, then the new root');
    assert.equal(TrustBundle.fromPem(TD, stepOne[2] ?? '').toPem(), newFiles.certChainPem);

    // Step 2: the new root signs; new handshakes get a serving certificate under it.
    await write({ ...newFiles, rootCertPem: bothRoots });
    const newOnly = TrustBundle.fromPem(TD, newFiles.certChainPem);
    const stepTwo = await waitFor('a certificate under the new root', async () => {
      const chain = await issue(both).catch(() => undefined);
      return chain?.[1] === newFiles.certChainPem ? chain : undefined;
    });
    assert.equal(stepTwo.length, 3, 'leaf, the new root, then the old root');
    // Only the new root is needed to verify the controller now.
    assert.equal((await issue(newOnly)).length, 3);

    // A broken Secret (the key of another certificate) is refused and issuance goes on.
    const before = logLines.length;
    await write({ ...newFiles, caKeyPem: current.caKeyPem, rootCertPem: bothRoots });
    await waitFor('the refusal in the log', () =>
      logLines.slice(before).some((l) => l.includes('CA Secret refused')) ? true : undefined,
    );
    const refusal = logLines.slice(before).find((l) => l.includes('CA Secret refused')) ?? '';
    assert.match(refusal, /CA_MATERIAL_INVALID/);
    assert.equal((await issue(newOnly))[1], newFiles.certChainPem);
    assert.equal(logLines.slice(before).filter((l) => l.includes('CA Secret refused')).length, 1, 'once');

    // Without the plug-in Secret the generated CA (waymesh-ca) signs again.
    await rest.delete(`${secrets}/waymesh-cacerts`);
    await waitFor('a certificate under the generated root again', async () => {
      const chain = await issue(bundle).catch(() => undefined);
      return chain?.[1] === current.rootCertPem ? chain : undefined;
    });
  });

  it("issues the node agent's own certificate from the cluster CA over TLS", async () => {
    const agent = await token('waymesh-system', 'waymesh-node-agent', 'agent-n1');
    const ca = new CaClient({
      address: `127.0.0.1:${controller?.port ?? 0}`,
      bundle,
      serverId: `spiffe://${TD}/ns/waymesh-system/sa/waymesh-controller`,
      token: () => agent,
    });
    try {
      const id = `spiffe://${TD}/ns/waymesh-system/sa/waymesh-node-agent`;
      const chain = await ca.createCertificate(createCsr(generateKey(), id));
      assert.equal(inspectPem(chain[0] ?? '', 'issued certificate')[0]?.spiffeId, id);
      await assert.rejects(
        ca.createCertificate(createCsr(generateKey(), `spiffe://${TD}/ns/demo/sa/robot`)),
        /must request .* on the pod's behalf/,
      );
    } finally {
      ca.close();
    }
  });
});
