/**
 * The node agent's identity manager against the real CA gRPC service on loopback, through
 * `caClientSource`: the agent authenticates with its own token and asks on behalf of its pods;
 * the certificates it gets carry mutual TLS between two workloads; refusals surface in `wait`.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'mocha';
import {
  CaClient,
  inMemoryRootCa,
  issueLocalIdentity,
  mtlsClientOptions,
  mtlsServerOptions,
  startCaServer,
  StaticTokenAuthenticator,
  TrustBundle,
  verifyTlsPeer,
  type CaAuthorizer,
  type CaCaller,
  type CaServer,
  type CertificateAuthority,
} from '../../certs/index.ts';
import { isMeshError } from '../../common/errors.ts';
import { Registry } from '../../common/metrics/index.ts';
import { formatSpiffeId } from '../../common/spiffe.ts';
import { caClientSource, IdentityManager, type CertificateSource } from '../../node-agent/identity/index.ts';

const TD = 'cluster.local';
const CONTROLLER = `spiffe://${TD}/ns/waymesh-system/sa/waymesh-controller`;
const WEB = `spiffe://${TD}/ns/shop/sa/web`;
const API = `spiffe://${TD}/ns/shop/sa/api`;
const ELSEWHERE = `spiffe://${TD}/ns/shop/sa/payments`;
const AGENT: CaCaller = {
  name: 'system:serviceaccount:waymesh-system:node-agent',
  namespace: 'waymesh-system',
  serviceAccount: 'node-agent',
};

/** "Pods on your node": the agent may obtain WEB and API on behalf of pods, nothing else. */
const nodeAuthorizer: CaAuthorizer = {
  authorize(caller, identity, impersonated) {
    const id = `spiffe://${identity.trustDomain}${identity.path}`;
    if (caller.name === AGENT.name && impersonated && (id === WEB || id === API)) {
      return Promise.resolve({ allowed: true });
    }
    return Promise.resolve({
      allowed: false,
      reason: `no pod with identity ${id} runs on the caller's node`,
    });
  },
};

describe('node agent identity manager against the CA gRPC service', function () {
  this.timeout(20_000);
  let ca: CertificateAuthority;
  let caServer: CaServer | undefined;
  let tlsServer: Server | undefined;
  const clients: CaClient[] = [];
  const managers: IdentityManager[] = [];

  function manager(token: string): { manager: IdentityManager; registry: Registry; calls: string[] } {
    assert.ok(caServer !== undefined);
    const client = new CaClient({
      address: `127.0.0.1:${caServer.port}`,
      bundle: new TrustBundle(TD, ca.material.roots),
      serverId: CONTROLLER,
      token: () => token,
    });
    clients.push(client);
    const registry = new Registry();
    const calls: string[] = [];
    const inner = caClientSource(client);
    const source: CertificateSource = {
      sign: (csr, id) => {
        calls.push(id);
        return inner.sign(csr, id);
      },
    };
    const m = new IdentityManager({ trustDomain: TD, source, registry });
    managers.push(m);
    return { manager: m, registry, calls };
  }

  before(async () => {
    ca = inMemoryRootCa(TD);
    caServer = await startCaServer({
      ca,
      authenticator: new StaticTokenAuthenticator(new Map([['agent-token', AGENT]])),
      authorizer: nodeAuthorizer,
      identity: issueLocalIdentity(ca, CONTROLLER),
      address: '127.0.0.1:0',
    });
  });

  after(async () => {
    for (const m of managers) m.stop();
    for (const c of clients) c.close();
    if (tlsServer !== undefined) {
      tlsServer.close();
      await once(tlsServer, 'close');
    }
    await caServer?.stop({ deadlineMs: 1000 });
  });

  it('obtains certificates for two pods with one request each, and they carry mutual TLS', async () => {
    const { manager: m, registry, calls } = manager('agent-token');
    m.prefetch(WEB);
    const [web, api, webAgain] = await Promise.all([m.ensure(WEB), m.wait(API, 10_000), m.ensure(WEB)]);
    assert.equal(webAgain, web);
    assert.deepEqual([...calls].sort(), [API, WEB]);
    assert.equal(m.bundle()?.toPem(), ca.rootsPem());
    assert.match(registry.render(), new RegExp(`principal="${API}"\\} ${api.notAfter.getTime() / 1000}`));

    tlsServer = createServer(mtlsServerOptions(web, ['waymesh-test']));
    const peers: string[] = [];
    tlsServer.on('secureConnection', (s: TLSSocket) => {
      peers.push(formatSpiffeId(verifyTlsPeer(s, web.bundle, 'client')));
      s.end('hello from web');
    });
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    const port = (tlsServer.address() as AddressInfo).port;
    const client = connect({
      ...mtlsClientOptions(api, (id) => formatSpiffeId(id) === WEB, ['waymesh-test']),
      host: '127.0.0.1',
      port,
      servername: 'waymesh',
    });
    let received = '';
    client.on('data', (d: Buffer) => (received += d.toString()));
    await once(client, 'end');
    client.destroy();
    assert.equal(received, 'hello from web');
    assert.deepEqual(peers, [API]);
  });

  it('an identity the node may not obtain fails with the CA refusal in the timeout message', async () => {
    const { manager: m } = manager('agent-token');
    await assert.rejects(m.wait(ELSEWHERE, 1500), (err: unknown) => {
      assert.ok(isMeshError(err, 'IDENTITY_TIMEOUT'), String(err));
      assert.match(
        err.message,
        /CA_PERMISSION_DENIED.*no pod with identity .*payments runs on the caller's node/,
      );
      return true;
    });
    assert.equal(m.get(ELSEWHERE), undefined);
    assert.ok((m.status()[0]?.failures ?? 0) >= 1);
  });

  it('a token the CA does not know is refused as unauthenticated', async () => {
    const { manager: m } = manager('stolen-token');
    await assert.rejects(m.wait(WEB, 1500), (err: unknown) => {
      assert.ok(isMeshError(err, 'IDENTITY_TIMEOUT'), String(err));
      assert.match(err.message, /CA_UNAUTHENTICATED/);
      return true;
    });
  });
});
