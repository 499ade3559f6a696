// HBONE interop with an off-the-shelf HTTP/2 stack (issue 5 §6 "HBONE interop"): hyper-h2 and
// Python's ssl module (test/fixtures/hbone_connect.py) send an RFC 9113 §8.5 CONNECT over mutual
// TLS 1.3 to the HBONE server, and an HTTP/1.1 GET travels through the tunnel to a loopback app.
//
// Why Python: nghttp 1.52 and curl 7.88 cannot send a CONNECT without :scheme/:path (see
// hbone-interop.test.ts); Debian's python3-h2 can. It is installed by scripts/system-deps.sh for
// the Debian interpreter, which may not be the first `python3` on PATH (pyenv), hence the probe.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { formatSpiffeId } from '../../common/spiffe.ts';
import {
  createHboneServer,
  pipeTunnel,
  type HboneServer,
  type HboneTunnel,
} from '../../common/hbone/index.ts';
import { inMemoryRootCa, issueLocalIdentity, verifyTlsPeer, type LocalIdentity } from '../../certs/index.ts';

const LOOP = '127.0.0.1';
const SERVER_ID = 'spiffe://cluster.local/ns/dest/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/src/sa/python-h2';
const CLIENT = join(import.meta.dirname, '..', 'fixtures', 'hbone_connect.py');
const PYTHON_CANDIDATES = ['/usr/bin/python3', 'python3'];
const EXIT_REFUSED = 2;

/** The first interpreter that can import h2; fails (not skips) with the fix when none can. */
function pythonWithH2(): string {
  for (const python of PYTHON_CANDIDATES) {
    const probe = spawnSync(python, ['-c', 'import h2'], { stdio: 'ignore' });
    if (probe.status === 0) return python;
  }
  throw new Error(
    `no Python with the h2 module among ${PYTHON_CANDIDATES.join(', ')}: run scripts/system-deps.sh as root (installs python3-h2)`,
  );
}

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('common/hbone interop: hyper-h2 (python3-h2) CONNECT client', function () {
  this.timeout(30_000);
  const ca = inMemoryRootCa('cluster.local');
  const serverId = issueLocalIdentity(ca, SERVER_ID);
  const tunnels: HboneTunnel[] = [];
  const children = new Set<ChildProcess>();
  let python = '';
  let dir: string | undefined;
  let hbone: HboneServer | undefined;
  let app: http.Server | undefined;
  let hbonePort = 0;
  let appPort = 0;

  /** Writes an identity's key, chain and trust roots into the temp dir under `name`. */
  function writeIdentity(name: string, id: LocalIdentity): { cert: string; key: string; ca: string } {
    assert.ok(dir !== undefined);
    const files = {
      cert: join(dir, `${name}.crt`),
      key: join(dir, `${name}.key`),
      ca: join(dir, `${name}-ca.crt`),
    };
    writeFileSync(files.key, id.keyPem, { mode: 0o600 });
    writeFileSync(files.cert, id.certChainPem.join(''));
    writeFileSync(files.ca, id.bundle.toPem());
    return files;
  }

  /** Runs the Python client with `files` as its TLS material, CONNECTing to `authority`. */
  async function runClient(
    files: { cert: string; key: string },
    authority: string,
    path = '/through-hbone',
  ): Promise<RunResult> {
    assert.ok(dir !== undefined);
    const proc = spawn(
      python,
      [
        CLIENT,
        '--connect',
        `${LOOP}:${hbonePort}`,
        '--authority',
        authority,
        '--cert',
        files.cert,
        '--key',
        files.key,
        // The server's roots: a client from another CA still trusts the mesh's server.
        '--ca',
        join(dir, 'client-ca.crt'),
        '--server-id',
        SERVER_ID,
        '--path',
        path,
        '--timeout',
        '10',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('latin1')));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(proc, 'close')) as [number | null];
    children.delete(proc);
    return { code, stdout, stderr };
  }

  before(async () => {
    python = pythonWithH2();
    dir = mkdtempSync(join(tmpdir(), 'wm-hbone-h2-'));
    writeIdentity('client', issueLocalIdentity(ca, CLIENT_ID));
    app = http.createServer((req, res) => res.end(`hello from the app: ${req.method} ${req.url}`));
    app.listen(0, LOOP);
    await once(app, 'listening');
    appPort = (app.address() as AddressInfo).port;
    hbone = createHboneServer({
      tls: { key: serverId.keyPem, cert: serverId.certChainPem.join(''), ca: serverId.bundle.toPem() },
      verifyPeer: (s) => formatSpiffeId(verifyTlsPeer(s, serverId.bundle, 'client')),
      onTunnel: (t) => {
        tunnels.push(t);
        const upstream = net.connect({ host: t.authority.host, port: t.authority.port, allowHalfOpen: true });
        upstream.once('error', (err) => {
          if (!t.settled) t.refuse(503, err.message);
        });
        upstream.once('connect', () => pipeTunnel(t.accept(), upstream, () => undefined));
      },
    });
    hbonePort = await hbone.listen({ host: LOOP, port: 0 });
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await hbone?.close({ deadlineMs: 0 });
    app?.closeAllConnections();
    app?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('tunnels an HTTP/1.1 GET through a CONNECT sent by hyper-h2 and sees its SPIFFE id', async () => {
    assert.ok(dir !== undefined);
    const tunnelsBefore = tunnels.length;
    const res = await runClient(
      { cert: join(dir, 'client.crt'), key: join(dir, 'client.key') },
      `${LOOP}:${appPort}`,
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(res.stdout, /hello from the app: GET \/through-hbone$/);
    assert.equal(tunnels.length, tunnelsBefore + 1);
    assert.equal(tunnels.at(-1)?.peerId, CLIENT_ID);
    assert.deepEqual(tunnels.at(-1)?.authority, { host: LOOP, port: appPort });
  });

  it('refuses a client certificate issued by another CA', async () => {
    const foreign = writeIdentity('foreign', issueLocalIdentity(inMemoryRootCa('cluster.local'), CLIENT_ID));
    const tunnelsBefore = tunnels.length;
    const rejectedBefore = hbone?.stats().rejected.tls ?? 0;
    const res = await runClient(foreign, `${LOOP}:${appPort}`);
    assert.notEqual(res.code, 0, `the client should have failed: ${res.stdout}`);
    assert.match(res.stderr, /^hbone_connect: /m);
    // tlsClientError may be emitted a tick after the client has seen the alert.
    const started = Date.now();
    while ((hbone?.stats().rejected.tls ?? 0) === rejectedBefore && Date.now() - started < 2000)
      await sleep(10);
    assert.equal(hbone?.stats().rejected.tls, rejectedBefore + 1);
    assert.equal(tunnels.length, tunnelsBefore);
  });

  it('answers 400 to a CONNECT whose authority is not ip:port', async () => {
    assert.ok(dir !== undefined);
    const tunnelsBefore = tunnels.length;
    const res = await runClient(
      { cert: join(dir, 'client.crt'), key: join(dir, 'client.key') },
      `app.example:${appPort}`,
    );
    assert.equal(res.code, EXIT_REFUSED, res.stderr);
    assert.match(res.stderr, /status 400: the CONNECT authority must be ip:port/);
    assert.equal(res.stdout, '');
    assert.equal(tunnels.length, tunnelsBefore);
  });
});
