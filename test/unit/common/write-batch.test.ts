import { strict as assert } from 'node:assert';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';

import {
  BATCH_MAX_BYTES,
  releaseAndDestroy,
  writeBatched,
  writePartsBatched,
} from '../../../common/write-batch.ts';

/** A loopback connection: the writing end, and everything the other end received until it closed. */
async function pair(): Promise<{ writer: net.Socket; received: Promise<Buffer>; close(): Promise<void> }> {
  let resolveReceived: (b: Buffer) => void = () => undefined;
  const received = new Promise<Buffer>((r) => (resolveReceived = r));
  const server = net.createServer((s) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('error', () => undefined);
    s.on('close', () => resolveReceived(Buffer.concat(parts)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const writer = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  writer.on('error', () => undefined);
  await new Promise<void>((r) => writer.once('connect', r));
  return {
    writer,
    received,
    close: async () => {
      writer.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('common/write-batch', function () {
  this.timeout(5000);

  it('holds small writes to a socket until the end of the turn, then sends them in order', async () => {
    const p = await pair();
    try {
      writeBatched(p.writer, 'GET / HTTP/1.1\r\n');
      writeBatched(p.writer, Buffer.from('host: a\r\n\r\n'));
      assert.equal(p.writer.writableCorked, 1, 'corked for the turn');
      assert.equal(p.writer.writableLength, 27, 'both writes held');
      await turn();
      assert.equal(p.writer.writableCorked, 0);
      p.writer.end();
      assert.equal((await p.received).toString('latin1'), 'GET / HTTP/1.1\r\nhost: a\r\n\r\n');
    } finally {
      await p.close();
    }
  });

  it('sends a large write at once, after what the socket held', async () => {
    const p = await pair();
    try {
      const big = Buffer.alloc(BATCH_MAX_BYTES, 0x62);
      writeBatched(p.writer, 'a');
      writeBatched(p.writer, big);
      assert.equal(p.writer.writableCorked, 0, 'released by the large write');
      p.writer.end();
      const got = await p.received;
      assert.equal(got.length, 1 + big.length);
      assert.equal(got[0], 0x61);
      assert.equal(got.subarray(1).equals(big), true);
    } finally {
      await p.close();
    }
  });

  it('writes parts together, held for the turn when small and at once when large', async () => {
    const p = await pair();
    try {
      let done = 0;
      writePartsBatched(p.writer, ['head\r\n', Buffer.from('body')], () => (done += 1));
      assert.equal(p.writer.writableCorked, 1, 'small parts held');
      await turn();
      assert.equal(p.writer.writableCorked, 0);
      writePartsBatched(p.writer, ['big:', Buffer.alloc(BATCH_MAX_BYTES, 0x62)], () => (done += 1));
      assert.equal(p.writer.writableCorked, 0, 'large parts not held');
      p.writer.end();
      const got = await p.received;
      assert.equal(got.subarray(0, 14).toString('latin1'), 'head\r\nbodybig:');
      assert.equal(got.length, 14 + BATCH_MAX_BYTES);
      assert.equal(done, 2, 'the callback after the last part of each');
    } finally {
      await p.close();
    }
  });

  it('sends held bytes before destroying, with releaseAndDestroy', async () => {
    const p = await pair();
    try {
      writeBatched(p.writer, 'bye');
      releaseAndDestroy(p.writer);
      assert.equal(p.writer.destroyed, true);
      assert.equal((await p.received).toString('latin1'), 'bye');
    } finally {
      await p.close();
    }
  });

  it('writes through to a stream that is not a socket (HTTP/2 streams batch per session)', () => {
    const s = new PassThrough();
    writeBatched(s, 'abc');
    assert.equal(s.writableCorked, 0);
    assert.equal((s.read() as Buffer).toString('latin1'), 'abc');
  });
});
