/**
 * The fixed-rate, open-loop HTTP/1.1 load generator of the `l4` benchmark (wrk2's idea in
 * Node): request `i` is due at `start + i/rate`; it goes out on the first idle keep-alive
 * connection. A request that had to wait because every connection was busy is timed from its
 * intended send time, so a path that stalls is charged for every request it held back (no
 * coordinated omission); any other request from its actual send. The send timer ticks every
 * ~1 ms, and timing those from the intended time too added 0–1 ms of the generator's own lag to
 * every path (p50 ~0.5 ms even for the direct path), noise that buried the differences the
 * `l4_added_p99_ms_at_1k` ratio is about.
 *
 * Every connection carries one untimed request before the clock starts, as the `l7` generator's
 * warm-up window does. Through the node agents a connection is accepted by the kernel before the
 * agent has opened its tunnel, so its first request also waits for the tunnel: 16 connections
 * opened at once put ~16 such requests and the ones queued behind them (~1 % of a 5 s run) into
 * the run, and with them the cost of setting up a connection, not of carrying a request. That
 * cost has its own rows in `l4` (`setup.ts`).
 */
import type { Socket } from 'node:net';

import { MeshError } from '../../common/errors.ts';
import { dueCount, intendedSendMs, latencyStartMs, percentile } from './stats.ts';

const CRLF2 = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = 'content-length:';

/** The parts of a response head the generator needs. */
export interface ResponseHead {
  readonly status: number;
  /** Bytes up to and including the blank line. */
  readonly headLength: number;
  readonly contentLength: number;
}

/**
 * Parses the head at the start of `buf`; undefined while it is incomplete. Throws
 * `BENCH_HTTP_FRAMING` for a response without `Content-Length` (the bench server always sends one).
 */
export function parseResponseHead(buf: Buffer): ResponseHead | undefined {
  const end = buf.indexOf(CRLF2);
  if (end < 0) return undefined;
  const head = buf.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  let contentLength = -1;
  for (let at = head.indexOf('\r\n'); at >= 0; at = head.indexOf('\r\n', at + 2)) {
    if (head.slice(at + 2, at + 2 + CONTENT_LENGTH.length).toLowerCase() === CONTENT_LENGTH) {
      const next = head.indexOf('\r\n', at + 2);
      contentLength = Number(head.slice(at + 2 + CONTENT_LENGTH.length, next < 0 ? undefined : next).trim());
      break;
    }
  }
  if (!Number.isInteger(contentLength) || contentLength < 0) {
    throw new MeshError(
      'BENCH_HTTP_FRAMING',
      `response without a valid Content-Length: ${head.slice(0, 200)}`,
      {
        hint: 'the l4 bench server must answer with a fixed-length body',
      },
    );
  }
  return { status, headLength: end + CRLF2.length, contentLength };
}

const PRIME_TIMEOUT_MS = 10_000;

/**
 * Sends `request` on `socket` and resolves with the socket once a whole 200 response came back;
 * rejects (`BENCH_PRIME_FAILED`) on another status, a closed connection or after 10 s.
 */
export function primed(socket: Socket, request: Buffer): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (err === undefined) {
        resolve(socket);
      } else {
        socket.destroy();
        reject(err);
      }
    };
    const fail = (why: string): void =>
      finish(new MeshError('BENCH_PRIME_FAILED', `the untimed first request of a connection ${why}`));
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      let head: ResponseHead | undefined;
      try {
        head = parseResponseHead(buf);
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (head === undefined || buf.length < head.headLength + head.contentLength) return;
      if (head.status !== 200) fail(`was answered ${head.status}`);
      else if (buf.length > head.headLength + head.contentLength) fail('got more than one response');
      else finish();
    };
    const onClose = (): void => fail('lost its connection');
    const onError = (err: Error): void => fail(`failed: ${err.message}`);
    const timer = setTimeout(() => fail(`had no answer after ${PRIME_TIMEOUT_MS} ms`), PRIME_TIMEOUT_MS);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
    socket.write(request);
  });
}

/** Opens and primes `o.connections` connections; on any failure closes the others and throws. */
async function openPrimed(o: OpenLoopOptions): Promise<Socket[]> {
  const settled = await Promise.allSettled(
    Array.from({ length: o.connections }, async () => primed(await o.connect(), o.request)),
  );
  const conns = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed === undefined) return conns;
  for (const c of conns) c.destroy();
  throw failed.reason;
}

/** Options of {@link openLoop}. */
export interface OpenLoopOptions {
  /** Opens one keep-alive connection to the target (primed with one untimed request). */
  readonly connect: () => Promise<Socket>;
  readonly request: Buffer;
  readonly ratePerSec: number;
  readonly durationMs: number;
  readonly connections: number;
  /** How long to wait for the last responses after the last send; default 5 s. */
  readonly drainMs?: number;
}

/** What one run measured. */
export interface OpenLoopResult {
  readonly sent: number;
  readonly completed: number;
  readonly errors: number;
  /** Completed requests per second over the run. */
  readonly achievedRps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

interface Conn {
  readonly socket: Socket;
  index: number;
  /** When the request in flight started to count (performance.now()). */
  startMs: number;
  pending: Buffer | undefined;
  remaining: number;
}

/** Runs the schedule; see the file comment. Every connection is closed when it resolves. */
export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const total = Math.floor((o.ratePerSec * o.durationMs) / 1000);
  const latencies = new Float64Array(total);
  const conns = await openPrimed(o);
  const idle: Conn[] = [];
  let next = 0;
  let completed = 0;
  let errors = 0;
  let t0 = 0;
  /** Whether every connection is busy now, and when that last ended. */
  let allBusy = false;
  let busyUntil = -Infinity;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));

  const dispatch = (): void => {
    const due = dueCount(performance.now() - t0, o.ratePerSec, total);
    while (next < due) {
      const conn = idle.pop();
      if (conn === undefined) return;
      const now = performance.now();
      if (idle.length === 0) allBusy = true;
      conn.index = next++;
      conn.startMs = latencyStartMs(t0 + intendedSendMs(conn.index, o.ratePerSec), now, busyUntil);
      conn.socket.write(o.request);
    }
  };
  const complete = (conn: Conn, status: number): void => {
    const now = performance.now();
    latencies[completed++] = now - conn.startMs;
    if (status !== 200) errors++;
    conn.pending = undefined;
    conn.remaining = -1;
    if (allBusy) {
      allBusy = false;
      busyUntil = now;
    }
    idle.push(conn);
    if (completed === total) finish();
    else dispatch();
  };
  const states = conns.map((socket): Conn => {
    socket.setNoDelay(true);
    const conn: Conn = { socket, index: -1, startMs: 0, pending: undefined, remaining: -1 };
    let status = 0;
    socket.on('data', (chunk: Buffer) => {
      if (conn.remaining < 0) {
        const buf = conn.pending === undefined ? chunk : Buffer.concat([conn.pending, chunk]);
        const head = parseResponseHead(buf);
        if (head === undefined) {
          conn.pending = buf;
          return;
        }
        status = head.status;
        conn.remaining = head.headLength + head.contentLength - buf.length;
      } else {
        conn.remaining -= chunk.length;
      }
      if (conn.remaining <= 0) complete(conn, status);
    });
    // A connection lost mid-run leaves its request incomplete: counted below as an error.
    socket.on('error', () => undefined);
    return conn;
  });
  idle.push(...states);

  t0 = performance.now();
  const timer = setInterval(dispatch, 1);
  dispatch();
  const sendWindowEnd = new Promise<void>((resolve) => setTimeout(resolve, o.durationMs));
  await sendWindowEnd;
  const drain = new Promise<void>((resolve) => setTimeout(resolve, o.drainMs ?? 5000).unref());
  await Promise.race([done, drain]);
  const elapsed = performance.now() - t0;
  clearInterval(timer);
  for (const c of conns) c.destroy();
  const sorted = latencies.subarray(0, completed).sort();
  return {
    sent: next,
    completed,
    errors: errors + (total - completed),
    achievedRps: (completed * 1000) / elapsed,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}
