import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'mocha';

import {
  createBatchingSink,
  createLogger,
  JsonMembers,
  jsonString,
  type BatchingSinkOptions,
} from '../../../common/log.ts';

const NOW = new Date('2026-01-02T03:04:05.678Z');

function capture(fields?: Record<string, unknown>): {
  lines: string[];
  log: ReturnType<typeof createLogger>;
} {
  const lines: string[] = [];
  const log = createLogger({
    level: 'debug',
    sink: { write: (l) => lines.push(l) },
    now: () => NOW,
    ...(fields === undefined ? {} : { fields }),
  });
  return { lines, log };
}

/** A fake `fs` whose async writes complete only when the test says so. */
class FakeFs {
  readonly calls: { data: string; done: (err: NodeJS.ErrnoException | null, written: number) => void }[] = [];
  readonly syncWrites: string[] = [];
  readonly io: NonNullable<BatchingSinkOptions['fs']>;

  constructor() {
    const write = (
      _fd: number,
      buf: Buffer,
      off: number,
      len: number,
      _pos: null,
      cb: (err: NodeJS.ErrnoException | null, written: number) => void,
    ): void => {
      this.calls.push({ data: buf.subarray(off, off + len).toString(), done: cb });
    };
    const writeSync = (_fd: number, buf: Buffer, off: number, len: number): number => {
      this.syncWrites.push(buf.subarray(off, off + len).toString());
      return len;
    };
    this.io = { write, writeSync } as unknown as NonNullable<BatchingSinkOptions['fs']>;
  }
}

const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 10));

describe('common/log', () => {
  describe('createLogger', () => {
    const cases: { name: string; bound?: Record<string, unknown>; fields?: Record<string, unknown> }[] = [
      { name: 'no fields' },
      { name: 'bound only', bound: { program: 'p', n: 1 } },
      { name: 'line fields only', fields: { a: 'x', b: [1, 2], c: undefined } },
      { name: 'both', bound: { program: 'p' }, fields: { status: 200, path: '/a"b' } },
      { name: 'a field overriding a bound one', bound: { component: 'a' }, fields: { component: 'b' } },
      { name: 'a field overriding msg', fields: { msg: 'other' } },
      { name: 'a bound field overriding level', bound: { level: 'custom' }, fields: { x: 1 } },
      { name: 'empty fields', bound: { p: 1 }, fields: {} },
    ];
    for (const c of cases) {
      it(`writes the same JSON as merging {time, level, msg, ...bound, ...fields}: ${c.name}`, () => {
        const { lines, log } = capture(c.bound);
        log.warn('hello "world"', c.fields);
        assert.equal(lines.length, 1);
        const expected = JSON.parse(
          JSON.stringify({
            time: NOW.toISOString(),
            level: 'warn',
            msg: 'hello "world"',
            ...c.bound,
            ...c.fields,
          }),
        ) as unknown;
        assert.deepEqual(JSON.parse(lines[0] ?? ''), expected);
        // No key twice: the fast path must not append a colliding key after the bound one.
        const keys = (lines[0] ?? '').match(/"[a-z]+":/g) ?? [];
        assert.equal(new Set(keys).size, keys.length, lines[0]);
      });
    }

    it('child loggers add fields and keep the level', () => {
      const lines: string[] = [];
      const log = createLogger({ level: 'info', sink: { write: (l) => lines.push(l) }, now: () => NOW });
      const child = log.child({ component: 'access' }).child({ gateway: 'ns/gw' });
      child.debug('hidden');
      child.info('shown', { status: 200 });
      assert.equal(lines.length, 1);
      assert.deepEqual(JSON.parse(lines[0] ?? ''), {
        time: NOW.toISOString(),
        level: 'info',
        msg: 'shown',
        component: 'access',
        gateway: 'ns/gw',
        status: 200,
      });
    });

    it('writes pre-serialized members as they are, after the bound fields, honouring the level', () => {
      const lines: string[] = [];
      const log = createLogger({ level: 'info', sink: { write: (l) => lines.push(l) }, now: () => NOW });
      const child = log.child({ component: 'access' });
      child.debug('hidden', new JsonMembers('"a":1'));
      child.info('q"uote', new JsonMembers(`"path":${jsonString('/a"b\\c\u0001é')},"n":2`));
      child.info('none', new JsonMembers(''));
      assert.equal(lines.length, 2);
      assert.equal(
        lines[0],
        `{"time":"${NOW.toISOString()}","level":"info","msg":"q\\"uote","component":"access","path":"/a\\"b\\\\c\\u0001é","n":2}`,
      );
      assert.deepEqual(JSON.parse(lines[0] ?? ''), {
        time: NOW.toISOString(),
        level: 'info',
        msg: 'q"uote',
        component: 'access',
        path: '/a"b\\c\u0001é',
        n: 2,
      });
      assert.equal((JSON.parse(lines[1] ?? '') as { msg: string }).msg, 'none');
    });

    it('jsonString quotes plain ASCII as is and escapes everything else as JSON.stringify does', () => {
      for (const s of [
        '',
        '/api/v1?x=1&y=%20',
        'a"b',
        'back\\slash',
        'tab\there',
        '\u007f',
        'é',
        '\u2028',
        '😀',
      ]) {
        assert.equal(jsonString(s), JSON.stringify(s), s);
      }
    });
  });

  describe('createBatchingSink', () => {
    it('writes the lines of one interval in a single write, in order', async () => {
      const fake = new FakeFs();
      const sink = createBatchingSink({ fd: 9, fs: fake.io, flushIntervalMs: 0 });
      sink.write('a');
      sink.write('b');
      sink.write('c');
      assert.equal(fake.calls.length, 0, 'nothing is written synchronously');
      await turn();
      assert.deepEqual(
        fake.calls.map((c) => c.data),
        ['a\nb\nc\n'],
      );
    });

    it('waits up to the interval to batch lines, unless a batch is full or flush() asks', async () => {
      const fake = new FakeFs();
      const sink = createBatchingSink({ fs: fake.io, flushIntervalMs: 60_000, batchLines: 3 });
      sink.write('a');
      sink.write('b');
      await turn();
      assert.equal(fake.calls.length, 0, 'the interval has not passed');
      sink.write('c');
      assert.deepEqual(
        fake.calls.map((c) => c.data),
        ['a\nb\nc\n'],
        'a full batch goes at once',
      );
      fake.calls[0]?.done(null, 6);
      sink.write('d');
      const flushing = sink.flush();
      assert.equal(fake.calls[1]?.data, 'd\n', 'flush() does not wait for the interval');
      fake.calls[1]?.done(null, 2);
      await flushing;
    });

    it('holds lines while a write is in flight and sends them as the next batch', async () => {
      const fake = new FakeFs();
      const sink = createBatchingSink({ fs: fake.io, flushIntervalMs: 0 });
      sink.write('1');
      await turn();
      sink.write('2');
      sink.write('3');
      await turn();
      assert.equal(fake.calls.length, 1, 'one write at a time');
      fake.calls[0]?.done(null, 2);
      await turn();
      assert.deepEqual(
        fake.calls.map((c) => c.data),
        ['1\n', '2\n3\n'],
      );
    });

    it('drops and counts lines beyond the bound while the disk is slow', async () => {
      const fake = new FakeFs();
      const sink = createBatchingSink({ fs: fake.io, maxBufferedLines: 2, flushIntervalMs: 0 });
      sink.write('1');
      await turn();
      for (const l of ['2', '3', '4', '5']) sink.write(l);
      assert.equal(sink.dropped, 2);
      fake.calls[0]?.done(null, 2);
      await turn();
      assert.equal(fake.calls[1]?.data, '2\n3\n');
    });

    it('writes the rest after a partial write', async () => {
      const fake = new FakeFs();
      const sink = createBatchingSink({ fs: fake.io, flushIntervalMs: 0 });
      sink.write('hello');
      await turn();
      fake.calls[0]?.done(null, 2);
      assert.equal(fake.calls[1]?.data, 'llo\n');
      fake.calls[1]?.done(null, 4);
      await sink.flush();
      assert.equal(sink.dropped, 0);
    });

    it('counts the lines of a failed write as dropped and goes on', async () => {
      const fake = new FakeFs();
      const sink = createBatchingSink({ fs: fake.io, flushIntervalMs: 0 });
      sink.write('a');
      sink.write('b');
      await turn();
      sink.write('c');
      fake.calls[0]?.done(Object.assign(new Error('EIO'), { code: 'EIO' }), 0);
      assert.equal(sink.dropped, 2);
      await turn();
      assert.equal(fake.calls[1]?.data, 'c\n');
    });

    it('flush resolves only when every accepted line is written', async () => {
      const fake = new FakeFs();
      const sink = createBatchingSink({ fs: fake.io, flushIntervalMs: 0 });
      sink.write('a');
      let flushed = false;
      const flushing = sink.flush().then(() => (flushed = true));
      await turn();
      assert.equal(flushed, false);
      fake.calls[0]?.done(null, 2);
      await flushing;
      assert.equal(flushed, true);
      await sink.flush(); // nothing pending: resolves at once
    });

    it('flushSync writes what is still buffered, synchronously (process exit)', () => {
      const fake = new FakeFs();
      const sink = createBatchingSink({ fs: fake.io, flushIntervalMs: 0 });
      sink.write('last words');
      sink.flushSync();
      assert.deepEqual(fake.syncWrites, ['last words\n']);
    });

    it('writes a logger’s lines to a real file descriptor', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'wm-log-'));
      const file = join(dir, 'out.log');
      const fd = fs.openSync(file, 'a');
      try {
        const sink = createBatchingSink({ fd });
        const log = createLogger({ sink, now: () => NOW }).child({ component: 'access' });
        for (let i = 0; i < 1000; i++) log.info('request', { i });
        await sink.flush();
        const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
        assert.equal(lines.length, 1000);
        assert.deepEqual(JSON.parse(lines[999] ?? ''), {
          time: NOW.toISOString(),
          level: 'info',
          msg: 'request',
          component: 'access',
          i: 999,
        });
        assert.equal(sink.dropped, 0);
      } finally {
        fs.closeSync(fd);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
