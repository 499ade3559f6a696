// pipeTunnel over real loopback sockets: both directions with half-close, one completion call,
// resets propagated, and back-pressure instead of buffering. Then, over in-memory streams, how
// one direction writes: every chunk for a socket waits for the end of the turn and the turn's
// chunks leave in one writev, and the source is paused only above PAUSE_ABOVE_BYTES unsent.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, it } from 'mocha';
import { PAUSE_ABOVE_BYTES, pipeTunnel, type PipeStats } from '../../../common/hbone/pipe.ts';

/** X ⇄ [a  pipeTunnel  b] ⇄ Y, all on 127.0.0.1 with half-open sockets. */
interface Rig {
  readonly x: net.Socket;
  readonly y: net.Socket;
  readonly a: net.Socket;
  readonly b: net.Socket;
  readonly done: Promise<PipeStats>;
  readonly calls: () => number;
}

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];

async function acceptPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen: true });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const [serverSide] = await accepted;
  await once(client, 'connect').catch(() => undefined);
  sockets.push(client, serverSide);
  return [client, serverSide];
}

async function rig(): Promise<Rig> {
  const [x, a] = await acceptPair();
  const [b, y] = await acceptPair();
  let calls = 0;
  const done = new Promise<PipeStats>((resolve) => {
    pipeTunnel(a, b, (stats) => {
      calls += 1;
      resolve(stats);
    });
  });
  return { x, y, a, b, done, calls: () => calls };
}

/** Reads until 'end' without destroying the socket (an async iterator would). */
function readAll(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (chunk: Buffer) => chunks.push(chunk));
  return once(s, 'end').then(() => Buffer.concat(chunks));
}

function sleep(ms: number): Promise<'slept'> {
  return new Promise((resolve) => setTimeout(() => resolve('slept'), ms));
}

describe('common/hbone/pipe', () => {
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) s.close();
  });

  it('carries both directions and propagates half-close', async () => {
    const r = await rig();
    r.x.end('hello');
    // Y sees X's end, and only then answers: the reverse direction must still be open.
    const got = await readAll(r.y);
    assert.equal(got.toString(), 'hello');
    r.y.end('world!');
    assert.equal((await readAll(r.x)).toString(), 'world!');
    const stats = await r.done;
    assert.deepEqual(stats, { bytesAtoB: 5, bytesBtoA: 6 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(r.calls(), 1);
  });

  it('destroys the other side when one side is reset, and reports the error once', async () => {
    const r = await rig();
    r.x.write('ping');
    await once(r.y, 'data');
    // X is half-open: it sees the end of the stream, its own side stays for it to close.
    const xEnded = once(r.x, 'end');
    r.x.resume();
    r.x.on('error', () => undefined);
    r.y.resetAndDestroy();
    const stats = await r.done;
    assert.ok(stats.error instanceof Error, 'an abort is reported as an error');
    assert.equal(stats.bytesAtoB, 4);
    await xEnded;
    assert.equal(r.a.destroyed && r.b.destroyed, true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(r.calls(), 1);
  });

  it('applies back-pressure instead of buffering when the receiver stops reading', async () => {
    const r = await rig();
    r.y.pause();
    const chunk = Buffer.alloc(64 * 1024, 7);
    const total = 32 * 1024 * 1024;
    let written = 0;
    // Write until X stays full (no 'drain' for 300 ms): every buffer on the way is then full.
    for (;;) {
      written += chunk.length;
      if (r.x.write(chunk)) continue;
      const woke = await Promise.race([once(r.x, 'drain').then(() => 'drained' as const), sleep(300)]);
      if (woke === 'slept' || written >= total) break;
    }
    assert.ok(r.b.writableLength <= 1024 * 1024, `b buffered ${r.b.writableLength} bytes`);
    assert.ok(r.a.isPaused(), 'the reading side is paused while the writing side is full');
    assert.ok(written < total, 'the sender was pushed back before writing everything');
    r.y.resume();
    let received = 0;
    r.y.on('data', (c: Buffer) => {
      received += c.length;
    });
    r.x.end();
    await once(r.y, 'end');
    assert.equal(received, written);
    r.y.end();
    const stats = await r.done;
    assert.equal(stats.error, undefined);
    assert.equal(stats.bytesAtoB, received);
  });
});

/**
 * A source to push into and a destination that records how it is written to: a `net.Socket`
 * without a connection (write batching holds sockets only), its writes recorded, never sent.
 */
class Recorder extends net.Socket {
  readonly writes: number[][] = [];
  /** When set, writes are never completed (a stalled peer). */
  stalled = false;
  readonly #pending: (() => void)[] = [];

  override _read(): void {}

  override _final(cb: (err?: Error | null) => void): void {
    cb();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writes.push([chunk.length]);
    this.#complete(cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.writes.push(chunks.map((c) => c.chunk.length));
    this.#complete(cb);
  }

  /** Completes the writes held while stalled. */
  release(): void {
    this.stalled = false;
    for (const cb of this.#pending.splice(0)) cb();
  }

  #complete(cb: () => void): void {
    if (this.stalled) this.#pending.push(cb);
    else cb();
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('common/hbone/pipe: how one direction writes', () => {
  /** A direction src → dest, flowing (a Readable starts flowing on the next tick). */
  const pair = async (): Promise<{ src: Recorder; dest: Recorder }> => {
    const src = new Recorder();
    const dest = new Recorder();
    pipeTunnel(src, dest, () => undefined);
    await turn();
    return { src, dest };
  };

  it("holds large chunks and their split tails too, and sends the turn's chunks in one writev", async () => {
    // A tunnel read of several TLS records: 16 KiB DATA frames split across records.
    const { src, dest } = await pair();
    src.push(Buffer.alloc(16_384));
    src.push(Buffer.alloc(9));
    src.push(Buffer.alloc(16_366));
    src.push(Buffer.alloc(65_536));
    assert.deepEqual(dest.writes, [], 'held for the turn');
    await turn();
    assert.deepEqual(dest.writes, [[16_384, 9, 16_366, 65_536]]);
  });

  it('holds each turn separately', async () => {
    const { src, dest } = await pair();
    src.push(Buffer.alloc(16_384));
    await turn();
    src.push(Buffer.alloc(36));
    await turn();
    assert.deepEqual(dest.writes, [[16_384], [36]]);
  });

  it("holds a turn's small chunks and sends them in one writev at its end", async () => {
    const { src, dest } = await pair();
    src.push(Buffer.alloc(80));
    src.push(Buffer.alloc(1_200));
    src.push(Buffer.alloc(40));
    assert.deepEqual(dest.writes, [], 'held for the turn');
    await turn();
    assert.deepEqual(dest.writes, [[80, 1_200, 40]]);
  });

  it('writes small chunks through at once to a destination that is not a socket', async () => {
    // An HTTP/2 stream: Node batches a session's frames per turn itself.
    const src = new Recorder();
    const writes: number[] = [];
    const dest = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _enc, cb) => {
        writes.push(chunk.length);
        cb();
      },
    });
    pipeTunnel(src, dest, () => undefined);
    await turn();
    src.push(Buffer.alloc(80));
    src.push(Buffer.alloc(40));
    assert.deepEqual(writes, [80, 40]);
  });

  it('sends what it holds before ending the destination', async () => {
    const { src, dest } = await pair();
    src.push(Buffer.alloc(16_384));
    src.push(Buffer.alloc(18));
    src.push(null);
    await once(dest, 'finish');
    assert.deepEqual(dest.writes, [[16_384, 18]]);
  });

  it(`pauses the source only above ${PAUSE_ABOVE_BYTES / 1024} KiB unsent, and resumes it on drain`, async () => {
    const { src, dest } = await pair();
    dest.stalled = true;
    const chunk = Buffer.alloc(64 * 1024);
    for (let sent = 0; sent + chunk.length <= PAUSE_ABOVE_BYTES; sent += chunk.length) {
      src.push(chunk);
      assert.equal(src.isPaused(), false, `paused at ${sent + chunk.length} bytes unsent`);
    }
    src.push(chunk);
    assert.equal(src.isPaused(), true, 'paused above the bound');
    dest.release();
    await turn();
    assert.equal(src.isPaused(), false, 'resumed after drain');
  });
});
