/**
 * The built-in CA against foreign tooling and real sockets: the CLI's output verified by the
 * `openssl` command, plug-in CA material made by openssl, mTLS handshakes over `node:tls`, and the
 * CA gRPC service with its refusals. Network: 127.0.0.1, port 0 only.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { after, before, describe, it } from 'mocha';
import { isMeshError, type MeshError } from '../../common/errors.ts';
import { formatSpiffeId } from '../../common/spiffe.ts';
import { blackHoleFirst } from '../helpers/black-hole.ts';
import { signSubCa } from '../helpers/pki.ts';
import { main } from '../../cli/main.ts';
import { nameDer } from '../../certs/asn1.ts';

import {
  authorityKeyIdentifier,
  basicConstraints,
  extKeyUsage,
  keyUsage,
  uriSubjectAltName,
} from '../../certs/extensions.ts';
import {
  CaClient,
  CertificateAuthority,
  FileCaStore,
  StaticTokenAuthenticator,
  TrustBundle,
  caFilesOf,
  inMemoryRootCa,
  certFromPem,
  certToPem,
  buildCsr,
  createCsr,
  generateKey,
  generateRoot,
  issueLocalIdentity,
  loadCaMaterial,
  mtlsClientOptions,
  mtlsServerOptions,
  ownIdentityAuthorizer,
  privateKeyToPem,
  startCaServer,
  verifyPeerChain,
  verifyTlsPeer,
  type CaCaller,
  type CaServer,
  type TlsIdentity,
} from '../../certs/index.ts';
import { CertificateServiceClient, type CreateCertificateResponse } from '../../certs/grpc-defs.ts';
import { keyIdentifier, spkiOf } from '../../certs/keys.ts';
import { Oid } from '../../certs/oids.ts';
import { randomSerial } from '../../certs/root.ts';
import { signCertificate } from '../../certs/x509.ts';

const TD = 'cluster.local';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function openssl(cwd: string, ...args: string[]): string {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

async function cli(...argv: string[]): Promise<string[]> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  assert.equal(code, 0, `waymesh ${argv.join(' ')} failed: ${err.join(' | ')}`);
  return out;
}

function rootCa(trustDomain = TD, now?: Date): CertificateAuthority {
  return inMemoryRootCa(trustDomain, { now });
}

/** A workload certificate the CA would never issue (here: another trust domain), signed by its key. */
function forgedIdentity(ca: CertificateAuthority, uri: string): TlsIdentity {
  const key = generateKey();
  const spki = spkiOf(key);
  const der = signCertificate(
    {
      serial: randomSerial(),
      issuer: ca.material.cert.subject,
      subject: nameDer([]),
      notBefore: new Date(Date.now() - HOUR),
      notAfter: new Date(Date.now() + DAY),
      spki,
      extensions: [
        basicConstraints(false),
        keyUsage(['digitalSignature', 'keyEncipherment']),
        extKeyUsage([Oid.serverAuth, Oid.clientAuth]),
        uriSubjectAltName(uri),
        authorityKeyIdentifier(ca.material.cert.subjectKeyId ?? keyIdentifier(ca.material.cert.spki)),
      ],
    },
    ca.material.key,
  );
  return {
    keyPem: privateKeyToPem(key),
    certChainPem: [certToPem(der), ...ca.chainPem()],
    bundle: new TrustBundle(TD, ca.material.roots),
  };
}

describe('certs interop (integration)', function () {
  this.timeout(20_000);
  let base: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'waymesh-interop-'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  describe('(a) waymesh certs + the openssl command', () => {
    /** `certs init` (optionally from SRC) then `certs issue`; returns the output directory. */
    async function initAndIssue(name: string, source?: string): Promise<{ out: string; initLine: string }> {
      const dir = join(base, `${name}-ca`);
      const out = join(base, `${name}-out`);
      const init = ['certs', 'init', '--dir', dir];
      if (source !== undefined) init.push('--intermediate-from', source);
      const [initLine = ''] = await cli(...init);
      await cli('certs', 'issue', '--dir', dir, '--id', `spiffe://${TD}/ns/default/sa/${name}`, '--out', out);
      return { out, initLine };
    }

    function opensslVerifies(out: string): void {
      for (const purpose of ['sslserver', 'sslclient']) {
        const result = openssl(
          out,
          'verify',
          '-x509_strict',
          '-purpose',
          purpose,
          '-CAfile',
          'root.pem',
          '-untrusted',
          'chain.pem',
          'cert.pem',
        );
        assert.equal(result.trim(), 'cert.pem: OK');
      }
    }

    it('root mode: openssl verifies the issued certificate', async () => {
      const { out, initLine } = await initAndIssue('root');
      assert.match(initLine, /self-signed root CA/);
      opensslVerifies(out);
      assert.equal(certFromPem(readFileSync(join(out, 'chain.pem'), 'utf8'), 'chain').isCa, true);
    });

    it('openssl x509 -text shows the URI SAN, marked critical, and the key usages', async () => {
      const { out } = await initAndIssue('text');
      const text = openssl(out, 'x509', '-in', 'cert.pem', '-noout', '-text');
      assert.match(
        text,
        /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/text\s/,
      );
      assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
      assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
      assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
      assert.match(text, /Subject: *\n/);
    });

    it('plug-in mode: an intermediate made with this library', async () => {
      const root = generateRoot({ trustDomain: TD });
      const inter = signSubCa(root, 'waymesh test intermediate', { pathLen: 0 });
      const src = join(base, 'lib-src');
      await new FileCaStore(src).save(
        caFilesOf({ key: inter.key, cert: inter.cert, chain: [inter.cert, root.cert], roots: [root.cert] }),
      );
      const { out, initLine } = await initAndIssue('libplug', src);
      assert.match(initLine, /plugged-in intermediate CA/);
      opensslVerifies(out);
      const chain = readFileSync(join(out, 'chain.pem'), 'utf8');
      assert.equal(chain, certToPem(inter.cert.der) + certToPem(root.cert.der));
    });

    it('plug-in mode: root and intermediate made by openssl (RSA root, SEC1 EC intermediate key)', async () => {
      const src = mkdtempSync(join(base, 'openssl-src-'));
      openssl(
        src,
        'genpkey',
        '-algorithm',
        'RSA',
        '-pkeyopt',
        'rsa_keygen_bits:2048',
        '-out',
        'root-key.pem',
      );
      openssl(
        src,
        'req',
        '-x509',
        '-new',
        '-key',
        'root-key.pem',
        '-subj',
        `/O=${TD}/CN=Foreign Root CA`,
        '-days',
        '30',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-out',
        'root-cert.pem',
      );
      // `ecparam -genkey` writes an EC PARAMETERS block before a SEC1 key, as many runbooks do.
      openssl(src, 'ecparam', '-name', 'prime256v1', '-genkey', '-out', 'ca-key.pem');
      openssl(
        src,
        'req',
        '-new',
        '-key',
        'ca-key.pem',
        '-subj',
        `/O=${TD}/CN=Foreign Intermediate CA`,
        '-out',
        'ca.csr',
      );
      writeFileSync(
        join(src, 'ext.cnf'),
        [
          '[v3_int]',
          'basicConstraints=critical,CA:TRUE,pathlen:0',
          'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
          'subjectKeyIdentifier=hash',
          'authorityKeyIdentifier=keyid:always',
          '',
        ].join('\n'),
      );
      openssl(
        src,
        'x509',
        '-req',
        '-in',
        'ca.csr',
        '-CA',
        'root-cert.pem',
        '-CAkey',
        'root-key.pem',
        '-set_serial',
        '0x' + randomSerial().toString('hex'),
        '-days',
        '10',
        '-extfile',
        'ext.cnf',
        '-extensions',
        'v3_int',
        '-out',
        'ca-cert.pem',
      );
      writeFileSync(
        join(src, 'cert-chain.pem'),
        readFileSync(join(src, 'ca-cert.pem'), 'utf8') + readFileSync(join(src, 'root-cert.pem'), 'utf8'),
      );
      const { out, initLine } = await initAndIssue('osslplug', src);
      assert.match(initLine, /plugged-in intermediate CA/);
      opensslVerifies(out);
      // The leaf never outlives the 10-day intermediate.
      const leaf = certFromPem(readFileSync(join(out, 'cert.pem'), 'utf8'), 'leaf');
      const inter = certFromPem(readFileSync(join(src, 'ca-cert.pem'), 'utf8'), 'intermediate');
      assert.ok(leaf.notAfter <= inter.notAfter);
      assert.ok(leaf.issuer.equals(inter.subject));
    });
  });

  describe('(b) mTLS over node:tls', () => {
    type ServerEvent =
      | { kind: 'verified'; id: string }
      | { kind: 'refused'; error: MeshError }
      | { kind: 'tls-error'; code: string | undefined; authorizationError: string | undefined };

    interface TestServer {
      readonly port: number;
      /** Resolves with the next thing that happened to a connection. */
      next(): Promise<ServerEvent>;
    }

    interface ClientResult {
      readonly data: string;
      readonly error: (Error & { code?: string }) | undefined;
      readonly acceptedServerId: string | undefined;
      readonly serverIdAfterHandshake: string | undefined;
    }

    const servers: tls.Server[] = [];
    after(async () => {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    });

    /** A mesh server: verifies each client with verifyTlsPeer and echoes its SPIFFE id. */
    async function startServer(identity: TlsIdentity): Promise<TestServer> {
      const events: ServerEvent[] = [];
      const waiters: ((e: ServerEvent) => void)[] = [];
      const push = (e: ServerEvent): void => {
        const w = waiters.shift();
        if (w === undefined) events.push(e);
        else w(e);
      };
      const server = tls.createServer(mtlsServerOptions(identity), (socket) => {
        try {
          const id = formatSpiffeId(verifyTlsPeer(socket, identity.bundle, 'client'));
          push({ kind: 'verified', id });
          socket.end(id);
        } catch (err) {
          push({ kind: 'refused', error: err as MeshError });
          socket.destroy();
        }
      });
      server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
        const reason = socket.authorizationError as Error | string | null;
        push({
          kind: 'tls-error',
          code: err.code,
          authorizationError: reason === null ? undefined : String(reason),
        });
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
      return {
        port: (server.address() as AddressInfo).port,
        next: () => {
          const e = events.shift();
          return e !== undefined ? Promise.resolve(e) : new Promise((resolve) => waiters.push(resolve));
        },
      };
    }

    /** Connects with `options`; resolves when the connection is closed, whatever happened. */
    function connect(
      port: number,
      identity: TlsIdentity,
      options: tls.ConnectionOptions,
    ): Promise<ClientResult> {
      return new Promise((resolve) => {
        let data = '';
        let error: (Error & { code?: string }) | undefined;
        let serverIdAfterHandshake: string | undefined;
        const socket = tls.connect({ host: '127.0.0.1', port, ...options });
        socket.setEncoding('utf8');
        socket.on('secureConnect', () => {
          try {
            serverIdAfterHandshake = formatSpiffeId(verifyTlsPeer(socket, identity.bundle, 'server'));
          } catch (err) {
            error = err as Error;
            socket.destroy();
          }
        });
        socket.on('data', (d: string) => (data += d));
        socket.on('error', (e: Error & { code?: string }) => (error = e));
        socket.on('close', () =>
          resolve({ data, error, acceptedServerId: undefined, serverIdAfterHandshake }),
        );
      });
    }

    /** Connects as a mesh client, recording the server id the accept predicate saw. */
    async function meshConnect(port: number, identity: TlsIdentity, accept = true): Promise<ClientResult> {
      let seen: string | undefined;
      const result = await connect(
        port,
        identity,
        mtlsClientOptions(identity, (id) => {
          seen = formatSpiffeId(id);
          return accept;
        }),
      );
      return { ...result, acceptedServerId: seen };
    }

    const SERVER_ID = `spiffe://${TD}/ns/default/sa/server`;
    const CLIENT_ID = `spiffe://${TD}/ns/default/sa/client`;
    let ca: CertificateAuthority;
    let serverIdentity: TlsIdentity;
    let clientIdentity: TlsIdentity;
    let server: TestServer;

    before(async () => {
      ca = rootCa();
      serverIdentity = issueLocalIdentity(ca, SERVER_ID);
      clientIdentity = issueLocalIdentity(ca, CLIENT_ID);
      server = await startServer(serverIdentity);
    });

    it("succeeds between two issued identities, each side reading the other's SPIFFE id", async () => {
      const [result, event] = await Promise.all([meshConnect(server.port, clientIdentity), server.next()]);
      assert.deepEqual(event, { kind: 'verified', id: CLIENT_ID });
      assert.equal(result.error, undefined);
      assert.equal(result.data, CLIENT_ID, 'the server echoes the client id it verified');
      assert.equal(result.acceptedServerId, SERVER_ID);
      assert.equal(result.serverIdAfterHandshake, SERVER_ID);
    });

    it('succeeds in plug-in mode, where chains carry an intermediate', async () => {
      const root = generateRoot({ trustDomain: TD });
      const inter = signSubCa(root, 'tls intermediate', { pathLen: 0 });
      const pluggedCa = new CertificateAuthority(
        loadCaMaterial(
          caFilesOf({ key: inter.key, cert: inter.cert, chain: [inter.cert, root.cert], roots: [root.cert] }),
        ),
        { trustDomain: TD },
      );
      const s = await startServer(issueLocalIdentity(pluggedCa, SERVER_ID));
      const client = issueLocalIdentity(pluggedCa, CLIENT_ID);
      const [result, event] = await Promise.all([meshConnect(s.port, client), s.next()]);
      assert.deepEqual(event, { kind: 'verified', id: CLIENT_ID });
      assert.equal(result.data, CLIENT_ID);
      assert.equal(result.acceptedServerId, SERVER_ID);
    });

    describe('the server refuses', () => {
      it('a client certificate from another CA (OpenSSL, during the handshake)', async () => {
        const foreign = issueLocalIdentity(rootCa(), CLIENT_ID);
        // The client trusts our server, but presents a certificate from the other mesh.
        const client: TlsIdentity = { ...foreign, bundle: clientIdentity.bundle };
        const [result, event] = await Promise.all([meshConnect(server.port, client), server.next()]);
        assert.deepEqual(event, {
          kind: 'tls-error',
          code: 'ECONNRESET',
          authorizationError: 'SELF_SIGNED_CERT_IN_CHAIN',
        });
        assert.equal(result.data, '', 'the refused client must not get any data');
        assert.equal(result.acceptedServerId, SERVER_ID, 'the client itself accepted the server');
      });

      it('a client certificate from another CA sent without its root', async () => {
        const foreign = issueLocalIdentity(rootCa(), CLIENT_ID);
        const client: TlsIdentity = {
          ...foreign,
          certChainPem: foreign.certChainPem.slice(0, 1),
          bundle: clientIdentity.bundle,
        };
        const [result, event] = await Promise.all([meshConnect(server.port, client), server.next()]);
        assert.deepEqual(event, {
          kind: 'tls-error',
          code: 'ECONNRESET',
          authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        });
        assert.equal(result.data, '');
      });

      it('an expired client certificate (OpenSSL, during the handshake)', async () => {
        const past = new CertificateAuthority(ca.material, {
          trustDomain: TD,
          now: () => new Date(Date.now() - 2 * DAY),
        });
        const expired = issueLocalIdentity(past, CLIENT_ID, { ttlSeconds: 3600 });
        assert.ok(expired.issued.notAfter.getTime() < Date.now());
        const [result, event] = await Promise.all([meshConnect(server.port, expired), server.next()]);
        assert.deepEqual(event, {
          kind: 'tls-error',
          code: 'ECONNRESET',
          authorizationError: 'CERT_HAS_EXPIRED',
        });
        assert.equal(result.data, '');
      });

      it('a client certificate of another trust domain (verifyTlsPeer, after the handshake)', async () => {
        const wrongTd = forgedIdentity(ca, 'spiffe://other.example/ns/default/sa/client');
        const [result, event] = await Promise.all([meshConnect(server.port, wrongTd), server.next()]);
        assert.equal(event.kind, 'refused');
        assert.ok(event.kind === 'refused' && isMeshError(event.error, 'CERT_WRONG_TRUST_DOMAIN'));
        assert.match(
          event.error.message,
          /spiffe:\/\/other\.example\/ns\/default\/sa\/client is not in trust domain cluster\.local/,
        );
        assert.equal(result.data, '');
      });

      it('a client without a certificate', async () => {
        const [result, event] = await Promise.all([
          connect(server.port, clientIdentity, {
            ca: clientIdentity.bundle.toPem(),
            checkServerIdentity: () => undefined,
            minVersion: 'TLSv1.3',
            ALPNProtocols: ['h2'],
          }),
          server.next(),
        ]);
        assert.deepEqual(event, {
          kind: 'tls-error',
          code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE',
          authorizationError: undefined,
        });
        assert.equal(result.error?.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
        assert.equal(result.data, '');
      });
    });

    describe('the client refuses', () => {
      it('a server with an expired certificate (OpenSSL: CERT_HAS_EXPIRED)', async () => {
        const past = new CertificateAuthority(ca.material, {
          trustDomain: TD,
          now: () => new Date(Date.now() - 2 * DAY),
        });
        const s = await startServer(issueLocalIdentity(past, SERVER_ID, { ttlSeconds: 3600 }));
        const result = await meshConnect(s.port, clientIdentity);
        assert.equal(result.error?.code, 'CERT_HAS_EXPIRED');
        assert.equal(result.acceptedServerId, undefined);
        assert.equal(result.data, '');
      });

      it('a server from another CA (OpenSSL)', async () => {
        const s = await startServer(issueLocalIdentity(rootCa(), SERVER_ID));
        const result = await meshConnect(s.port, clientIdentity);
        assert.equal(result.error?.code, 'SELF_SIGNED_CERT_IN_CHAIN');
        assert.equal(result.data, '');
      });

      it('a server certificate of another trust domain (verifyPeerChain in checkServerIdentity)', async () => {
        const s = await startServer(forgedIdentity(ca, 'spiffe://other.example/ns/default/sa/server'));
        const result = await meshConnect(s.port, clientIdentity);
        assert.equal(result.error?.code, 'CERT_WRONG_TRUST_DOMAIN');
        assert.equal(result.acceptedServerId, undefined);
        assert.equal(result.data, '');
      });

      it('a server whose identity the accept predicate rejects (PEER_NOT_ALLOWED)', async () => {
        const [result, event] = await Promise.all([
          meshConnect(server.port, clientIdentity, false),
          server.next(),
        ]);
        assert.equal(result.error?.code, 'PEER_NOT_ALLOWED');
        assert.match(
          result.error?.message ?? '',
          /server identity spiffe:\/\/cluster\.local\/ns\/default\/sa\/server is not the one expected/,
        );
        assert.equal(event.kind, 'tls-error');
      });
    });
  });

  describe('(c) the CA gRPC service', () => {
    const WEB = `spiffe://${TD}/ns/default/sa/web`;
    const CONTROLLER = `spiffe://${TD}/ns/waymesh-system/sa/controller`;
    const callers = new Map<string, CaCaller>([
      ['tok-web', { name: 'system:serviceaccount:default:web', namespace: 'default', serviceAccount: 'web' }],
    ]);
    let ca: CertificateAuthority;
    let caServer: CaServer;
    let address: string;
    let bundle: TrustBundle;
    const clients: CaClient[] = [];
    const rawClients: grpc.Client[] = [];

    function client(options: { token?: string; serverId?: string; bundle?: TrustBundle } = {}): CaClient {
      const c = new CaClient({
        address,
        bundle: options.bundle ?? bundle,
        serverId: options.serverId ?? CONTROLLER,
        token: () => options.token ?? 'tok-web',
        timeoutMs: 5000,
      });
      clients.push(c);
      return c;
    }

    async function rejectsWith(p: Promise<unknown>, code: string, why: RegExp): Promise<void> {
      await assert.rejects(p, (err: unknown) => {
        assert.ok(isMeshError(err, code), `expected ${code}, got ${String(err)}`);
        assert.match(err.message, why);
        return true;
      });
    }

    /** The server still issues after a refusal. */
    async function stillServing(): Promise<void> {
      const chain = await client().createCertificate(createCsr(generateKey(), WEB));
      assert.equal(chain.length, 2);
    }

    before(async () => {
      ca = rootCa();
      bundle = new TrustBundle(TD, ca.material.roots);
      caServer = await startCaServer({
        ca,
        authenticator: new StaticTokenAuthenticator(callers),
        authorizer: ownIdentityAuthorizer,
        identity: issueLocalIdentity(ca, CONTROLLER),
        address: '127.0.0.1:0',
      });
      assert.ok(caServer.port > 0);
      address = `127.0.0.1:${caServer.port}`;
    });

    after(async () => {
      for (const c of clients) c.close();
      for (const c of rawClients) c.close();
      await caServer.stop({ deadlineMs: 1000 });
    });

    it("issues [leaf, root] for the caller's own identity, and the leaf verifies", async () => {
      const chain = await client().createCertificate(createCsr(generateKey(), WEB), 3600);
      assert.equal(chain.length, 2);
      const [leafPem = '', rootPem = ''] = chain;
      assert.equal(rootPem, ca.rootsPem());
      const leaf = certFromPem(leafPem, 'leaf');
      assert.deepEqual(leaf.uris, [WEB]);
      assert.equal(leaf.notAfter.getTime() - leaf.notBefore.getTime(), HOUR + 5 * 60_000);
      const id = verifyPeerChain(
        chain.map((p) => certFromPem(p, 'chain').der),
        bundle,
        'client',
      );
      assert.equal(formatSpiffeId(id), WEB);
    });

    it('starts over on a new connection when connecting hangs (a peer that never answers)', async () => {
      // The first connection lands in a black hole (accepted, never answered), as a SYN to a
      // Service address still translated to a pod that is gone; later ones reach the CA.
      const relay = await blackHoleFirst(caServer.port);
      const c = new CaClient({
        address: `127.0.0.1:${relay.port}`,
        bundle,
        serverId: CONTROLLER,
        token: () => 'tok-web',
        timeoutMs: 5000,
        connectTimeoutMs: 300,
      });
      clients.push(c);
      try {
        const started = Date.now();
        // The call waiting on the stuck channel fails when it is replaced, not at its deadline.
        await assert.rejects(
          c.createCertificate(createCsr(generateKey(), WEB)),
          (err: unknown) => isMeshError(err) && /CA_(UNAVAILABLE|CANCELLED)/.test(err.code),
        );
        assert.ok(Date.now() - started < 2_000, `failed after ${Date.now() - started} ms`);
        assert.equal((await c.createCertificate(createCsr(generateKey(), WEB))).length, 2);
        assert.equal(relay.held.length, 1, 'the first connection was the black hole');
      } finally {
        relay.close();
      }
    });

    it('no authorization metadata at all → UNAUTHENTICATED', async () => {
      const raw = new CertificateServiceClient(
        address,
        grpc.credentials.createSsl(Buffer.from(bundle.toPem()), null, null, {
          checkServerIdentity: () => undefined,
        }),
        // As CaClient does: a name for SNI instead of the IP address (RFC 6066).
        { 'grpc.ssl_target_name_override': 'waymesh-ca' },
      );
      rawClients.push(raw);
      const call = (
        raw as unknown as {
          CreateCertificate: (
            req: object,
            md: grpc.Metadata,
            opts: grpc.CallOptions,
            cb: grpc.requestCallback<CreateCertificateResponse>,
          ) => void;
        }
      ).CreateCertificate.bind(raw);
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        call(
          { csr: createCsr(generateKey(), WEB), ttlSeconds: 0, impersonatedIdentity: '' },
          new grpc.Metadata(),
          { deadline: new Date(Date.now() + 5000) },
          (e) => resolve(e),
        ),
      );
      assert.equal(err?.code, grpc.status.UNAUTHENTICATED);
      assert.match(err?.details ?? '', /no bearer token/);
      await stillServing();
    });

    const refusals: readonly {
      name: string;
      call: () => Promise<unknown>;
      code: string;
      why: RegExp;
    }[] = [
      {
        name: 'an empty token',
        call: () => client({ token: '' }).createCertificate(createCsr(generateKey(), WEB)),
        code: 'CA_UNAUTHENTICATED',
        why: /no bearer token/,
      },
      {
        name: 'a bad token',
        call: () => client({ token: 'tok-wrong' }).createCertificate(createCsr(generateKey(), WEB)),
        code: 'CA_UNAUTHENTICATED',
        why: /bearer token is not recognised/,
      },
      {
        name: "another service account's identity",
        call: () => client().createCertificate(createCsr(generateKey(), `spiffe://${TD}/ns/default/sa/db`)),
        code: 'CA_PERMISSION_DENIED',
        why: /system:serviceaccount:default:web may obtain only its own identity, not ns\/default\/sa\/db/,
      },
      {
        name: 'impersonation, which ownIdentityAuthorizer never allows',
        call: () => client().createCertificate(createCsr(generateKey(), WEB), 0, WEB),
        code: 'CA_PERMISSION_DENIED',
        why: /may not request certificates on behalf of other workloads/,
      },
      {
        name: 'an impersonated identity that differs from the CSR',
        call: () =>
          client().createCertificate(createCsr(generateKey(), WEB), 0, `spiffe://${TD}/ns/default/sa/db`),
        code: 'CA_INVALID_ARGUMENT',
        why: /impersonated_identity spiffe:\/\/cluster\.local\/ns\/default\/sa\/db differs from the CSR's identity/,
      },
      {
        name: 'an impersonated identity that is not a SPIFFE id',
        call: () => client().createCertificate(createCsr(generateKey(), WEB), 0, 'web'),
        code: 'CA_INVALID_ARGUMENT',
        why: /impersonated_identity: invalid SPIFFE id/,
      },
      {
        name: 'a garbage CSR',
        call: () => client().createCertificate('garbage'),
        code: 'CA_INVALID_ARGUMENT',
        why: /CSR_MALFORMED/,
      },
      {
        name: 'a CSR with an unreadable SAN (regression: was INTERNAL)',
        call: () => {
          const key = generateKey();
          const san = Buffer.from([0x30, 0x05, 0x86, 0x01]);
          return client().createCertificate(
            buildCsr(key, [{ oid: Oid.subjectAltName, critical: true, value: san }]),
          );
        },
        code: 'CA_INVALID_ARGUMENT',
        why: /CSR_MALFORMED/,
      },
      {
        name: 'an identity in another trust domain',
        call: () =>
          client().createCertificate(createCsr(generateKey(), 'spiffe://other.example/ns/default/sa/web')),
        code: 'CA_INVALID_ARGUMENT',
        why: /CSR_IDENTITY_INVALID: .*this CA serves "cluster\.local"/,
      },
      {
        name: 'a negative TTL',
        call: () => client().createCertificate(createCsr(generateKey(), WEB), -1),
        code: 'CA_INVALID_ARGUMENT',
        why: /ttl_seconds must be 0 \(default\) or positive/,
      },
    ];
    for (const c of refusals) {
      it(`refuses ${c.name} → ${c.code}, and keeps serving`, async () => {
        await rejectsWith(c.call(), c.code, c.why);
        await stillServing();
      });
    }

    it('a client expecting another server identity fails, and the server keeps serving', async () => {
      const wrong = client({ serverId: `spiffe://${TD}/ns/default/sa/impostor` });
      await rejectsWith(
        wrong.createCertificate(createCsr(generateKey(), WEB)),
        'CA_UNAVAILABLE',
        /CA server is spiffe:\/\/cluster\.local\/ns\/waymesh-system\/sa\/controller, expected .*\/sa\/impostor/,
      );
      await stillServing();
    });

    it('a client trusting another CA fails to connect', async () => {
      const other = new TrustBundle(TD, rootCa().material.roots);
      await rejectsWith(
        client({ bundle: other }).createCertificate(createCsr(generateKey(), WEB)),
        'CA_UNAVAILABLE',
        /refused \(UNAVAILABLE\)/,
      );
      await stillServing();
    });
  });
});
