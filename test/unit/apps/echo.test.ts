import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../../../common/log.ts';
import { parseEchoArgs } from '../../../apps/echo/args.ts';
import { parseControls } from '../../../apps/echo/controls.ts';
import { formatAddress, headerValues, renderFacts, spiffeIdFromSan } from '../../../apps/echo/facts.ts';
import { requestedStatus } from '../../../apps/echo/grpc.ts';
import { startEcho } from '../../../apps/echo/index.ts';
import type { EchoServer } from '../../../apps/echo/index.ts';
import { loadEchoProto, toEchoResponse } from '../../../apps/echo/proto.ts';
import type { EchoResponseMessage } from '../../../apps/echo/proto.ts';
import { H2_PREFACE, classifyPreface } from '../../../apps/echo/sniff.ts';
import { REPO_ROOT, TEST_SPIFFE_ID, h1Request, h2Request, makePki, runCli } from './helpers.ts';
import type { TestPki } from './helpers.ts';

describe('apps/echo pure helpers', () => {
  it('classifies the HTTP/2 preface byte by byte', () => {
    const cases: Array<[string, Buffer, string | undefined]> = [
      ['full preface', H2_PREFACE, 'h2'],
      ['preface plus frames', Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4])]), 'h2'],
      ['prefix of the preface', H2_PREFACE.subarray(0, 10), undefined],
      ['GET request', Buffer.from('GET / HTTP/1.1\r\n'), 'http1'],
      ['differs after PRI', Buffer.from('PRI / HTTP/1.1\r\n'), 'http1'],
    ];
    for (const [name, head, want] of cases) assert.equal(classifyPreface(head), want, name);
  });

  it('parses controls and rejects bad values', () => {
    const ok = parseControls('/p?status=418&delayMs=5&size=100', ['X-A: 1', 'x-a:2']);
    assert.deepEqual(ok, {
      ok: true,
      controls: {
        status: 418,
        delayMs: 5,
        size: 100,
        setHeaders: [
          ['x-a', '1'],
          ['x-a', '2'],
        ],
      },
    });
    const bad: Array<[string, string[]]> = [
      ['/?status=99', []],
      ['/?status=600', []],
      ['/?status=abc', []],
      ['/?status=101', []],
      ['/?delayMs=-1', []],
      ['/?delayMs=60001', []],
      ['/?size=1.5', []],
      ['/?size=16777217', []],
      ['/', ['no colon']],
      ['/', ['bad name: x']],
      ['/', ['content-length: 3']],
    ];
    for (const [path, setHeaders] of bad)
      assert.equal(parseControls(path, setHeaders).ok, false, path + setHeaders.join());
  });

  it('reads the spiffe URI SAN, quoted or not', () => {
    assert.equal(spiffeIdFromSan('DNS:a, URI:spiffe://td/ns/x/sa/y'), 'spiffe://td/ns/x/sa/y');
    assert.equal(spiffeIdFromSan('URI:"spiffe://td/ns/x/sa/y,z"'), 'spiffe://td/ns/x/sa/y,z');
    assert.equal(spiffeIdFromSan('URI:https://example.com'), null);
    assert.equal(spiffeIdFromSan(undefined), null);
  });

  it('folds raw headers, formats addresses and pads bodies', () => {
    assert.deepEqual(headerValues([':path', '/', 'X-A', '1', 'x-a', '2', 'Host', 'h']), {
      'x-a': ['1', '2'],
      host: ['h'],
    });
    assert.equal(formatAddress('::1', 80), '[::1]:80');
    assert.equal(formatAddress('10.0.0.1', 80), '10.0.0.1:80');
    assert.equal(formatAddress('::ffff:10.0.0.1', 80), '10.0.0.1:80');
    for (const size of [0, 20, 21, 22, 23, 500]) {
      const out = renderFacts({ a: 1 }, size);
      assert.ok(Buffer.byteLength(out) >= size, `size ${size}`);
      assert.ok(Buffer.byteLength(out) <= Math.max(size, 8) + 14, `size ${size} not over-padded`);
    }
  });

  it('maps requested gRPC statuses', () => {
    assert.equal(requestedStatus(0, undefined).code, grpc.status.OK);
    assert.equal(requestedStatus(7, 'NOT_FOUND').code, grpc.status.PERMISSION_DENIED);
    assert.equal(requestedStatus(0, 'not_found').code, grpc.status.NOT_FOUND);
    assert.equal(requestedStatus(0, '14').code, grpc.status.UNAVAILABLE);
    assert.equal(requestedStatus(0, 'BOGUS').code, grpc.status.INVALID_ARGUMENT);
    assert.equal(requestedStatus(0, '17').code, grpc.status.INVALID_ARGUMENT);
  });

  it('parses echo flags and refuses bad ones', () => {
    assert.deepEqual(parseEchoArgs(['--http-port', '1,2', '--http-port', '3', '--host', '127.0.0.1']), {
      httpPorts: [1, 2, 3],
      grpcPort: 9090,
      tcpPort: 9000,
      host: '127.0.0.1',
    });
    assert.deepEqual(parseEchoArgs([]).httpPorts, [8080]);
    for (const argv of [
      ['--http-port', 'x'],
      ['--grpc-port', '70000'],
      ['--bogus'],
      ['--tls-port', '1'],
      ['extra'],
    ]) {
      assert.throws(() => parseEchoArgs(argv), { code: 'ECHO_BAD_ARGS' }, argv.join(' '));
    }
  });
});

interface GrpcResult {
  readonly error: grpc.ServiceError | null;
  readonly messages: EchoResponseMessage[];
}

function grpcCall(
  port: number,
  method: 'Echo' | 'EchoStream',
  request: object,
  md: Record<string, string> = {},
): Promise<GrpcResult> {
  const proto = loadEchoProto();
  const def = method === 'Echo' ? proto.echo : proto.echoStream;
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  const serialize = (v: object): Buffer => def.requestSerialize(v);
  const deserialize = (b: Buffer): EchoResponseMessage => toEchoResponse(def.responseDeserialize(b));
  return new Promise((resolve) => {
    const done = (error: grpc.ServiceError | null, messages: EchoResponseMessage[]): void => {
      client.close();
      resolve({ error, messages });
    };
    if (method === 'Echo') {
      client.makeUnaryRequest(def.path, serialize, deserialize, request, metadata, (err, value) =>
        done(err ?? null, value === undefined ? [] : [value]),
      );
      return;
    }
    const messages: EchoResponseMessage[] = [];
    const call = client.makeServerStreamRequest(def.path, serialize, deserialize, request, metadata);
    call.on('data', (m: EchoResponseMessage) => messages.push(m));
    call.on('error', (err: grpc.ServiceError) => done(err, messages));
    call.on('end', () => done(null, messages));
  });
}

describe('apps/echo server', () => {
  let echo: EchoServer;
  let port: number;

  before(async () => {
    echo = await startEcho({
      httpPorts: [0],
      grpcPort: 0,
      tcpPort: 0,
      host: '127.0.0.1',
      pod: 'echo-0',
      namespace: 'apps',
      logger: silentLogger,
    });
    port = echo.httpPorts[0] ?? 0;
  });
  after(() => echo.stop({ deadlineMs: 500 }));

  it('reports every HTTP/1.1 fact', async () => {
    const res = await h1Request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/facts/x?q=1&r=2',
      headers: { 'X-Multi': ['a', 'b'], 'content-type': 'text/plain' },
      body: 'hello body',
      agent: false,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    const facts = res.json;
    assert.equal(facts['pod'], 'echo-0');
    assert.equal(facts['namespace'], 'apps');
    assert.equal(facts['host'], `127.0.0.1:${port}`);
    assert.equal(facts['path'], '/facts/x?q=1&r=2');
    assert.equal(facts['method'], 'POST');
    assert.equal(facts['proto'], 'HTTP/1.1');
    const headers = facts['headers'] as Record<string, string[]>;
    assert.deepEqual(headers['x-multi'], ['a', 'b']);
    assert.deepEqual(headers['content-type'], ['text/plain']);
    assert.match(String(facts['remoteAddr']), /^127\.0\.0\.1:\d+$/);
    assert.equal(facts['port'], port);
    assert.equal(facts['body'], 'hello body');
    assert.equal(facts['peerSpiffeId'], null);
  });

  it('truncates request bodies to 64 KiB', async () => {
    const res = await h1Request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: '/',
      body: 'y'.repeat(70_000),
      agent: false,
    });
    assert.equal(String(res.json['body']).length, 64 * 1024);
  });

  it('speaks h2c with prior knowledge on the same port', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const res = await h2Request(
        session,
        { ':method': 'POST', ':path': '/h2?x=1', 'x-h2': 'yes' },
        'h2 body',
      );
      assert.equal(res.status, 200);
      assert.equal(res.json['proto'], 'HTTP/2.0');
      assert.equal(res.json['host'], `127.0.0.1:${port}`);
      assert.equal(res.json['path'], '/h2?x=1');
      assert.equal(res.json['method'], 'POST');
      assert.equal(res.json['body'], 'h2 body');
      assert.equal(res.json['port'], port);
      assert.deepEqual((res.json['headers'] as Record<string, string[]>)['x-h2'], ['yes']);
      const again = await h2Request(session, { ':path': '/?status=404' });
      assert.equal(again.status, 404);
      assert.equal(again.json['remoteAddr'], res.json['remoteAddr'], 'one session, one connection');
    } finally {
      session.close();
    }
  });

  it('sniffs correctly when the first bytes arrive split (P… is also how the preface starts)', async () => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write('P');
    await new Promise((resolve) => setTimeout(resolve, 20));
    socket.write('UT /split HTTP/1.1\r\nHost: split\r\nConnection: close\r\n\r\n');
    await closed;
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /"method":"PUT"/);
    assert.match(text, /"path":"\/split"/);
  });

  it('keeps HTTP/1.1 connections alive', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<net.Socket>();
      agent.on('free', (socket: net.Socket) => sockets.add(socket));
      const a = await h1Request({ host: '127.0.0.1', port, path: '/1', agent });
      const b = await h1Request({ host: '127.0.0.1', port, path: '/2', agent });
      assert.equal(a.json['remoteAddr'], b.json['remoteAddr']);
      assert.equal(sockets.size, 1);
    } finally {
      agent.destroy();
    }
  });

  it('answers ?status, ?delayMs and ?size', async () => {
    const teapot = await h1Request({ host: '127.0.0.1', port, path: '/?status=418', agent: false });
    assert.equal(teapot.status, 418);
    assert.equal(teapot.json['path'], '/?status=418');
    const t0 = Date.now();
    const slow = await h1Request({ host: '127.0.0.1', port, path: '/?delayMs=150', agent: false });
    assert.equal(slow.status, 200);
    assert.ok(Date.now() - t0 >= 140, `answered after ${Date.now() - t0} ms`);
    const big = await h1Request({ host: '127.0.0.1', port, path: '/?size=5000', agent: false });
    assert.ok(big.text.length >= 5000 && big.text.length < 5020, `length ${big.text.length}`);
    assert.equal(Number(big.headers['content-length']), big.text.length);
    assert.match(String(big.json['padding']), /^x+$/);
  });

  it('sets response headers from x-echo-set-header', async () => {
    const res = await h1Request({
      host: '127.0.0.1',
      port,
      path: '/',
      headers: { 'x-echo-set-header': ['X-One: a', 'X-One: b', 'Cache-Control: no-store'] },
      agent: false,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-one'], 'a, b');
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it('answers 400 with a JSON error for bad controls', async () => {
    for (const path of [
      '/?status=600',
      '/?status=x',
      '/?delayMs=-5',
      '/?delayMs=99999',
      '/?size=abc',
      '/?size=99999999',
    ]) {
      const res = await h1Request({ host: '127.0.0.1', port, path, agent: false });
      assert.equal(res.status, 400, path);
      const error = res.json['error'] as { code: string; message: string };
      assert.equal(error.code, 'ECHO_BAD_REQUEST', path);
      assert.ok(error.message.length > 0);
    }
    const res = await h1Request({
      host: '127.0.0.1',
      port,
      path: '/',
      headers: { 'x-echo-set-header': 'nocolon' },
      agent: false,
    });
    assert.equal(res.status, 400);
  });

  it('answers gRPC unary calls with the same facts', async () => {
    const { error, messages } = await grpcCall(
      echo.grpcPort ?? 0,
      'Echo',
      { message: 'hi' },
      { 'x-test': 'v' },
    );
    assert.equal(error, null);
    const [msg] = messages;
    assert.ok(msg);
    assert.equal(msg.pod, 'echo-0');
    assert.equal(msg.namespace, 'apps');
    assert.equal(msg.method, '/waymesh.echo.v1.Echo/Echo');
    assert.equal(msg.message, 'hi');
    assert.equal(msg.port, echo.grpcPort);
    assert.deepEqual(msg.metadata['x-test']?.values, ['v']);
    assert.match(msg.peer, /127\.0\.0\.1:\d+/);
    assert.equal(msg.authority, `127.0.0.1:${echo.grpcPort}`);
  });

  it('streams count responses and waits delay_ms first', async () => {
    const t0 = Date.now();
    const { error, messages } = await grpcCall(echo.grpcPort ?? 0, 'EchoStream', { count: 4, delayMs: 100 });
    assert.equal(error, null);
    assert.ok(Date.now() - t0 >= 90);
    assert.deepEqual(
      messages.map((m) => m.seq),
      [0, 1, 2, 3],
    );
    assert.equal(messages[0]?.method, '/waymesh.echo.v1.Echo/EchoStream');
  });

  it('fails gRPC calls with the requested status', async () => {
    const byMetadata = await grpcCall(echo.grpcPort ?? 0, 'Echo', {}, { 'x-echo-status': 'NOT_FOUND' });
    assert.equal(byMetadata.error?.code, grpc.status.NOT_FOUND);
    assert.equal(byMetadata.error?.metadata.get('x-echo-pod')[0], 'echo-0');
    const byField = await grpcCall(echo.grpcPort ?? 0, 'Echo', { status: grpc.status.PERMISSION_DENIED });
    assert.equal(byField.error?.code, grpc.status.PERMISSION_DENIED);
    const stream = await grpcCall(echo.grpcPort ?? 0, 'EchoStream', {}, { 'x-echo-status': '14' });
    assert.equal(stream.error?.code, grpc.status.UNAVAILABLE);
    assert.equal(stream.messages.length, 0);
  });

  it('echoes TCP bytes and respects half-close', async () => {
    const socket = net.connect(echo.tcpPort ?? 0, '127.0.0.1');
    const received: Buffer[] = [];
    const ended = new Promise<void>((resolve) => socket.once('end', resolve));
    socket.on('data', (c: Buffer) => received.push(c));
    socket.write('first ');
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(Buffer.concat(received).toString(), 'first ', 'echoed before the client half-closes');
    socket.end('second');
    await ended;
    assert.equal(Buffer.concat(received).toString(), 'first second');
    socket.destroy();
  });
});

describe('apps/echo TLS', () => {
  let pki: TestPki;
  let echo: EchoServer;

  before(async () => {
    pki = makePki();
    echo = await startEcho({ host: '127.0.0.1', tlsDir: pki.dir, tlsPort: 0, logger: silentLogger });
  });
  after(async () => {
    await echo.stop({ deadlineMs: 500 });
    pki.cleanup();
  });

  const get = (client?: { key: Buffer; cert: Buffer }): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      // https' RequestOptions type omits the TLS options it passes through to tls.connect.
      const options: https.RequestOptions & Pick<ConnectionOptions, 'ALPNProtocols'> = {
        host: '127.0.0.1',
        port: echo.tlsPort,
        path: '/tls',
        ca: pki.root,
        ALPNProtocols: ['http/1.1'],
        ...client,
        agent: false,
      };
      const req = https.request(options, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.once('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
      });
      req.once('error', reject);
      req.end();
    });

  it('reports the verified client SPIFFE id over HTTP/1.1', async () => {
    const facts = await get(pki.client);
    assert.equal(facts['peerSpiffeId'], TEST_SPIFFE_ID);
    assert.equal(facts['proto'], 'HTTP/1.1');
    assert.deepEqual(facts['tls'], { alpnProtocol: 'http/1.1', peerAuthorized: true });
  });

  it('reports null without a client cert or with an unverified one', async () => {
    assert.equal((await get())['peerSpiffeId'], null);
    const rogue = await get(pki.rogue);
    assert.equal(rogue['peerSpiffeId'], null);
    assert.deepEqual(rogue['tls'], { alpnProtocol: 'http/1.1', peerAuthorized: false });
  });

  it('negotiates h2 by ALPN', async () => {
    const session = http2.connect(`https://127.0.0.1:${echo.tlsPort}`, { ca: pki.root, ...pki.client });
    try {
      const res = await h2Request(session, { ':path': '/h2' });
      assert.equal(res.json['proto'], 'HTTP/2.0');
      assert.equal(res.json['peerSpiffeId'], TEST_SPIFFE_ID);
    } finally {
      session.close();
    }
  });
});

describe('apps/echo graceful stop', () => {
  it('lets in-flight requests finish, then refuses new connections', async () => {
    const echo = await startEcho({ httpPorts: [0], host: '127.0.0.1', logger: silentLogger });
    const port = echo.httpPorts[0] ?? 0;
    const inflight = h1Request({ host: '127.0.0.1', port, path: '/?delayMs=200', agent: false });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopped = echo.stop({ deadlineMs: 2000 });
    const res = await inflight;
    assert.equal(res.status, 200);
    assert.equal(res.headers['connection'], 'close');
    await stopped;
    await assert.rejects(h1Request({ host: '127.0.0.1', port, path: '/', agent: false }), {
      code: 'ECONNREFUSED',
    });
  });

  it('destroys what is still running at the deadline', async () => {
    const echo = await startEcho({ httpPorts: [0], host: '127.0.0.1', logger: silentLogger });
    const inflight = h1Request({
      host: '127.0.0.1',
      port: echo.httpPorts[0],
      path: '/?delayMs=5000',
      agent: false,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const t0 = Date.now();
    await echo.stop({ deadlineMs: 100 });
    assert.ok(Date.now() - t0 < 1000, `stop took ${Date.now() - t0} ms`);
    await assert.rejects(inflight, { code: 'ECONNRESET' });
  });

  it('fails to start on a busy port and names the problem', async () => {
    const first = await startEcho({ httpPorts: [0], host: '127.0.0.1', logger: silentLogger });
    try {
      await assert.rejects(
        startEcho({ httpPorts: [first.httpPorts[0] ?? 0], host: '127.0.0.1', logger: silentLogger }),
        {
          code: 'ECHO_LISTEN_FAILED',
        },
      );
    } finally {
      await first.stop();
    }
  });
});

/** The fields of echo's startup log line that the CLI test reads. */
interface StartLine {
  readonly httpPorts: number[];
  readonly grpcPort: number;
  readonly tcpPort: number;
  readonly pod: string;
  readonly namespace: string;
}

describe('apps/echo CLI', () => {
  it('exits 2 with a one-line reason on a bad flag', async () => {
    const run = await runCli('apps/echo/main.ts', ['--http-port', 'eighty']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^echo: --http-port must be a port from 0 to 65535, got "eighty"\n$/);
  });

  it('logs one startup line with its ports and drains on SIGTERM', async () => {
    const args = ['--http-port', '0', '--grpc-port', '0', '--tcp-port', '0', '--host', '127.0.0.1'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/echo/main.ts', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, POD_NAME: 'cli-pod', POD_NAMESPACE: 'cli-ns' },
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const started = new Promise<StartLine>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const line = stderr.split('\n').find((l) => l.includes('"echo started"'));
        if (line !== undefined) resolve(JSON.parse(line) as StartLine);
      });
      void exited.then((code) => reject(new Error(`echo exited ${code}: ${stderr}`)));
    });
    const info = await started;
    assert.equal(info.pod, 'cli-pod');
    assert.equal(info.namespace, 'cli-ns');
    assert.equal(info.httpPorts.length, 1);
    assert.ok(info.grpcPort > 0 && info.tcpPort > 0);
    const inflight = h1Request({
      host: '127.0.0.1',
      port: info.httpPorts[0],
      path: '/?delayMs=300',
      agent: false,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGTERM');
    assert.equal((await inflight).status, 200, 'the in-flight request finished during the drain');
    assert.equal(await exited, 0);
    assert.match(stderr, /"msg":"echo stopped"/);
  });
});
