// HBONE interop with a TLS stack and an HTTP/2 encoding that are not Node's: `openssl s_client`
// (mutual TLS 1.3, ALPN h2, client certificate from files) carries HTTP/2 frames encoded here by
// hand from RFC 9113/7541 — an RFC 9113 §8.5 CONNECT (no :scheme/:path) — and a plain HTTP/1.1
// GET travels through the tunnel to a loopback app.
//
// Why not nghttp or curl: nghttp 1.52 always adds :path and :scheme, so a CONNECT from it is a
// malformed request (the server resets it with PROTOCOL_ERROR); curl 7.88 has no
// `--proxy-http2` (curl ≥ 8.1) and its `-X CONNECT` over h2 is rejected the same way.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
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
import { inMemoryRootCa, issueLocalIdentity, verifyTlsPeer } from '../../certs/index.ts';

const LOOP = '127.0.0.1';
const CLIENT_ID = 'spiffe://cluster.local/ns/src/sa/openssl';
const FRAME = { DATA: 0, HEADERS: 1, SETTINGS: 4 } as const;
const FLAG = { END_STREAM: 1, END_HEADERS: 4 } as const;

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK "literal header field without indexing, indexed name" (RFC 7541 §6.2.2), no Huffman. */
function literal(staticIndex: number, value: string): Buffer {
  const v = Buffer.from(value, 'latin1');
  assert.ok(staticIndex < 15 && v.length < 127);
  return Buffer.concat([Buffer.from([staticIndex, v.length]), v]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface ParsedFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** Splits complete frames off the front of `buf`; returns them and the unparsed rest. */
function parseFrames(buf: Buffer): [ParsedFrame[], Buffer] {
  const frames: ParsedFrame[] = [];
  let rest = buf;
  while (rest.length >= 9) {
    const length = rest.readUIntBE(0, 3);
    if (rest.length < 9 + length) break;
    frames.push({
      type: rest[3] ?? -1,
      flags: rest[4] ?? 0,
      streamId: rest.readUInt32BE(5) & 0x7fffffff,
      payload: rest.subarray(9, 9 + length),
    });
    rest = rest.subarray(9 + length);
  }
  return [frames, rest];
}

describe('common/hbone interop: openssl s_client with hand-encoded HTTP/2 CONNECT', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'wm-hbone-interop-'));
  const ca = inMemoryRootCa('cluster.local');
  const serverId = issueLocalIdentity(ca, 'spiffe://cluster.local/ns/dest/sa/server');
  const clientId = issueLocalIdentity(ca, CLIENT_ID);
  const tunnels: HboneTunnel[] = [];
  let hbone: HboneServer;
  let app: http.Server;
  let hbonePort = 0;
  let appPort = 0;
  let child: ChildProcess | undefined;

  before(async () => {
    writeFileSync(join(dir, 'client.key'), clientId.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'client.crt'), clientId.certChainPem.join(''));
    writeFileSync(join(dir, 'ca.crt'), clientId.bundle.toPem());
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
    child?.kill();
    await hbone?.close({ deadlineMs: 0 });
    app?.closeAllConnections();
    app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tunnels an HTTP/1.1 GET through a CONNECT sent by openssl s_client', async () => {
    const proc = spawn(
      'openssl',
      [
        's_client',
        '-quiet',
        '-connect',
        `${LOOP}:${hbonePort}`,
        '-tls1_3',
        '-alpn',
        'h2',
        '-cert',
        join(dir, 'client.crt'),
        '-key',
        join(dir, 'client.key'),
        '-CAfile',
        join(dir, 'ca.crt'),
        '-verify_return_error',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    child = proc;
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const request = `GET /through-hbone HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n`;
    const headerBlock = Buffer.concat([literal(2, 'CONNECT'), literal(1, `${LOOP}:${appPort}`)]);
    proc.stdin.write(
      Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
        frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0)),
        frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, headerBlock),
        // END_STREAM with the request: the client half-closes, the answer must still arrive.
        frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from(request, 'latin1')),
      ]),
    );
    let pending: Buffer = Buffer.alloc(0);
    let status: number | undefined;
    const body: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      proc.once('exit', (code) =>
        reject(new Error(`openssl exited (${code}) before the tunnel ended: ${stderr}`)),
      );
      proc.stdout.on('data', (chunk: Buffer) => {
        const [frames, rest] = parseFrames(Buffer.concat([pending, chunk]));
        pending = rest;
        for (const f of frames) {
          if (f.streamId !== 1) continue;
          // :status 200 is static-table entry 8, sent indexed (0x88) as the first field.
          if (f.type === FRAME.HEADERS) status = f.payload[0] === 0x88 ? 200 : -1;
          if (f.type === FRAME.DATA) body.push(f.payload);
          if ((f.flags & FLAG.END_STREAM) !== 0) resolve();
        }
      });
    });
    assert.equal(status, 200);
    const response = Buffer.concat(body).toString('latin1');
    assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(response, /hello from the app: GET \/through-hbone$/);
    assert.equal(tunnels.length, 1);
    assert.equal(tunnels[0]?.peerId, CLIENT_ID);
    assert.deepEqual(tunnels[0]?.authority, { host: LOOP, port: appPort });
    proc.kill();
    await once(proc, 'exit').catch(() => undefined);
    child = undefined;
  });
  it('destroys a session whose peer stops answering pings', async () => {
    const quick = createHboneServer({
      tls: { key: serverId.keyPem, cert: serverId.certChainPem.join(''), ca: serverId.bundle.toPem() },
      verifyPeer: (s) => formatSpiffeId(verifyTlsPeer(s, serverId.bundle, 'client')),
      onTunnel: (t) => t.refuse(503, 'unused'),
      sessionIdleTimeoutMs: 100,
    });
    const port = await quick.listen({ host: LOOP, port: 0 });
    // openssl sends the preface and then nothing: no SETTINGS ack, no PING answers, a dead peer.
    const proc = spawn(
      'openssl',
      ['s_client', '-quiet', '-connect', `${LOOP}:${port}`, '-tls1_3', '-alpn', 'h2'].concat([
        '-cert',
        join(dir, 'client.crt'),
        '-key',
        join(dir, 'client.key'),
        '-CAfile',
        join(dir, 'ca.crt'),
      ]),
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    child = proc;
    try {
      proc.stdin.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'));
      proc.stdin.write(frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0)));
      const started = Date.now();
      while (quick.stats().sessionsTotal === 0 && Date.now() - started < 5000) await sleep(10);
      assert.equal(quick.stats().sessions, 1);
      await once(proc, 'exit');
      const lasted = Date.now() - started;
      // The peer may see the connection close before the server has finished its own bookkeeping.
      const closedBy = Date.now() + 2000;
      while (quick.stats().sessions !== 0 && Date.now() < closedBy) await sleep(10);
      assert.equal(quick.stats().sessions, 0);
      assert.ok(lasted >= 150 && lasted < 5000, `session lived ${lasted} ms`);
    } finally {
      proc.kill();
      child = undefined;
      await quick.close({ deadlineMs: 0 });
    }
  });
});
