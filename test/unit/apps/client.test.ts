import assert from 'node:assert/strict';
import { silentLogger } from '../../../common/log.ts';
import { parseClientArgs, parseHeaderFlag } from '../../../apps/client/args.ts';
import { errorCode, parseBody } from '../../../apps/client/common.ts';
import { echoRequestFor } from '../../../apps/client/grpc.ts';
import { h2RequestHeaders } from '../../../apps/client/h2c.ts';
import { isFailure, runClient } from '../../../apps/client/index.ts';
import type { ClientResponse, ClientResult } from '../../../apps/client/index.ts';
import { startEcho } from '../../../apps/echo/index.ts';
import type { EchoServer } from '../../../apps/echo/index.ts';
import { freePort, runCli } from './helpers.ts';

const CLIENT = 'apps/client/main.ts';

async function collect(results: AsyncIterable<ClientResult>): Promise<ClientResult[]> {
  const out: ClientResult[] = [];
  for await (const r of results) out.push(r);
  return out;
}

function response(result: ClientResult | Record<string, unknown> | undefined): ClientResponse {
  assert.ok(
    result !== undefined && !('error' in result),
    `expected a response, got ${JSON.stringify(result)}`,
  );
  return result as ClientResponse;
}

function facts(result: ClientResult | Record<string, unknown> | undefined): Record<string, unknown> {
  return response(result).body as Record<string, unknown>;
}

describe('apps/client pure helpers', () => {
  it('parses flags', () => {
    assert.deepEqual(
      parseClientArgs([
        'http://[::1]:8080/p?q',
        '--count',
        '3',
        '--concurrency=2',
        '-H',
        'X-A: 1',
        '--header',
        'x-a:2',
        '--data',
        'd',
        '--h2c',
        '--timeout-ms',
        '500',
        '--interval-ms',
        '0',
        '--method',
        'PUT',
      ]),
      {
        url: 'http://[::1]:8080/p?q',
        mode: 'h2c',
        count: 3,
        concurrency: 2,
        method: 'PUT',
        headers: [
          ['X-A', '1'],
          ['x-a', '2'],
        ],
        data: 'd',
        grpcMethod: undefined,
        timeoutMs: 500,
        intervalMs: 0,
      },
    );
    assert.equal(
      parseClientArgs(['grpc://h:1', '--grpc', '--grpc-method', 'EchoStream']).grpcMethod,
      'EchoStream',
    );
  });

  it('refuses bad flags with CLIENT_BAD_ARGS', () => {
    const bad = [
      [],
      ['http://a', 'http://b'],
      ['http://a', '--count', '0'],
      ['http://a', '--count', 'x'],
      ['http://a', '--concurrency', '-1'],
      ['http://a', '--h2c', '--grpc'],
      ['http://a', '--grpc-method', 'Echo'],
      ['grpc://a:1', '--grpc', '--grpc-method', 'Nope'],
      ['grpc://a:1', '--grpc', '--method', 'GET'],
      ['http://a', '-H', 'no colon'],
      ['http://a', '--bogus'],
    ];
    for (const argv of bad)
      assert.throws(() => parseClientArgs(argv), { code: 'CLIENT_BAD_ARGS' }, argv.join(' '));
    assert.deepEqual(parseHeaderFlag('Name:  a: b '), ['Name', 'a: b']);
  });

  it('builds h2 headers, gRPC requests and error codes', () => {
    const h = h2RequestHeaders({
      url: new URL('http://[::1]:1/p?q=1'),
      method: 'GET',
      headers: [
        ['Host', 'other'],
        ['X-A', '1'],
        ['x-a', '2'],
      ],
      data: undefined,
      timeoutMs: 1,
      concurrency: 1,
    });
    assert.deepEqual(h, { ':method': 'GET', ':path': '/p?q=1', ':authority': 'other', 'x-a': ['1', '2'] });
    const v6 = h2RequestHeaders({
      url: new URL('http://[::1]:8/'),
      method: 'GET',
      headers: [],
      data: undefined,
      timeoutMs: 1,
      concurrency: 1,
    });
    assert.equal(v6[':authority'], '[::1]:8', 'IPv6 authority keeps its brackets');
    assert.deepEqual(echoRequestFor('{"status":5,"count":2}'), {
      message: '',
      status: 5,
      delayMs: 0,
      count: 2,
    });
    assert.equal(echoRequestFor('plain').message, 'plain');
    assert.deepEqual(parseBody('{"a":1}'), { a: 1 });
    assert.equal(parseBody('not json'), 'not json');
    const cancelled = Object.assign(
      new Error('cancel', { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) }),
      {
        code: 'ERR_HTTP2_STREAM_CANCEL',
      },
    );
    assert.equal(errorCode(cancelled), 'ECONNREFUSED');
  });
});

describe('apps/client against echo', () => {
  let echo: EchoServer;
  let http: string;
  let grpcUrl: string;

  before(async () => {
    echo = await startEcho({
      httpPorts: [0],
      grpcPort: 0,
      host: '127.0.0.1',
      pod: 'echo-c',
      logger: silentLogger,
    });
    http = `http://127.0.0.1:${echo.httpPorts[0]}`;
    grpcUrl = `grpc://127.0.0.1:${echo.grpcPort}`;
  });
  after(() => echo.stop({ deadlineMs: 500 }));

  it('runs count requests with concurrency in-process', async () => {
    const results = await collect(runClient({ url: `${http}/c?delayMs=20`, count: 6, concurrency: 3 }));
    assert.deepEqual(results.map((r) => r.seq).sort(), [1, 2, 3, 4, 5, 6]);
    for (const r of results) {
      assert.equal(response(r).status, 200);
      assert.ok(r.latencyMs >= 15, `latency ${r.latencyMs}`);
    }
    // Three at a time over keep-alive: at most three client sockets.
    assert.ok(new Set(results.map((r) => facts(r)['remoteAddr'])).size <= 3);
  });

  it('paces request starts with intervalMs', async () => {
    const t0 = Date.now();
    const results = await collect(runClient({ url: http, count: 3, concurrency: 3, intervalMs: 60 }));
    assert.equal(results.length, 3);
    assert.ok(Date.now() - t0 >= 110, `took ${Date.now() - t0} ms`);
  });

  it('reports a timeout as a transport failure', async () => {
    const [result] = await collect(runClient({ url: `${http}/?delayMs=2000`, timeoutMs: 100 }));
    assert.ok(result !== undefined && isFailure(result));
    assert.equal(result.error.code, 'CLIENT_TIMEOUT');
  });

  it('CLI: HTTP/1.1 with headers and data', async () => {
    const run = await runCli(CLIENT, [
      `${http}/cli?x=1`,
      '--count',
      '2',
      '-H',
      'X-Cli: one',
      '--data',
      'payload',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.lines.length, 2);
    const first = response(run.lines[0]);
    assert.equal(first.status, 200);
    assert.equal(first.proto, 'HTTP/1.1');
    assert.equal(first.headers['content-type'], 'application/json');
    assert.equal(typeof first.latencyMs, 'number');
    const body = facts(run.lines[0]);
    assert.equal(body['method'], 'POST');
    assert.equal(body['body'], 'payload');
    assert.equal(body['path'], '/cli?x=1');
    assert.deepEqual((body['headers'] as Record<string, string[]>)['x-cli'], ['one']);
  });

  it('CLI: h2c reuses one session', async () => {
    const run = await runCli(CLIENT, [
      `${http}/h2?status=503`,
      '--h2c',
      '--count',
      '3',
      '--concurrency',
      '2',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.lines.length, 3);
    for (const line of run.lines) {
      assert.equal(response(line).status, 503);
      assert.equal(response(line).proto, 'HTTP/2.0');
      assert.equal(facts(line)['proto'], 'HTTP/2.0');
    }
    assert.equal(new Set(run.lines.map((l) => facts(l)['remoteAddr'])).size, 1);
  });

  it('CLI: gRPC unary, stream and status', async () => {
    const [unary, stream, failed] = await Promise.all([
      runCli(CLIENT, [grpcUrl, '--grpc', '-H', 'x-meta: m', '--data', 'hello']),
      runCli(CLIENT, [grpcUrl, '--grpc', '--grpc-method', 'EchoStream', '--data', '{"count":2}']),
      runCli(CLIENT, [grpcUrl, '--grpc', '-H', 'x-echo-status: NOT_FOUND']),
    ]);
    assert.equal(unary.code, 0, unary.stderr);
    const u = response(unary.lines[0]);
    assert.equal(u.status, 0);
    assert.equal(u.grpcStatus, 'OK');
    assert.equal(u.proto, 'grpc');
    const ub = u.body as { pod: string; message: string; metadata: Record<string, { values: string[] }> };
    assert.equal(ub.pod, 'echo-c');
    assert.equal(ub.message, 'hello');
    assert.deepEqual(ub.metadata['x-meta']?.values, ['m']);

    assert.equal(stream.code, 0, stream.stderr);
    const sb = response(stream.lines[0]).body as Array<{ seq: number }>;
    assert.deepEqual(
      sb.map((m) => m.seq),
      [0, 1],
    );

    assert.equal(failed.code, 0, 'a gRPC error status is still a response');
    assert.equal(response(failed.lines[0]).status, 5);
    assert.equal(response(failed.lines[0]).grpcStatus, 'NOT_FOUND');
  });

  it('CLI: bad arguments exit 2 with a one-line reason', async () => {
    const run = await runCli(CLIENT, ['--count', 'nope', http]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^client: --count must be an integer >= 1, got "nope"\n$/);
  });

  it('CLI: connection refused prints an error line and exits 1', async () => {
    const port = await freePort();
    const [h1, h2c, grpcRun] = await Promise.all([
      runCli(CLIENT, [`http://127.0.0.1:${port}/`]),
      runCli(CLIENT, [`http://127.0.0.1:${port}/`, '--h2c']),
      runCli(CLIENT, [`grpc://127.0.0.1:${port}`, '--grpc', '--timeout-ms', '3000']),
    ]);
    for (const [name, run, code] of [
      ['http1', h1, 'ECONNREFUSED'],
      ['h2c', h2c, 'ECONNREFUSED'],
      ['grpc', grpcRun, 'UNAVAILABLE'],
    ] as const) {
      assert.equal(run.code, 1, `${name}: ${run.stderr}`);
      assert.equal(run.lines.length, 1, name);
      const line = run.lines[0] as {
        seq: number;
        error: { code: string; message: string };
        latencyMs: number;
      };
      assert.equal(line.seq, 1);
      assert.equal(line.error.code, code, name);
      assert.ok(line.error.message.length > 0);
    }
  });
});
