/**
 * @kubernetes/client-node 2.x depends on undici 8, which crashes at import on Node 20 (its
 * zstd decompressor needs Node 22). package.json overrides undici to 7.x; this test pins that the
 * client loads and talks to an API server over HTTPS with a bearer token on this Node version.
 */
import assert from 'node:assert/strict';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'mocha';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { selfSignedCert } from '../../helpers/apiserver.ts';

describe('deps/@kubernetes/client-node on this Node version', () => {
  let server: Server;
  let port = 0;
  let caPem = '';
  let keyPem = '';
  const seen: { auth?: string; url?: string } = {};

  before(async () => {
    // An API-server-like certificate: self-signed, with the IP SAN clients check.
    const dir = mkdtempSync(join(tmpdir(), 'wm-kube-client-'));
    try {
      ({ keyPem, certPem: caPem } = selfSignedCert(dir, 'apiserver'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    server = createServer({ key: keyPem, cert: caPem }, (req, res) => {
      seen.auth = req.headers.authorization;
      seen.url = req.url;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          kind: 'NamespaceList',
          apiVersion: 'v1',
          metadata: {},
          items: [{ metadata: { name: 'default' } }],
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    server.close();
  });

  it('lists namespaces over HTTPS with a bearer token', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: `https://127.0.0.1:${port}`,
          caData: Buffer.from(caPem).toString('base64'),
          skipTLSVerify: false,
          tlsServerName: 'apiserver',
        },
      ],
      users: [{ name: 'u', token: 'test-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const list = await kc.makeApiClient(CoreV1Api).listNamespace();
    assert.deepEqual(
      list.items.map((n) => n.metadata?.name),
      ['default'],
    );
    assert.equal(seen.auth, 'Bearer test-token');
    assert.equal(seen.url, '/api/v1/namespaces');
  });
});
