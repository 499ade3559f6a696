/**
 * The controller's gRPC server credentials (certs/service.ts ServingCredentials) on a real
 * grpc-js server over loopback TLS: a new identity is served from the next handshake while open
 * connections keep theirs, and a peer that never finishes its handshake is cut.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

import * as grpc from '@grpc/grpc-js';

import {
  inMemoryRootCa,
  issueLocalIdentity,
  ServingCredentials,
  type TlsIdentity,
} from '../../certs/index.ts';

const TD = 'cluster.local';
const ID = `spiffe://${TD}/ns/waymesh-system/sa/waymesh-controller`;

const serialOf = (identity: TlsIdentity): string =>
  new X509Certificate(identity.certChainPem[0] ?? '').serialNumber.toUpperCase();

/** A TLS (h2) connection to `port`, resolved once the handshake is done. */
function handshake(port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: false });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('controller serving credentials (grpc-js, loopback TLS)', function () {
  this.timeout(20_000);
  const ca = inMemoryRootCa(TD);
  let server: grpc.Server | undefined;
  const open: net.Socket[] = [];

  const start = async (creds: ServingCredentials): Promise<number> => {
    server = new grpc.Server();
    return new Promise((resolve, reject) =>
      server?.bindAsync('127.0.0.1:0', creds, (err, port) => (err === null ? resolve(port) : reject(err))),
    );
  };

  afterEach(() => {
    for (const s of open.splice(0)) s.destroy();
    server?.forceShutdown();
    server = undefined;
  });

  it('serves a new identity from the next handshake on; open connections keep theirs', async () => {
    const first = issueLocalIdentity(ca, ID, { ttlSeconds: 3600 });
    const second = issueLocalIdentity(ca, ID, { ttlSeconds: 3600 });
    assert.notEqual(serialOf(first), serialOf(second));
    const creds = new ServingCredentials(first);
    const port = await start(creds);
    const before = await handshake(port);
    open.push(before);
    assert.equal(before.getPeerCertificate().serialNumber.toUpperCase(), serialOf(first));
    creds.update(second);
    const after = await handshake(port);
    open.push(after);
    assert.equal(after.getPeerCertificate().serialNumber.toUpperCase(), serialOf(second));
    assert.equal(before.destroyed, false, 'the connection made before the update stays open');
    assert.equal(before.getPeerCertificate().serialNumber.toUpperCase(), serialOf(first));
  });

  it('closes a connection that never finishes its TLS handshake', async () => {
    const port = await start(new ServingCredentials(issueLocalIdentity(ca, ID), { handshakeTimeoutMs: 300 }));
    const started = Date.now();
    const silent = net.connect({ host: '127.0.0.1', port });
    open.push(silent);
    silent.on('error', () => undefined);
    await new Promise<void>((resolve) => silent.once('close', () => resolve()));
    const waited = Date.now() - started;
    // Node's own default would hold it for 120 s.
    assert.ok(waited >= 250 && waited < 5_000, `closed after ${waited} ms`);
  });
});
