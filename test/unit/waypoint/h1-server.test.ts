import { strict as assert } from 'node:assert';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

import type { H1Response } from '../../../waypoint/http/h1/outgoing.ts';
import { H1Server } from '../../../waypoint/http/h1/server.ts';
import type { H1Handler, H1Request, H1ServerLimits } from '../../../waypoint/http/h1/server.ts';

const LIMITS: H1ServerLimits = {
  maxHeadBytes: 4096,
  maxFields: 20,
  headersTimeoutMs: 300,
  requestTimeoutMs: 500,
  keepAliveTimeoutMs: 400,
};

/** The raw server behind a loopback listener; `refused` counts statuses. */
class Harness {
  readonly refused: number[] = [];
  readonly server: H1Server<string>;
  readonly listener: net.Server;
  port = 0;

  constructor(handler: H1Handler<string>, limits = LIMITS) {
    this.server = new H1Server(limits, handler, (s) => this.refused.push(s));
    this.listener = net.createServer((sock) => this.server.serve(sock, 'tag'));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.listener.listen(0, '127.0.0.1', resolve));
    this.port = (this.listener.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.server.close();
    await new Promise((resolve) => this.listener.close(resolve));
  }
}

interface Talk {
  readonly socket: net.Socket;
  /** Everything received so far. */
  text(): string;
  /** Resolves once `pred` holds on what was received (or rejects after 3 s). */
  until(pred: (text: string) => boolean): Promise<string>;
  closed(): Promise<void>;
}

function talk(port: number): Talk {
  const socket = net.connect(port, '127.0.0.1');
  let got = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (c: Buffer) => {
    got += c.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  return {
    socket,
    text: () => got,
    until: (pred) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(got)}`)), 3000);
        const check = (): void => {
          if (pred(got)) {
            clearTimeout(timer);
            resolve(got);
          } else waiters.push(check);
        };
        check();
      }),
    closed: () => ended,
  };
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Answers `<method> <url> <n body bytes>` with a length. */
const echoHead: H1Handler<string> = (req, res) => {
  const reply = (n: number): void => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-tag': 'yes' });
    res.end(`${req.method} ${req.url} ${n}`);
  };
  if (req.body === undefined) {
    reply(0);
    return;
  }
  let n = 0;
  req.body.on('data', (c: Buffer) => (n += c.length));
  req.body.on('end', () => reply(n));
};

describe('waypoint h1 server', function () {
  this.timeout(10_000);
  let h: Harness | undefined;
  const sockets: net.Socket[] = [];
  const open = (): Talk => {
    const t = talk(h?.port ?? 0);
    sockets.push(t.socket);
    return t;
  };
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await h?.close();
    h = undefined;
  });

  it('serves keep-alive and pipelined requests in order, one response per request', async () => {
    h = await new Harness(echoHead).start();
    const t = open();
    t.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    t.socket.write('POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc');
    const text = await t.until((s) => count(s, 'HTTP/1.1 200 OK') === 3 && s.endsWith('POST /c 3'));
    assert.ok(text.indexOf('GET /a 0') < text.indexOf('GET /b 0'));
    assert.ok(text.indexOf('GET /b 0') < text.indexOf('POST /c 3'));
    assert.match(text, /content-length: 8\r\n/);
    assert.match(text, /date: \w{3}, \d\d \w{3} \d{4}/);
    assert.doesNotMatch(text, /connection: close/);
    t.socket.write('GET /d HTTP/1.1\r\nHost: x\r\n\r\n');
    await t.until((s) => s.endsWith('GET /d 0'));
  });

  it('parses a head that trickles in once it can be complete, bare-LF and oversized ones included', async () => {
    h = await new Harness(echoHead).start();
    const pieces = async (t: Talk, text: string, size: number): Promise<void> => {
      for (let i = 0; i < text.length; i += size) {
        t.socket.write(text.slice(i, i + size));
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const ok = open();
    await pieces(ok, 'GET /slow HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n', 3);
    await ok.until((s) => s.endsWith('GET /slow 0'));
    // A bare-LF end of head arriving in its own read is refused at once, not at the timeout.
    const bare = open();
    await pieces(bare, 'GET / HTTP/1.1\r\nHost: x\n', 4);
    bare.socket.write('\n');
    await bare.closed();
    assert.match(bare.text(), /^HTTP\/1\.1 400 /);
    const big = open();
    await pieces(big, `GET / HTTP/1.1\r\nHost: x\r\nX: ${'v'.repeat(4200)}`, 1024);
    await big.closed();
    assert.match(big.text(), /^HTTP\/1\.1 431 /);
    const flood = open();
    await pieces(flood, '\r\n'.repeat(2100), 512);
    await flood.closed();
    assert.match(flood.text(), /^HTTP\/1\.1 431 /);
    assert.deepEqual(h.refused, [400, 431, 431]);
  });

  it('decodes a chunked request body and sends a chunked response with trailers', async () => {
    h = await new Harness((req, res) => {
      const parts: Buffer[] = [];
      req.body?.on('data', (c: Buffer) => parts.push(c));
      req.body?.on('end', () => {
        res.writeHead(200, { 'x-a': '1' });
        res.write(Buffer.concat(parts));
        res.write('!');
        res.addTrailers({ 'grpc-status': '0' });
        res.end();
      });
    }).start();
    const t = open();
    t.socket.write(
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-t: 1\r\n\r\n',
    );
    const text = await t.until((s) => s.endsWith('\r\n\r\n') && s.includes('0\r\n'));
    assert.match(text, /transfer-encoding: chunked\r\n/);
    assert.ok(text.endsWith('b\r\nhello world\r\n1\r\n!\r\n0\r\ngrpc-status: 0\r\n\r\n'), text);
  });

  it('frames HEAD, 204 and 304 without a body and HTTP/1.0 by closing', async () => {
    h = await new Harness((req, res) => {
      const status = req.url === '/204' ? 204 : req.url === '/304' ? 304 : 200;
      if (req.url === '/stream') {
        res.writeHead(200, {});
        res.write('streamed');
        res.end();
        return;
      }
      res.writeHead(status, { 'content-length': status === 200 ? '5' : undefined });
      res.end(status === 200 ? 'hello' : undefined);
    }).start();
    const t = open();
    t.socket.write('HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\n');
    t.socket.write('GET /304 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const text = await t.until((s) => s.endsWith('hello'));
    assert.equal(count(text, 'hello'), 1, 'HEAD got no body');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\ndate: [^\r]+\r\ncontent-length: 5\r\n\r\n/);
    assert.match(text, /HTTP\/1\.1 204 No Content\r\ndate: [^\r]+\r\n\r\nHTTP\/1\.1 304 /);
    const old = open();
    old.socket.write('GET /stream HTTP/1.0\r\n\r\n');
    await old.closed();
    assert.match(old.text(), /connection: close\r\n\r\nstreamed$/);
    assert.doesNotMatch(old.text(), /transfer-encoding/);
    const kept = open();
    kept.socket.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await kept.until((s) => s.endsWith('hello'));
    assert.match(kept.text(), /connection: keep-alive\r\n/);
  });

  it('sends 100 Continue only when the body is read, and drops an unread body to keep the connection', async () => {
    h = await new Harness((req, res) => {
      if (req.url === '/deny') {
        res.writeHead(403, { 'content-length': '6' });
        res.end('denied');
        return;
      }
      echoHead(req, res, 'tag');
    }).start();
    const t = open();
    t.socket.write('POST /deny HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
    await t.until((s) => s.endsWith('denied'));
    assert.doesNotMatch(t.text(), /100 Continue/);
    // The client sends the body anyway; it is dropped, and the next request is served.
    t.socket.write('abcdGET /next HTTP/1.1\r\nHost: x\r\n\r\n');
    await t.until((s) => s.endsWith('GET /next 0'));
    const c = open();
    c.socket.write('POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n');
    await c.until((s) => s.includes('HTTP/1.1 100 Continue\r\n\r\n'));
    c.socket.write('ok');
    await c.until((s) => s.endsWith('POST /up 2'));
  });

  it('cuts the body for its reader when the answer came first, then serves the next request', async () => {
    let bodyError: Promise<string> | undefined;
    h = await new Harness((req, res) => {
      const body = req.body;
      if (body === undefined) {
        echoHead(req, res, 'tag');
        return;
      }
      bodyError = new Promise((resolve) => body.on('error', (e: Error) => resolve(e.message)));
      body.on('data', () => undefined);
      res.writeHead(413, { 'content-length': '0' });
      res.end();
    }).start();
    const t = open();
    t.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    await t.until((s) => s.includes('HTTP/1.1 413 '));
    assert.match((await bodyError) ?? '', /answered before its body ended/);
    t.socket.write('defghijGET /after HTTP/1.1\r\nHost: x\r\n\r\n');
    await t.until((s) => s.endsWith('GET /after 0'));
  });

  it('refuses CONNECT, odd targets and bad framing before the handler, and counts them', async () => {
    let calls = 0;
    h = await new Harness((req, res) => {
      calls++;
      echoHead(req, res, 'tag');
    }).start();
    const cases: [string, RegExp][] = [
      ['CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n', /^HTTP\/1\.1 501 /],
      ['GET a/b HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400 /],
      [
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
        /^HTTP\/1\.1 400 /,
      ],
      ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /^HTTP\/1\.1 400 /],
      ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 505 /],
    ];
    for (const [request, expected] of cases) {
      const t = open();
      t.socket.write(request);
      await t.closed();
      assert.match(t.text(), expected, request);
    }
    assert.deepEqual(h.refused, [501, 400, 400, 400, 505]);
    // The chunked one reached the handler (the head was fine) before its body broke.
    assert.equal(calls, 1);
  });

  it('times out slow heads and bodies with 408 and closes idle connections quietly', async () => {
    h = await new Harness(echoHead).start();
    const slowHead = open();
    slowHead.socket.write('GET / HTTP/1.1\r\nHost');
    await slowHead.closed();
    assert.match(slowHead.text(), /^HTTP\/1\.1 408 /);
    const slowBody = open();
    slowBody.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    await slowBody.closed();
    assert.match(slowBody.text(), /^HTTP\/1\.1 408 /);
    const idle = open();
    idle.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.until((s) => s.endsWith('GET / 0'));
    await idle.closed();
    assert.equal(count(idle.text(), 'HTTP/1.1'), 1);
    assert.deepEqual(h.refused, [408, 408]);
  });

  it('tells the handler when the client leaves before the response finished', async () => {
    let seen: Promise<boolean> | undefined;
    h = await new Harness((_req: H1Request, res: H1Response) => {
      seen = new Promise((resolve) => res.once('close', () => resolve(res.writableFinished)));
      res.writeHead(200, {});
      res.write('partial');
    }).start();
    const t = open();
    t.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await t.until((s) => s.includes('partial'));
    t.socket.destroy();
    assert.equal(await seen, false);
  });

  it('sends what a response wrote before it was abandoned in the same turn, then closes', async () => {
    // Writes wait for the end of the turn (common/write-batch.ts); closing the connection must send them first.
    h = await new Harness((_req: H1Request, res: H1Response) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      res.destroy();
    }).start();
    const t = open();
    t.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await t.closed();
    assert.match(t.text(), /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\npartial$/);
  });

  it('writes response field names in lowercase and refuses names that are not tokens', async () => {
    const thrown: string[] = [];
    h = await new Harness((_req, res) => {
      // U+212A (Kelvin sign) lower-cases to an ASCII "k": it must be refused, not sent as "k".
      for (const bad of ['x a', '\u212a', '']) {
        try {
          res.writeHead(200, { [bad]: '1' });
        } catch (err) {
          thrown.push(String(err));
        }
      }
      res.writeHead(200, { 'X-Mixed-Case': 'a', 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    }).start();
    const t = open();
    t.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await t.until((s) => s.endsWith('ok'));
    assert.equal(thrown.length, 3);
    for (const e of thrown) assert.match(e, /not a token/);
    assert.match(t.text(), /\r\nx-mixed-case: a\r\n/);
    assert.match(t.text(), /\r\ncontent-type: text\/plain\r\n/);
  });

  it('refuses response headers that could split the message', async () => {
    let thrown: unknown;
    h = await new Harness((_req, res) => {
      try {
        res.writeHead(200, { 'x-a': 'ok\r\nx-injected: 1' });
      } catch (err) {
        thrown = err;
        res.writeHead(502, { 'content-length': '0' });
        res.end();
      }
    }).start();
    const t = open();
    t.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await t.until((s) => s.includes('\r\n\r\n'));
    assert.match(String(thrown), /control character/);
    assert.doesNotMatch(t.text(), /x-injected/);
    assert.match(t.text(), /^HTTP\/1\.1 502 /);
  });
});
