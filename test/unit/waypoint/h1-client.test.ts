import { strict as assert } from 'node:assert';
import net from 'node:net';
import { Readable } from 'node:stream';

import { MeshError } from '../../../common/errors.ts';
import { RawH1Pool } from '../../../waypoint/http/h1/client.ts';
import type { UpstreamRequestSpec, UpstreamResponse } from '../../../waypoint/http/upstream-types.ts';

/** A scripted backend on loopback: `answer(request text, socket)` writes what it wants. */
class Backend {
  readonly requests: string[] = [];
  connections = 0;
  private raw: ((d: Buffer) => void) | undefined;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(answer: (request: string, socket: net.Socket, index: number) => void) {
    this.server = net.createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      let text = '';
      socket.on('data', (d: Buffer) => {
        this.raw?.(d);
        text += d.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        if (end < 0) return;
        const cl = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end));
        const chunked = /\r\ntransfer-encoding: chunked/i.test(text.slice(0, end));
        const bodyLength = cl === null ? 0 : Number(cl[1]);
        if (chunked && !text.endsWith('0\r\n\r\n')) return;
        if (!chunked && text.length < end + 4 + bodyLength) return;
        const request = text;
        text = '';
        this.requests.push(request);
        answer(request, socket, this.requests.length - 1);
      });
    });
  }

  /** Also hands every received chunk, as bytes, to `f`. */
  onRaw(f: (d: Buffer) => void): void {
    this.raw = f;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  pool(keepAliveMs = 5000): RawH1Pool {
    return new RawH1Pool(
      (signal) =>
        new Promise((resolve, reject) => {
          signal.throwIfAborted();
          const s = net.connect({ host: '127.0.0.1', port: this.port });
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
      { connectTimeoutMs: 2000, keepAliveMs },
    );
  }
}

const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';

function spec(over: Partial<UpstreamRequestSpec> = {}): UpstreamRequestSpec {
  return {
    method: 'GET',
    pathAndQuery: '/a?b=1',
    authority: 'web:80',
    headers: { 'x-a': '1' },
    body: undefined,
    ...over,
  };
}

async function text(r: UpstreamResponse): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of r.body) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('latin1');
}

describe('waypoint h1 upstream pool (raw streams)', () => {
  let backend: Backend | undefined;
  let pool: RawH1Pool | undefined;
  afterEach(async () => {
    await pool?.close();
    await backend?.stop();
    pool = undefined;
    backend = undefined;
  });

  async function serve(answer: ConstructorParameters<typeof Backend>[0]): Promise<RawH1Pool> {
    backend = new Backend(answer);
    await backend.start();
    pool = backend.pool();
    return pool;
  }

  it('sends the head and a buffered body in one request and reuses the connection', async () => {
    const p = await serve((_r, s) => s.write(OK));
    const one = await p.send(
      spec({ method: 'POST', body: Buffer.from('hello'), headers: { 'x-a': ['1', '2'] } }),
      new AbortController().signal,
    );
    assert.equal(one.status, 200);
    assert.equal(await text(one), 'ok');
    const two = await p.send(spec(), new AbortController().signal);
    assert.equal(await text(two), 'ok');
    assert.equal(backend?.connections, 1, 'the second request reused the connection');
    assert.equal(
      backend?.requests[0],
      'POST /a?b=1 HTTP/1.1\r\nhost: web:80\r\nx-a: 1\r\nx-a: 2\r\ncontent-length: 5\r\n\r\nhello',
    );
    assert.equal(backend?.requests[1], 'GET /a?b=1 HTTP/1.1\r\nhost: web:80\r\nx-a: 1\r\n\r\n');
  });

  it('closes a connection left unused for the keep-alive time, and only then', async () => {
    backend = new Backend((_r, s) => s.write(OK));
    await backend.start();
    pool = backend.pool(150);
    await text(await pool.send(spec(), new AbortController().signal));
    assert.equal(pool.size, 1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await text(await pool.send(spec(), new AbortController().signal));
    assert.equal(backend.connections, 1, 'reused before the keep-alive time ran out');
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(pool.size, 0);
  });

  it('streams a request body of unknown length with the chunked coding', async () => {
    const p = await serve((_r, s) => s.write(OK));
    const r = await p.send(
      spec({ method: 'PUT', body: Readable.from([Buffer.from('ab'), Buffer.from('cde')]) }),
      new AbortController().signal,
    );
    assert.equal(await text(r), 'ok');
    assert.match(
      backend?.requests[0] ?? '',
      /transfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n$/,
    );
  });

  it('reads chunked bodies with trailers, repeated fields as arrays, and skips 100 Continue', async () => {
    const p = await serve((_r, s) =>
      s.write(
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '3\r\nabc\r\n2\r\nde\r\n0\r\nGrpc-Status: 0\r\n\r\n',
      ),
    );
    const r = await p.send(spec(), new AbortController().signal);
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(await text(r), 'abcde');
    assert.deepEqual({ ...r.trailers() }, { 'grpc-status': '0' });
    await p.send(spec(), new AbortController().signal).then(text);
    assert.equal(backend?.connections, 1);
  });

  it('reads a body delimited by the connection closing, and does not reuse that connection', async () => {
    const p = await serve((_r, s) => s.end('HTTP/1.1 200 OK\r\n\r\nuntil the end'));
    assert.equal(await text(await p.send(spec(), new AbortController().signal)), 'until the end');
    assert.equal(await text(await p.send(spec(), new AbortController().signal)), 'until the end');
    assert.equal(backend?.connections, 2);
  });

  it('sends an idempotent request again when a reused connection dies before answering', async () => {
    // The keep-alive race: the server drops the connection as the second request arrives.
    const p = await serve((_r, s, i) => (i === 1 ? s.destroy() : s.write(OK)));
    assert.equal(await text(await p.send(spec(), new AbortController().signal)), 'ok');
    assert.equal(await text(await p.send(spec(), new AbortController().signal)), 'ok');
    assert.equal(backend?.connections, 2);
    assert.equal(backend?.requests.length, 3);
  });

  it('does not send a POST again when its reused connection dies', async () => {
    const p = await serve((_r, s, i) => (i === 1 ? s.destroy() : s.write(OK)));
    assert.equal(await text(await p.send(spec(), new AbortController().signal)), 'ok');
    const post = spec({ method: 'POST', body: Buffer.from('x') });
    await assert.rejects(p.send(post, new AbortController().signal), /closed/);
    assert.equal(backend?.requests.length, 2);
  });

  it('refuses header values that could split the request, before writing anything', async () => {
    const p = await serve((_r, s) => s.write(OK));
    await assert.rejects(
      p.send(spec({ headers: { 'x-a': 'v\r\nx-evil: 1' } }), new AbortController().signal),
      /control character/,
    );
    await assert.rejects(
      p.send(spec({ headers: { 'x a': 'v' } }), new AbortController().signal),
      /not a token/,
    );
    await assert.rejects(
      p.send(spec({ pathAndQuery: '/a b' }), new AbortController().signal),
      /cannot carry/,
    );
    await assert.rejects(
      p.send(spec({ headers: { 'x-a': 'price \u20ac' } }), new AbortController().signal),
      /beyond latin1/,
    );
    assert.deepEqual(backend?.requests, []);
  });

  it('sends field values byte for byte as received (obs-text stays one byte)', async () => {
    const p = await serve((_r, s) => s.write(OK));
    const got: Buffer[] = [];
    backend?.onRaw((d) => got.push(d));
    await text(await p.send(spec({ headers: { 'x-a': 'caf\u00e9' } }), new AbortController().signal));
    const raw = Buffer.concat(got);
    assert.ok(
      raw.includes(Buffer.from([0x78, 0x2d, 0x61, 0x3a, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0d, 0x0a])),
      raw.toString('latin1'),
    );
  });

  it('fails a malformed response with a MeshError and drops the connection', async () => {
    const p = await serve((_r, s, i) => s.write(i === 0 ? 'HTTP/1.1 2OO OK\r\n\r\n' : OK));
    await assert.rejects(
      p.send(spec(), new AbortController().signal),
      (err: unknown) => err instanceof MeshError && /malformed/.test(err.message),
    );
    assert.equal(await text(await p.send(spec(), new AbortController().signal)), 'ok');
    assert.equal(backend?.connections, 2);
  });

  it('aborts a request waiting for its answer and closes its connection', async () => {
    const p = await serve(() => undefined);
    const ctl = new AbortController();
    const pending = p.send(spec(), ctl.signal);
    await new Promise((resolve) => setTimeout(resolve, 30));
    ctl.abort(new Error('client gone'));
    await assert.rejects(pending, /client gone/);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(p.size, 0);
  });

  it('keeps a whole early answer readable when the backend closes during the upload', async () => {
    const server = net.createServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 413 Payload Too Large\r\ncontent-length: 9\r\n\r\ntoo large'));
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const p = new RawH1Pool(
      () =>
        new Promise((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
        }),
      { connectTimeoutMs: 2000, keepAliveMs: 5000 },
    );
    // A body that never ends: the upload is still going when the answer and the close arrive.
    const upload = new Readable({ read() {} });
    upload.push(Buffer.from('first part'));
    try {
      const r = await p.send(spec({ method: 'POST', body: upload }), new AbortController().signal);
      assert.equal(r.status, 413);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await text(r), 'too large');
    } finally {
      upload.destroy();
      await p.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('hands a large body on with back-pressure, whole', async () => {
    const big = Buffer.alloc(4 << 20, 7);
    const p = await serve((_r, s) => {
      s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`);
      s.write(big);
    });
    const r = await p.send(spec(), new AbortController().signal);
    let total = 0;
    for await (const chunk of r.body) {
      total += (chunk as Buffer).length;
      if (total < 1 << 20) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(total, big.length);
  });
});
