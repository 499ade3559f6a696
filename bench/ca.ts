/**
 * `ca`: how fast the built-in CA turns CSRs into certificates — in-process and through the
 * gRPC service over TLS — against a baseline measured in the same run: a bare ECDSA P-256
 * signature, the floor of any issuance. Target: `certs_per_second` ≥ 300 on 2 cores.
 */
import { sign } from 'node:crypto';
import {
  CaClient,
  createCsr,
  generateKey,
  inMemoryRootCa,
  issueLocalIdentity,
  startCaServer,
  StaticTokenAuthenticator,
  TrustBundle,
  type CaAuthorizer,
} from '../certs/index.ts';
import { measure, type Bench } from './lib.ts';

const TD = 'cluster.local';

/** A node agent may ask for any identity in this benchmark: authorization cost is not measured. */
const allowAll: CaAuthorizer = { authorize: () => Promise.resolve({ allowed: true }) };

export const caBench: Bench = {
  name: 'ca',
  description: 'certificate issuance: in-process and over gRPC/TLS, vs a bare ECDSA signature',
  async run() {
    const ca = inMemoryRootCa(TD);
    const key = generateKey();
    const csr = createCsr(key, `spiffe://${TD}/ns/bench/sa/app`);
    const rsaCsr = createCsr(generateKey('rsa-2048'), `spiffe://${TD}/ns/bench/sa/app`);
    const tbs = Buffer.alloc(300, 7);

    const baseline = await measure('baseline: ecdsa-p256 sign (300 B)', () =>
      sign('sha256', tbs, ca.material.key),
    );
    const issue = await measure('issue: verify CSR + sign (ec-p256)', () => ca.issue(csr));
    const issueRsa = await measure('issue: verify CSR + sign (rsa-2048 CSR)', () => ca.issue(rsaCsr));
    const client = await measure('client: keygen + CSR (ec-p256)', () =>
      createCsr(generateKey(), `spiffe://${TD}/ns/bench/sa/app`),
    );

    const serving = issueLocalIdentity(ca, `spiffe://${TD}/ns/waymesh-system/sa/waymesh-controller`);
    const server = await startCaServer({
      ca,
      identity: serving,
      address: '127.0.0.1:0',
      authenticator: new StaticTokenAuthenticator(new Map([['t', { name: 'bench' }]])),
      authorizer: allowAll,
    });
    const caClient = new CaClient({
      address: `127.0.0.1:${server.port}`,
      bundle: new TrustBundle(TD, ca.material.roots),
      token: () => 't',
    });
    let grpcRow;
    try {
      grpcRow = await measure(
        'grpc: CreateCertificate over TLS (16 in flight)',
        () => caClient.createCertificate(csr),
        {
          concurrency: 16,
        },
      );
    } finally {
      caClient.close();
      await server.stop();
    }
    return {
      rows: [baseline, issue, issueRsa, client, grpcRow],
      ratios: {
        certs_per_second: grpcRow.rps,
        certs_per_second_in_process: issue.rps,
        issue_vs_bare_sign: Number((issue.rps / baseline.rps).toFixed(3)),
        grpc_vs_in_process: Number((grpcRow.rps / issue.rps).toFixed(3)),
      },
    };
  },
};
