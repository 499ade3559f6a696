// The Unix-socket forwarder: a TCP listener inside a test network namespace piping to a Unix
// socket on the host filesystem, as the lab reaches its API server. Bytes come back, FIN is passed
// on both ways, many connections run at once, a failing upstream only fails its own connection,
// and SIGTERM lets open connections finish. Needs root; never skipped. Traffic stays on the
// test namespace's loopback and the Unix socket: no link or route to the host's network.
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'mocha';

import { startForwarder } from '../../lab/forward/forwarder.ts';
import { assertRoot, NetnsLab, type TestNetns } from '../helpers/netns.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const FORWARD_MAIN = join(ROOT, 'lab/forward/main.ts');
const PORT = 6443;

/** Unix-socket echo server: echoes, and on the client's FIN sends `bye` and closes its side. */
function unixEcho(path: string): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('end', () => socket.end('bye'));
    socket.on('error', () => undefined);
  });
  return new Promise((done) => server.listen(path, () => done(server)));
}

/**
 * A client run inside the namespace: opens `conns` connections, sends `size` bytes on each
 * (distinct per connection), half-closes, and prints per connection whether the echo plus `bye`
 * came back intact.
 */
const CLIENT = `
const net = require('node:net');
const [port, conns, size] = process.argv.slice(1).map(Number);
const one = (i) => new Promise((resolve) => {
  const payload = Buffer.alloc(size, String.fromCharCode(97 + (i % 26)));
  const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const got = [];
  s.on('data', (c) => got.push(c));
  s.on('error', (e) => resolve('error ' + e.message));
  s.on('end', () => {
    const all = Buffer.concat(got);
    const ok = all.length === size + 3 && all.subarray(0, size).equals(payload) && all.subarray(size).toString() === 'bye';
    s.end();
    resolve(ok ? 'ok' : 'bad ' + all.length);
  });
  s.end(payload);
});
Promise.all(Array.from({ length: conns }, (_, i) => one(i))).then((r) => console.log(JSON.stringify(r)));
`;

function waitForLog(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((done, fail) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`no ${String(pattern)} in output: ${seen}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stderr?.off('data', onData);
        done(seen);
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => fail(new Error(`exited with ${code}: ${seen}`)));
  });
}

describe('lab/forward in a network namespace', function () {
  this.timeout(60_000);
  const lab = new NetnsLab();
  const dir = mkdtempSync(join(tmpdir(), 'wm-forward-'));
  const sock = join(dir, 'api.sock');
  let echo: net.Server;
  let ns: TestNetns;
  let forwarder: ChildProcess;
  const cleanupDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanupDir);

  before(async () => {
    assertRoot();
    echo = await unixEcho(sock);
    ns = await lab.createNetns();
    forwarder = lab.spawn(ns, process.execPath, [
      '--import',
      'tsx',
      FORWARD_MAIN,
      '--listen',
      `127.0.0.1:${PORT}`,
      '--to',
      sock,
    ]);
    await waitForLog(forwarder, /"msg":"forwarding"/);
  });

  after(async () => {
    try {
      await lab.cleanup();
    } finally {
      await new Promise<void>((done) => echo.close(() => done()));
      cleanupDir();
    }
  });

  async function runClient(conns: number, size: number): Promise<string[]> {
    const { stdout } = await lab.exec(ns, process.execPath, [
      '-e',
      CLIENT,
      String(PORT),
      String(conns),
      String(size),
    ]);
    return JSON.parse(stdout) as string[];
  }

  it('pipes bytes to the Unix socket and back, passing the half-close on', async () => {
    assert.deepEqual(await runClient(1, 5), ['ok']);
  });

  it('moves 16 MiB through one connection (back-pressure, no loss)', async () => {
    assert.deepEqual(await runClient(1, 16 * 1024 * 1024), ['ok']);
  });

  it('serves 100 parallel connections', async () => {
    const results = await runClient(100, 64 * 1024);
    assert.equal(results.length, 100);
    assert.deepEqual(new Set(results), new Set(['ok']));
  });

  it('on SIGTERM stops accepting, lets an open connection finish, then exits', async () => {
    // A client that connects, says `hi`, and finishes only when told on stdin.
    const held = lab.spawn(ns, process.execPath, [
      '-e',
      `const s = require('node:net').connect({ host: '127.0.0.1', port: ${PORT}, allowHalfOpen: true });
       let got = '';
       s.on('data', (c) => { got += c; if (got === 'hi') console.log('ready'); });
       s.on('end', () => { console.log('got ' + got); s.end(); });
       s.write('hi');
       process.stdin.once('data', () => { process.stdin.destroy(); s.end('!'); });`,
    ]);
    await new Promise<void>((done) => held.stdout?.once('data', () => done()));
    const exited = new Promise<number | null>((done) => forwarder.once('exit', (code) => done(code)));
    const stopping = waitForLog(forwarder, /"msg":"stopping"/);
    forwarder.kill('SIGTERM');
    await stopping;
    assert.match((await runClient(1, 1))[0] ?? '', /ECONNREFUSED/);
    let out = '';
    held.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    held.stdin?.write('go\n');
    assert.equal(await exited, 0);
    await new Promise<void>((done) => (held.exitCode !== null ? done() : held.once('exit', () => done())));
    assert.match(out, /got hi!bye/);
  });
});

describe('lab/forward in-process', () => {
  it('fails only the connection whose upstream is missing, and keeps listening', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wm-forward-'));
    const fwd = await startForwarder({ host: '127.0.0.1', port: 0, socketPath: join(dir, 'missing.sock') });
    try {
      for (let i = 0; i < 3; i++) {
        const closed = await new Promise<string>((done) => {
          const s = net.connect({ host: '127.0.0.1', port: fwd.port });
          s.on('error', (e) => done(`error ${e.message}`));
          s.on('close', () => done('closed'));
          s.write('x');
        });
        assert.match(closed, /closed|ECONNRESET/);
      }
    } finally {
      await fwd.stop({ deadlineMs: 100 });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('destroys connections still open at the stop deadline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wm-forward-'));
    const echo = await unixEcho(join(dir, 'e.sock'));
    const fwd = await startForwarder({ host: '127.0.0.1', port: 0, socketPath: join(dir, 'e.sock') });
    try {
      const s = net.connect({ host: '127.0.0.1', port: fwd.port });
      await new Promise<void>((done) => s.once('data', () => done()).write('ping'));
      const closed = new Promise<void>((done) => s.once('close', () => done()));
      s.on('error', () => undefined);
      const started = Date.now();
      await fwd.stop({ deadlineMs: 200 });
      await closed;
      const took = Date.now() - started;
      assert.ok(took >= 150 && took < 2000, `stopped after ${took} ms`);
    } finally {
      await new Promise<void>((done) => echo.close(() => done()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
