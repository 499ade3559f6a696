/**
 * A root rotation as docs/certificates.md describes it, against the real CA gRPC service on
 * loopback: first the CA still signs under the old root while root-cert.pem holds both roots,
 * then a controller restarted with an intermediate under the new root serves and signs with it.
 * A node agent configured with the old root only learns the new one from the CA's answers, keeps
 * reaching the controller after the switch without a restart, and its workloads under either root
 * talk mutual TLS. The waypoint reads the CA's answer the same way. An agent with no certificate
 * to ask for, and a waypoint whose certificate predates the rotation, learn the new root from the
 * trust anchors the config stream carries.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { after, describe, it } from 'mocha';
import {
  CaClient,
  caFilesOf,
  caServerCredentials,
  CertificateAuthority,
  certToPem,
  createCsr,
  generateKey,
  generateRoot,
  issueLocalIdentity,
  loadCaMaterial,
  mtlsClientOptions,
  mtlsServerOptions,
  privateKeyToPem,
  startCaServer,
  StaticTokenAuthenticator,
  TrustBundle,
  verifyTlsPeer,
  type CaAuthorizer,
  type CaCaller,
  type CaServer,
  type Certificate,
} from '../../certs/index.ts';
import { isMeshError } from '../../common/errors.ts';
import { Registry } from '../../common/metrics/index.ts';
import { formatSpiffeId } from '../../common/spiffe.ts';
import type { NodeSnapshot } from '../../common/ir/index.ts';
import { buildSnapshots, type SnapshotSet } from '../../controller/snapshots/index.ts';
import { startConfigServer, type ConfigServer } from '../../controller/xds/server.ts';
import { caClientSource, IdentityManager, type WorkloadIdentity } from '../../node-agent/identity/index.ts';
import { controllerConfigSource, type ConfigSource } from '../../node-agent/program/config-source.ts';
import {
  caIdentity as waypointIdentity,
  certFromPem as waypointCert,
} from '../../waypoint/program/identity.ts';
import { signSubCa, type Signed } from '../helpers/pki.ts';

const TD = 'cluster.local';
const CONTROLLER = `spiffe://${TD}/ns/waymesh-system/sa/waymesh-controller`;
const WEB = `spiffe://${TD}/ns/shop/sa/web`;
const API = `spiffe://${TD}/ns/shop/sa/api`;
const WAYPOINT = `spiffe://${TD}/ns/shop/sa/waypoint`;
const AGENT: CaCaller = {
  name: 'system:serviceaccount:waymesh-system:node-agent',
  namespace: 'waymesh-system',
  serviceAccount: 'node-agent',
};
const allowAll: CaAuthorizer = { authorize: () => Promise.resolve({ allowed: true }) };

function authority(
  signer: Signed,
  chain: readonly Certificate[],
  roots: readonly Certificate[],
): CertificateAuthority {
  const material = loadCaMaterial(caFilesOf({ key: signer.key, cert: signer.cert, chain, roots }));
  return new CertificateAuthority(material, { trustDomain: TD });
}

/**
 * The PKI of a rotation: the old root, a new one (`waymesh certs init` run again: the same name,
 * another key), an intermediate under the new root, and both roots (root-cert.pem of step 1).
 */
function rotationPki(): { oldRoot: Signed; newRoot: Signed; newIntermediate: Signed; both: Certificate[] } {
  const oldRoot = generateRoot({ trustDomain: TD });
  const newRoot = generateRoot({ trustDomain: TD });
  return {
    oldRoot,
    newRoot,
    newIntermediate: signSubCa(newRoot, 'waymesh intermediate CA'),
    both: [oldRoot.cert, newRoot.cert],
  };
}

/** The roots of `bundle`, comparable. */
function rootsOf(bundle: TrustBundle | undefined): string[] {
  return (bundle?.roots ?? []).map((r) => r.der.toString('hex')).sort();
}

function hex(certs: readonly Certificate[]): string[] {
  return certs.map((c) => c.der.toString('hex')).sort();
}

/** node-a's snapshots with `workloads` workloads: a restarted controller with news sends a new one. */
function nodeSnapshots(workloads: number): SnapshotSet {
  return buildSnapshots({
    trustDomain: TD,
    workloads: Array.from({ length: workloads }, (_, i) => ({
      uid: `uid-web-${i}`,
      name: `web-${i}`,
      namespace: 'shop',
      node: 'node-a',
      ips: [`10.0.0.${i + 1}`],
      serviceAccount: 'web',
      identity: WEB,
      captured: true,
      labels: {},
      namedPorts: {},
    })),
    services: [],
    tables: [],
    authorization: [],
    rateLimits: [],
    nodes: ['node-a'],
    waypoints: [],
  });
}

/**
 * The controller's config stream under `ca` on `port`, publishing {@link nodeSnapshots}; with
 * `anchors`, every snapshot carries the CA's roots (as controller/app.ts sends them).
 */
async function configServer(
  ca: CertificateAuthority,
  port: number,
  workloads: number,
  anchors = false,
): Promise<ConfigServer> {
  const s = await startConfigServer({
    address: `127.0.0.1:${port}`,
    credentials: caServerCredentials(issueLocalIdentity(ca, CONTROLLER)),
    authenticate: () => Promise.resolve({ kind: 'node', name: 'node-a' }),
    ...(anchors ? { trustAnchors: () => ca.rootsPem() } : {}),
  });
  s.publish(nodeSnapshots(workloads));
  return s;
}

/**
 * Subscribes the source `source(port)` makes to a config stream under `before`, calls `onFirst`
 * once the first snapshot arrived, restarts the controller under `after` on the same port, and
 * waits until the source has the restarted controller's snapshot.
 */
async function acrossRestart(o: {
  readonly before: CertificateAuthority;
  readonly after: CertificateAuthority;
  readonly anchors: boolean;
  readonly source: (port: number) => ConfigSource;
  readonly onFirst: () => void;
}): Promise<void> {
  const first = await configServer(o.before, 0, 1, o.anchors);
  const source = o.source(first.port);
  const applied: NodeSnapshot[] = [];
  source.start((snap) => {
    applied.push(snap);
  });
  let second: ConfigServer | undefined;
  try {
    await until('the first snapshot', () => applied.length === 1);
    o.onFirst();
    await first.stop({ deadlineMs: 1000 });
    second = await configServer(o.after, first.port, 2, o.anchors);
    await until('the snapshot from the restarted controller', () => applied.length === 2, 15_000);
    assert.equal(source.status().connected, true);
  } finally {
    await source.stop({ deadlineMs: 1000 });
    await second?.stop({ deadlineMs: 1000 });
    await first.stop({ deadlineMs: 1000 });
  }
}

describe('root rotation without restarting the data plane', function () {
  this.timeout(30_000);
  const servers: CaServer[] = [];
  const clients: CaClient[] = [];
  const managers: IdentityManager[] = [];
  let tlsServer: Server | undefined;

  after(async () => {
    for (const m of managers) m.stop();
    for (const c of clients) c.close();
    if (tlsServer !== undefined) {
      tlsServer.close();
      await once(tlsServer, 'close');
    }
    for (const s of servers) await s.stop({ deadlineMs: 1000 });
  });

  /** The controller's CA service with `ca`, serving a certificate `ca` issued (as on restart). */
  async function controller(ca: CertificateAuthority, port: number): Promise<CaServer> {
    const server = await startCaServer({
      ca,
      authenticator: new StaticTokenAuthenticator(new Map([['agent-token', AGENT]])),
      authorizer: allowAll,
      identity: issueLocalIdentity(ca, CONTROLLER),
      address: `127.0.0.1:${port}`,
    });
    servers.push(server);
    return server;
  }

  /** An agent with no pod (so no certificate to ask for), configured with `roots`. */
  function certificatelessAgent(roots: TrustBundle): IdentityManager {
    const m = new IdentityManager({
      trustDomain: TD,
      source: { sign: () => Promise.reject(new Error('unused')) },
      registry: new Registry(),
    });
    managers.push(m);
    m.updateRoots([roots.toPem()]);
    return m;
  }

  /** A CA client, trusting `bundle`, of a new controller with `ca` (its CA service only). */
  async function caClientOf(ca: CertificateAuthority, bundle: TrustBundle): Promise<CaClient> {
    const server = await controller(ca, 0);
    const client = new CaClient({
      address: `127.0.0.1:${server.port}`,
      bundle,
      serverId: CONTROLLER,
      token: () => 'agent-token',
      timeoutMs: 3000,
    });
    clients.push(client);
    return client;
  }

  /** One mutual TLS exchange: `server` answers, `client` connects; returns what each saw of the other. */
  async function mtls(server: WorkloadIdentity, client: WorkloadIdentity): Promise<string[]> {
    const peers: string[] = [];
    tlsServer = createServer(mtlsServerOptions(server, ['waymesh-test']));
    tlsServer.on('secureConnection', (s: TLSSocket) => {
      peers.push(formatSpiffeId(verifyTlsPeer(s, server.bundle, 'client')));
      s.end('hello');
    });
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    const socket = connect({
      ...mtlsClientOptions(client, (id) => formatSpiffeId(id) === server.spiffeId, ['waymesh-test']),
      host: '127.0.0.1',
      port: (tlsServer.address() as AddressInfo).port,
      servername: 'waymesh',
    });
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    await once(socket, 'end');
    socket.destroy();
    tlsServer.close();
    await once(tlsServer, 'close');
    tlsServer = undefined;
    assert.equal(received, 'hello');
    return peers;
  }

  it('the agent learns the new root from the CA, follows the controller onto it, and both roots interoperate', async () => {
    const { oldRoot, newRoot, newIntermediate, both } = rotationPki();

    // Step 1: root-cert.pem holds both roots; the old root still signs.
    const stepOne = authority(oldRoot, [oldRoot.cert], both);
    assert.deepEqual(stepOne.otherAnchorsPem(), [certToPem(newRoot.cert.der)]);
    const first = await controller(stepOne, 0);
    const port = first.port;

    // The agent was configured (WAYMESH_CA_ROOT) before the rotation began: the old root only.
    // Its CA client trusts whatever the agent's bundle is when it connects (node-agent/main.ts).
    const managed: { m?: IdentityManager } = {};
    const configured = new TrustBundle(TD, [oldRoot.cert]);
    const client = new CaClient({
      address: `127.0.0.1:${port}`,
      bundle: () => managed.m?.bundle() ?? configured,
      serverId: CONTROLLER,
      token: () => 'agent-token',
      timeoutMs: 3000,
    });
    clients.push(client);
    const m = new IdentityManager({
      trustDomain: TD,
      source: caClientSource(client),
      registry: new Registry(),
    });
    managers.push(m);
    managed.m = m;
    m.updateRoots([configured.toPem()]);
    assert.deepEqual(rootsOf(m.bundle()), hex([oldRoot.cert]));

    const web = await m.wait(WEB, 10_000);
    assert.deepEqual(rootsOf(m.bundle()), hex(both), 'the bundle gained the new root from the answer');
    assert.equal(web.certChainPem.length, 1, 'roots are trust anchors, not part of the presented chain');
    // What /config_dump shows an operator waiting for every agent to trust the new root.
    assert.deepEqual(
      (m.bundle()?.describe() ?? []).map((r) => r.sha256).sort(),
      both.map((c) => new X509Certificate(c.der).fingerprint256).sort(),
    );

    // The waypoint reads such an answer the same way: both roots in its bundle, none served.
    const wpKey = generateKey();
    const answer = await client.createCertificate(createCsr(wpKey, WAYPOINT));
    assert.equal(answer.length, 3, 'leaf, the chain up to its root, then the other root');
    const wp = waypointCert(WAYPOINT, privateKeyToPem(wpKey), answer, configured);
    assert.equal(wp.certChainPem.length, 1);
    assert.deepEqual(rootsOf(wp.bundle), hex(both));

    // Step 2: the controller restarts with an intermediate under the new root; it serves a
    // certificate under the new root too, which the agent's first configuration does not trust.
    await first.stop({ deadlineMs: 1000 });
    const stepTwo = authority(newIntermediate, [newIntermediate.cert, newRoot.cert], both);
    await controller(stepTwo, port);
    const api = await m.wait(API, 10_000);
    assert.equal(api.certChainPem.length, 2, 'leaf and the new intermediate');
    assert.deepEqual(rootsOf(m.bundle()), hex(both));

    // A workload still on its step-1 certificate (old root) and one already on the new root.
    const webNow = m.get(WEB) ?? assert.fail('web lost its certificate');
    const apiNow = m.get(API) ?? assert.fail('api lost its certificate');
    assert.deepEqual(await mtls(webNow, apiNow), [API]);
    assert.deepEqual(await mtls(apiNow, webNow), [WEB]);
  });

  it('the config stream reconnects to a controller under the new root once the bundle has it', async () => {
    const { oldRoot, newRoot, newIntermediate, both } = rotationPki();
    let bundle = new TrustBundle(TD, [oldRoot.cert]);
    await acrossRestart({
      before: authority(oldRoot, [oldRoot.cert], both),
      after: authority(newIntermediate, [newIntermediate.cert, newRoot.cert], both),
      anchors: false,
      source: (port) =>
        controllerConfigSource({
          address: `127.0.0.1:${port}`,
          node: 'node-a',
          bundle: () => bundle,
          serverId: CONTROLLER,
          token: () => Promise.resolve('agent-token'),
        }),
      // The agent's bundle learned the new root (from a certificate answer, as above), then the
      // controller restarted under the new root.
      onFirst: () => (bundle = new TrustBundle(TD, both)),
    });
  });

  it('with no certificate to ask for, the agent and the waypoint learn the new root from the config stream', async () => {
    const { oldRoot, newRoot, newIntermediate, both } = rotationPki();
    const stepOne = authority(oldRoot, [oldRoot.cert], both);
    // An agent configured with the old root and no pod (no certificate), wired as node-agent/main.ts.
    const configured = new TrustBundle(TD, [oldRoot.cert]);
    const m = certificatelessAgent(configured);
    await acrossRestart({
      before: stepOne,
      after: authority(newIntermediate, [newIntermediate.cert, newRoot.cert], both),
      anchors: true,
      source: (port) =>
        controllerConfigSource({
          address: `127.0.0.1:${port}`,
          node: 'node-a',
          bundle: () => m.bundle() ?? configured,
          serverId: CONTROLLER,
          token: () => Promise.resolve('agent-token'),
          onTrustAnchors: (pem) => m.updateRoots([pem]),
        }),
      // Step 2 and a controller restart follow: the agent reaches the controller with the
      // bundle the stream gave it.
      onFirst: () =>
        assert.deepEqual(
          rootsOf(m.bundle()),
          hex(both),
          'the agent trusts the new root with its first snapshot',
        ),
    });

    // The waypoint got its certificate before step 1 (the CA sent no other root along). It keeps
    // the certificate; its bundle gains the new root at once, and its listeners (the HBONE
    // server's TLS) are told.
    const caClient = await caClientOf(authority(oldRoot, [oldRoot.cert], [oldRoot.cert]), configured);
    const identity = waypointIdentity(WAYPOINT, caClient, configured);
    try {
      const cert = await identity.start();
      const updates: string[][] = [];
      identity.onUpdate((c) => updates.push(rootsOf(c.bundle)));
      identity.trustAnchors(certToPem(newRoot.cert.der));
      assert.deepEqual(rootsOf(identity.current()?.bundle), hex(both));
      assert.deepEqual(updates, [hex(both)]);
      assert.equal(identity.current()?.serial, cert.serial, 'the same certificate, a larger bundle');
      assert.throws(() => identity.trustAnchors('not a certificate'), /certificate/i);
      assert.deepEqual(rootsOf(identity.current()?.bundle), hex(both), 'a refused value changes nothing');
    } finally {
      identity.stop();
    }
  });

  it('step 3: anchors without the old root take it from the proxies configured with it, with no restart', async () => {
    const { oldRoot, newRoot, newIntermediate } = rotationPki();
    // Both proxies started before the rotation: WAYMESH_CA_ROOT holds the old root only.
    const configured = new TrustBundle(TD, [oldRoot.cert]);
    const newOnly = certToPem(newRoot.cert.der);
    const bothPem = [configured.toPem(), newOnly].join('');

    // An agent, wired as node-agent/main.ts: the stream's anchors replace the configured root.
    const m = certificatelessAgent(configured);
    m.updateRoots([bothPem]);
    assert.deepEqual(rootsOf(m.bundle()), hex([oldRoot.cert, newRoot.cert]), 'step 1');
    m.updateRoots([newOnly]);
    assert.deepEqual(rootsOf(m.bundle()), hex([newRoot.cert]), 'step 3');

    // A waypoint whose certificate was refreshed under the new root after step 3 (the answer
    // carries the new root only). Its configured old root goes as soon as anchors arrive.
    const caClient = await caClientOf(
      authority(newIntermediate, [newIntermediate.cert, newRoot.cert], [newRoot.cert]),
      new TrustBundle(TD, [newRoot.cert]),
    );
    const identity = waypointIdentity(WAYPOINT, caClient, configured);
    try {
      const cert = await identity.start();
      assert.deepEqual(rootsOf(cert.bundle), hex([oldRoot.cert, newRoot.cert]), 'configured + answer');
      identity.trustAnchors(bothPem);
      assert.deepEqual(rootsOf(identity.current()?.bundle), hex([oldRoot.cert, newRoot.cert]));
      const updates: string[][] = [];
      identity.onUpdate((c) => updates.push(rootsOf(c.bundle)));
      identity.trustAnchors(newOnly);
      assert.deepEqual(rootsOf(identity.current()?.bundle), hex([newRoot.cert]), 'the old root is gone');
      assert.deepEqual(updates, [hex([newRoot.cert])], 'the listeners (HBONE server TLS) are told');
      assert.equal(identity.current()?.serial, cert.serial, 'the same certificate');
    } finally {
      identity.stop();
    }
  });

  it('without the learned root, the restarted controller is refused (what the agent avoided above)', async () => {
    const { oldRoot, newRoot, newIntermediate } = rotationPki();
    const client = await caClientOf(
      authority(newIntermediate, [newIntermediate.cert, newRoot.cert], [oldRoot.cert, newRoot.cert]),
      new TrustBundle(TD, [oldRoot.cert]),
    );
    await assert.rejects(client.createCertificate(createCsr(generateKey(), WEB)), (err: unknown) => {
      assert.ok(isMeshError(err, 'CA_UNAVAILABLE') || isMeshError(err, 'CA_DEADLINE_EXCEEDED'), String(err));
      return true;
    });
  });
});

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
