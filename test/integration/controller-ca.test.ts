/**
 * The controller's CA hosting against the lab API server run in-process over HTTPS on loopback:
 * the root kept in a Secret (created once, reloaded, raced by two replicas, plugged in by the
 * user), TokenReview authentication of pod-bound tokens, and a full gRPC round trip where a node
 * agent obtains a certificate for a pod on its node and is refused one for a pod elsewhere.
 */
import assert from 'node:assert/strict';

import type { V1Pod, V1ServiceAccount } from '@kubernetes/client-node';
import {
  CaClient,
  certFromPem,
  certToPem,
  createCsr,
  generateKey,
  generateRoot,
  issueLocalIdentity,
  privateKeyToPem,
  startCaServer,
  TrustBundle,
  type CertificateAuthority,
} from '../../certs/index.ts';
import { isMeshError } from '../../common/errors.ts';
import { createLogger } from '../../common/log.ts';
import { TokenReviewAuthenticator } from '../../controller/ca/authn.ts';
import { MeshAuthorizer } from '../../controller/ca/authz.ts';
import { WorldCaLookup } from '../../controller/ca/lookup.ts';
import { isKubeStatus, KubeRest, type JsonObject } from '../../controller/kube/rest.ts';
import { caSecret, loadOrCreateClusterCa, SecretCaStore } from '../../controller/ca/secret-store.ts';
import type { World } from '../../controller/translate/world.ts';

import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.ts';
import { signSubCa } from '../helpers/pki.ts';

const ADMIN = 'test-admin-token';
const TD = 'cluster.local';
const spiffe = (ns: string, sa: string): string => `spiffe://${TD}/ns/${ns}/sa/${sa}`;

describe('controller CA hosting against the lab API server', function () {
  this.timeout(30_000);
  let lab: TestApiServer | undefined;
  let admin: KubeRest;
  let ca: CertificateAuthority | undefined;

  const client = (token: string): KubeRest => {
    assert.ok(lab !== undefined, 'the API server is running');
    return new KubeRest({ server: lab.url, token: () => token, caPem: lab.caPem });
  };
  const create = (path: string, body: JsonObject): Promise<JsonObject> => admin.post(path, body);
  const namespace = (name: string): Promise<JsonObject> =>
    create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const serviceAccount = (ns: string, name: string): Promise<JsonObject> =>
    create(`/api/v1/namespaces/${ns}/serviceaccounts`, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace: ns },
    });
  const pod = (ns: string, name: string, sa: string, node: string): Promise<JsonObject> =>
    create(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns },
      spec: { nodeName: node, serviceAccountName: sa, containers: [{ name: 'app', image: 'waymesh/echo' }] },
    });
  const podToken = async (ns: string, sa: string, podName: string): Promise<string> => {
    const res = await create(`/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: podName } },
    });
    const token = (res['status'] as { token?: unknown } | undefined)?.token;
    assert.equal(typeof token, 'string');
    return token as string;
  };
  const list = async <T>(path: string): Promise<T[]> => {
    const res = await admin.get(path);
    return (res['items'] ?? []) as T[];
  };

  before(async () => {
    lab = await startTestApiServer({ name: 'controller-ca', adminToken: ADMIN, gatewayApi: false });
    admin = client(ADMIN);
    for (const ns of ['waymesh-system', 'shop', 'ca-race', 'ca-plug']) await namespace(ns);
    await serviceAccount('waymesh-system', 'waymesh-node-agent');
    await serviceAccount('shop', 'cart');
    await serviceAccount('shop', 'ledger');
    await pod('waymesh-system', 'agent-node-1', 'waymesh-node-agent', 'node-1');
    await pod('shop', 'cart-1', 'cart', 'node-1');
    await pod('shop', 'ledger-1', 'ledger', 'node-2');
  });

  after(async () => {
    await lab?.close();
  });

  it('creates the root once in Secret waymesh-system/waymesh-ca and reloads it in a second store', async () => {
    const first = await loadOrCreateClusterCa({
      store: new SecretCaStore({ client: admin }),
      trustDomain: TD,
    });
    const secret = await admin.get('/api/v1/namespaces/waymesh-system/secrets/waymesh-ca');
    assert.equal(secret['type'], 'Opaque');
    assert.deepEqual(Object.keys(secret['data'] as object).sort(), [
      'ca-cert.pem',
      'ca-key.pem',
      'cert-chain.pem',
      'root-cert.pem',
    ]);
    const rv = (secret['metadata'] as { resourceVersion?: string }).resourceVersion;
    const second = await loadOrCreateClusterCa({
      store: new SecretCaStore({ client: admin }),
      trustDomain: TD,
    });
    assert.equal(second.rootsPem(), first.rootsPem());
    assert.equal(second.material.pluggedIn, false);
    const again = await admin.get('/api/v1/namespaces/waymesh-system/secrets/waymesh-ca');
    assert.equal(
      (again['metadata'] as { resourceVersion?: string }).resourceVersion,
      rv,
      'Secret was rewritten',
    );
    ca = first;
  });

  it('makes two stores creating at the same time converge on one root', async () => {
    // Both replicas must see "no Secret yet" before either creates it: their first loads meet at a barrier.
    let arrived = 0;
    let release: () => void = () => undefined;
    const barrier = new Promise<void>((resolve) => (release = resolve));
    class RacingStore extends SecretCaStore {
      #first = true;
      override async load(): ReturnType<SecretCaStore['load']> {
        const files = await super.load();
        if (this.#first) {
          this.#first = false;
          if (++arrived === 2) release();
          await barrier;
        }
        return files;
      }
    }
    const store = (): SecretCaStore => new SecretCaStore({ client: admin, namespace: 'ca-race' });
    const racer = (): SecretCaStore => new RacingStore({ client: admin, namespace: 'ca-race' });
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', sink: { write: (line) => lines.push(line) } });
    const [a, b] = await Promise.all([
      loadOrCreateClusterCa({ store: racer(), trustDomain: TD, logger }),
      loadOrCreateClusterCa({ store: racer(), trustDomain: TD, logger }),
    ]);
    assert.equal(a.rootsPem(), b.rootsPem());
    // Both generated a root and raced to create the Secret: exactly one lost and loaded the winner's.
    assert.equal(
      lines.filter((l) => l.includes('generated a new self-signed root CA')).length,
      1,
      lines.join('\n'),
    );
    assert.equal(lines.filter((l) => l.includes('another replica created the CA root first')).length, 1);
    const stored = await store().load();
    assert.equal(stored?.rootCertPem, a.rootsPem());
  });

  it('refuses to overwrite an existing CA Secret', async () => {
    const files = await new SecretCaStore({ client: admin, namespace: 'ca-race' }).load();
    assert.ok(files !== undefined);
    await assert.rejects(
      new SecretCaStore({ client: admin, namespace: 'ca-race' }).save(files),
      (err: unknown) => isMeshError(err, 'CA_STORE_RACE'),
    );
  });

  it('uses a plugged-in intermediate from Secret waymesh-cacerts and never writes waymesh-ca', async () => {
    const root = generateRoot({ trustDomain: TD });
    const inter = signSubCa(root, 'shop intermediate');
    const rootPem = certToPem(root.cert.der);
    const interPem = certToPem(inter.cert.der);
    const secret = caSecret('ca-plug', 'waymesh-cacerts', {
      caKeyPem: privateKeyToPem(inter.key),
      caCertPem: interPem,
      certChainPem: interPem + rootPem,
      rootCertPem: rootPem,
    });
    await create('/api/v1/namespaces/ca-plug/secrets', secret);
    const plugged = await loadOrCreateClusterCa({
      store: new SecretCaStore({ client: admin, namespace: 'ca-plug' }),
      trustDomain: TD,
    });
    assert.equal(plugged.material.pluggedIn, true);
    assert.ok(plugged.material.cert.der.equals(inter.cert.der));
    assert.equal(plugged.rootsPem(), rootPem);
    await assert.rejects(admin.get('/api/v1/namespaces/ca-plug/secrets/waymesh-ca'), (err: unknown) =>
      isKubeStatus(err, 404),
    );
  });

  it('authenticates a pod-bound token with TokenReview and refuses a garbage one', async () => {
    const authn = new TokenReviewAuthenticator({ client: admin });
    const token = await podToken('waymesh-system', 'waymesh-node-agent', 'agent-node-1');
    const caller = await authn.authenticate({ token, peer: 'test' });
    assert.equal(caller.name, 'system:serviceaccount:waymesh-system:waymesh-node-agent');
    assert.equal(caller.namespace, 'waymesh-system');
    assert.equal(caller.serviceAccount, 'waymesh-node-agent');
    assert.equal(caller.pod?.name, 'agent-node-1');
    assert.equal(caller.nodeName, 'node-1');
    await assert.rejects(
      authn.authenticate({ token: 'not.a.token', peer: 'test' }),
      (err: unknown) =>
        isMeshError(err, 'CA_UNAUTHENTICATED') && /refused the bearer token/.test(err.message),
    );
    await assert.rejects(authn.authenticate({ token: undefined, peer: 'test' }), (err: unknown) =>
      isMeshError(err, 'CA_UNAUTHENTICATED'),
    );
  });

  it('signs for a pod on the node agent’s node over gRPC and refuses a pod on another node', async () => {
    assert.ok(ca !== undefined, 'the first test creates the CA');
    const world: World = {
      trustDomain: TD,
      namespaces: [],
      pods: await list<V1Pod>('/api/v1/pods'),
      services: [],
      serviceAccounts: await list<V1ServiceAccount>('/api/v1/serviceaccounts'),
      endpointSlices: [],
      gatewayClasses: [],
      gateways: [],
      httpRoutes: [],
      grpcRoutes: [],
      referenceGrants: [],
      authorizationPolicies: [],
      rateLimitPolicies: [],
      waypointReadyReplicas: {},
    };
    const server = await startCaServer({
      ca,
      authenticator: new TokenReviewAuthenticator({ client: admin }),
      authorizer: new MeshAuthorizer({ lookup: new WorldCaLookup(() => world) }),
      identity: issueLocalIdentity(ca, spiffe('waymesh-system', 'waymesh-controller')),
      address: '127.0.0.1:0',
    });
    const token = await podToken('waymesh-system', 'waymesh-node-agent', 'agent-node-1');
    const caClient = new CaClient({
      address: `127.0.0.1:${server.port}`,
      bundle: new TrustBundle(TD, ca.material.roots),
      serverId: spiffe('waymesh-system', 'waymesh-controller'),
      token: () => token,
    });
    try {
      const cart = spiffe('shop', 'cart');
      const chain = await caClient.createCertificate(createCsr(generateKey(), cart), 0, cart);
      assert.deepEqual(certFromPem(chain[0] ?? '', 'leaf').uris, [cart]);
      const ledger = spiffe('shop', 'ledger');
      await assert.rejects(
        caClient.createCertificate(createCsr(generateKey(), ledger), 0, ledger),
        (err: unknown) =>
          isMeshError(err, 'CA_PERMISSION_DENIED') &&
          err.message.includes(
            'node agent on node-1 asked for ns/shop/sa/ledger, but no pod with that service account runs on node-1',
          ),
      );
    } finally {
      caClient.close();
      await server.stop();
    }
  });
});
