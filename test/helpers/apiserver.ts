/**
 * The lab's API server, in process, for integration tests of components that talk to
 * Kubernetes: HTTPS on 127.0.0.1 with an `openssl`-made certificate, every hook wired (strategic
 * merge, server-side apply, schema validation, tables), an admin token, and optionally the
 * Gateway API and waymesh policy CRDs. `close()` removes everything it made.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import type { Logger } from '../../common/log.ts';
import { gatewayApiCrds } from '../../lab/apiserver/crds/gateway-api.ts';
import { serverSideApply, strategicMergePatch } from '../../lab/apiserver/patch/index.ts';
import { applyDefaults, prune, validate } from '../../lab/apiserver/schema/index.ts';
import { createApiServer, type ApiServer } from '../../lab/apiserver/server.ts';
import { toTable } from '../../lab/apiserver/table.ts';
import type { KubeObject } from '../../lab/apiserver/types.ts';

/** Writes a self-signed EC certificate for IP 127.0.0.1 into `dir` (key.pem, cert.pem). */
export function selfSignedCert(dir: string, cn = 'waymesh-test'): { keyPem: string; certPem: string } {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
      .concat(['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1'])
      .concat(['-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1']),
    { stdio: 'ignore' },
  );
  return {
    keyPem: readFileSync(join(dir, 'key.pem'), 'utf8'),
    certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'),
  };
}

/** The waymesh policy CRDs of `manifests/crds/`. */
export function policyCrds(): KubeObject[] {
  const dir = join(import.meta.dirname, '..', '..', 'manifests', 'crds');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => yaml.load(readFileSync(join(dir, f), 'utf8')) as KubeObject);
}

/** A running test API server. */
export interface TestApiServer {
  readonly api: ApiServer;
  readonly server: Server;
  readonly port: number;
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  /** The serving certificate, which is also the CA clients trust. */
  readonly caPem: string;
  readonly adminToken: string;
  /** A KubeConfig with the admin token. */
  readonly kubeConfig: KubeConfig;
  close(): Promise<void>;
}

/** Options for {@link startTestApiServer}. */
export interface TestApiServerOptions {
  /** Prefix of the temporary directory. */
  readonly name: string;
  readonly adminToken?: string;
  /** Install the Gateway API CRDs (default true). */
  readonly gatewayApi?: boolean;
  /** Install the waymesh policy CRDs (default false). */
  readonly policyCrds?: boolean;
  readonly logger?: Logger;
}

/** Starts the lab's API server on 127.0.0.1 (port 0) with every hook wired. */
export async function startTestApiServer(opts: TestApiServerOptions): Promise<TestApiServer> {
  const dir = mkdtempSync(join(tmpdir(), `wm-${opts.name}-`));
  const adminToken = opts.adminToken ?? 'admin-token';
  const { keyPem, certPem } = selfSignedCert(dir);
  const api = await createApiServer({
    dataDir: join(dir, 'data'),
    adminToken,
    signingKeyPem: generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString(),
    serviceCidr: '10.96.0.0/16',
    hooks: { strategicMergePatch, serverSideApply, validate, applyDefaults, prune, toTable },
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
  });
  const server = createServer({ key: keyPem, cert: certPem }, (req, res) => api.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  if (opts.gatewayApi !== false) for (const crd of gatewayApiCrds()) await api.createObject(crd);
  if (opts.policyCrds === true) for (const crd of policyCrds()) await api.createObject(crd);
  const url = `https://127.0.0.1:${port}`;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      { name: 'lab', server: url, caData: Buffer.from(certPem).toString('base64'), skipTLSVerify: false },
    ],
    users: [{ name: 'admin', token: adminToken }],
    contexts: [{ name: 'lab', cluster: 'lab', user: 'admin' }],
    currentContext: 'lab',
  });
  return {
    api,
    server,
    port,
    url,
    caPem: certPem,
    adminToken,
    kubeConfig,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
