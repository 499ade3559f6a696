/**
 * HTTP/1.1 upstream on raw streams: one pool of keep-alive connections per endpoint, each a
 * stream from the engine's upstream connector (an HBONE tunnel in production), one request
 * at a time per connection. It replaces undici's `Pool` on the hot path: a request is one write
 * (head and a buffered body together), a response head is parsed once (fields.ts), the body is
 * handed on with back-pressure, and a connection goes back to the pool only when both messages
 * were complete and both sides allow it. A request that finds a reused connection closed before
 * any response byte arrived is sent again once on a new connection when it is idempotent and its
 * body can be replayed (the keep-alive race every HTTP/1.1 client meets).
 */
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';

import { MeshError } from '../../../common/errors.ts';
import { toAbortSignal } from '../cancel.ts';
import { quietErrors } from '../quiet-errors.ts';
import type { CancelSignal } from '../cancel.ts';
import { EngineErrorCode } from '../status.ts';
import type { LooseHeaders, UpstreamPool, UpstreamRequestSpec, UpstreamResponse } from '../upstream-types.ts';
import { writeBatched, writePartsBatched } from '../../../common/write-batch.ts';
import { ChunkedDecoder, ChunkedError, chunkHeader, lastChunk } from './chunked.ts';
import { isTokenText } from './fields.ts';
import { parseResponseHead, type ResponseHead } from './response.ts';

/** Limits of what an upstream may send back. */
export const RESPONSE_LIMITS = {
  maxHeadBytes: 64 * 1024,
  maxFields: 200,
  maxExtensionBytes: 1024,
  maxTrailerBytes: 16 * 1024,
} as const;

const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Methods for which an absent body is sent as `content-length: 0` (as undici and curl do). */
const BODY_EXPECTED: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);
/**
 * A value that would let a header split the message, or that has a character beyond one byte
 * (the head is written as latin1, byte for byte as the fields were received).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_VALUE = /[\0-\x08\x0a-\x1f\x7f\u0100-\uffff]/;

function invalid(message: string): MeshError {
  return new MeshError(EngineErrorCode.UPSTREAM_RESET, message);
}

/** Serializes the request head; throws when a name or value could not be sent safely. */
export function requestHead(spec: UpstreamRequestSpec, framing: string): string {
  let head = `${spec.method} ${spec.pathAndQuery} HTTP/1.1\r\nhost: ${spec.authority}\r\n`;
  if (
    UNSAFE_VALUE.test(spec.pathAndQuery) ||
    spec.pathAndQuery.includes(' ') ||
    UNSAFE_VALUE.test(spec.authority)
  )
    throw invalid('the request target or authority has characters HTTP/1.1 cannot carry');
  for (const name in spec.headers) {
    if (name === 'host' || name === 'content-length' || name === 'transfer-encoding') continue;
    const value = spec.headers[name];
    if (value === undefined) continue;
    if (!isTokenText(name)) throw invalid(`header name ${JSON.stringify(name)} is not a token`);
    if (Array.isArray(value)) {
      for (const v of value) {
        if (UNSAFE_VALUE.test(v))
          throw invalid(`header ${name} has a control character or one beyond latin1`);
        head += `${name}: ${v}\r\n`;
      }
    } else {
      if (UNSAFE_VALUE.test(value))
        throw invalid(`header ${name} has a control character or one beyond latin1`);
      head += `${name}: ${value}\r\n`;
    }
  }
  return head + framing + '\r\n';
}

/** Response fields from raw pairs: lowercase names, repeats as arrays (as undici returns them). */
function looseHeaders(raw: readonly string[]): LooseHeaders {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    const value = raw[i + 1] ?? '';
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[name] = [had, value];
  }
  return out;
}

/** The fields of a response head: its joined map when no name repeats, else arrays per name. */
function responseHeaders(h: ResponseHead): LooseHeaders {
  return h.repeated ? looseHeaders(h.rawHeaders) : h.headers;
}

/** Trailer field lines (`name: value\r\n` …) as headers; malformed lines are dropped. */
function trailerHeaders(section: Buffer): LooseHeaders | undefined {
  if (section.length === 0) return undefined;
  const raw: string[] = [];
  for (const line of section.toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    if (!isTokenText(name)) continue;
    raw.push(name, line.slice(colon + 1).trim());
  }
  return raw.length === 0 ? undefined : looseHeaders(raw);
}

/** What the exchange in progress on a connection is told of its stream. */
interface ExchangeEvents {
  data(chunk: Buffer): void;
  end(): void;
  close(): void;
}

/** One connection and the exchange it carries. */
class Connection {
  /** Requests sent on it so far. */
  uses = 0;
  /** When it was parked (Date.now()); 0 while in use. */
  parkedAt = 0;
  /** The exchange in progress; the stream's listeners are set once and dispatch to it. */
  current: ExchangeEvents | undefined;

  constructor(
    readonly stream: Duplex,
    onGone: (c: Connection) => void,
  ) {
    stream.on('error', () => undefined);
    stream.on('data', (chunk: Buffer) => this.current?.data(chunk));
    stream.on('end', () => this.current?.end());
    stream.once('close', () => {
      this.current?.close();
      onGone(this);
    });
    // Not flowing until an exchange wants bytes: what the server sends unasked stays buffered.
    stream.pause();
  }

  /** Parks the connection; it closes itself after `ms` unused. */
  park(): void {
    this.parkedAt = Date.now();
  }

  /** Takes it out of the pool. */
  unpark(): void {
    this.parkedAt = 0;
  }

  /** Open both ways, with no byte the server sent unasked while parked. */
  get usable(): boolean {
    return (
      !this.stream.destroyed &&
      this.stream.writable &&
      this.stream.readable &&
      this.stream.readableLength === 0
    );
  }
}

/** Options of {@link RawH1Pool}. */
export interface RawH1PoolOptions {
  readonly connectTimeoutMs: number;
  readonly keepAliveMs: number;
}

/** Keep-alive HTTP/1.1 connections to one endpoint. */
export class RawH1Pool implements UpstreamPool {
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();
  #closed = false;
  #sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly open: (signal: AbortSignal) => Promise<Duplex>,
    private readonly options: RawH1PoolOptions,
  ) {}

  /** Connections open now (idle and busy). */
  get size(): number {
    return this.#all.size;
  }

  send(spec: UpstreamRequestSpec, signal: CancelSignal): Promise<UpstreamResponse> {
    if (signal.aborted) return Promise.reject(asError(signal.reason));
    const reused = this.#take();
    if (reused === undefined) return this.#sendOnNew(spec, signal);
    // No async frame and no derived promise on the common path: a kept-alive connection, the
    // exchange's promise, and a handler for the keep-alive race (a parked connection the server
    // had just closed) that is called only when it happens.
    return exchange(
      reused,
      spec,
      signal,
      (keep) => this.#release(reused, keep),
      (err) => this.#afterStale(spec, signal, err),
    );
  }

  /** A reused connection failed before any response byte: sent again on a new one when safe. */
  #afterStale(spec: UpstreamRequestSpec, signal: CancelSignal, err: Error): Promise<UpstreamResponse> {
    const replayable = spec.body === undefined || Buffer.isBuffer(spec.body);
    if (replayable && IDEMPOTENT.has(spec.method)) return this.#sendOnNew(spec, signal);
    return Promise.reject(err);
  }

  async #sendOnNew(spec: UpstreamRequestSpec, signal: CancelSignal): Promise<UpstreamResponse> {
    const conn = await this.#connect(signal);
    // A new connection: the keep-alive race cannot happen, so there is no second try.
    return exchange(conn, spec, signal, (keep) => this.#release(conn, keep), undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    for (const c of this.#all) c.stream.destroy();
    this.#all.clear();
    this.#idle.length = 0;
    await Promise.resolve();
  }

  #take(): Connection | undefined {
    for (let c = this.#idle.pop(); c !== undefined; c = this.#idle.pop()) {
      c.unpark();
      if (c.usable) return c;
      c.stream.destroy();
    }
    return undefined;
  }

  async #connect(signal: CancelSignal): Promise<Connection> {
    const timeout = AbortSignal.timeout(this.options.connectTimeoutMs);
    const stream = await this.open(AbortSignal.any([toAbortSignal(signal), timeout]));
    const conn = new Connection(stream, (c) => this.#gone(c));
    this.#all.add(conn);
    return conn;
  }

  #release(conn: Connection, keep: boolean): void {
    if (!keep || this.#closed || !conn.usable) {
      conn.stream.destroy();
      return;
    }
    // Paused while parked: a byte the server sends unasked stays buffered and makes it unusable.
    conn.stream.pause();
    conn.park();
    this.#idle.push(conn);
    this.#sweepSoon();
  }

  /**
   * Closes connections parked longer than the keep-alive time: one timer per pool while any
   * connection is parked, instead of a timer armed and cleared per request.
   */
  #sweepSoon(): void {
    if (this.#sweep !== undefined) return;
    const every = Math.max(10, Math.floor(this.options.keepAliveMs / 2));
    this.#sweep = setInterval(() => {
      const cutoff = Date.now() - this.options.keepAliveMs;
      for (const c of [...this.#idle]) if (c.parkedAt !== 0 && c.parkedAt <= cutoff) c.stream.destroy();
      if (this.#idle.length === 0 || this.#closed) {
        clearInterval(this.#sweep);
        this.#sweep = undefined;
      }
    }, every);
    this.#sweep.unref();
  }

  #gone(conn: Connection): void {
    conn.unpark();
    this.#all.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/**
 * Sends `spec` on `conn` and resolves with the response once its head arrived; the body streams
 * on. `release(keep)` is called exactly once, when the connection is free again or broken. When
 * a reused connection fails before any response byte, the result is `stale(err)`'s instead.
 */
function exchange(
  conn: Connection,
  spec: UpstreamRequestSpec,
  signal: CancelSignal,
  release: (keep: boolean) => void,
  stale: ((err: Error) => Promise<UpstreamResponse>) | undefined,
): Promise<UpstreamResponse> {
  const stream = conn.stream;
  const firstUse = conn.uses++ === 0;
  return new Promise<UpstreamResponse>((resolve, reject) => {
    let pending: Buffer | undefined;
    let head: ResponseHead | undefined;
    let body: Readable | undefined;
    let decoder: ChunkedDecoder | undefined;
    let remaining = 0;
    let trailers: LooseHeaders | undefined;
    let requestDone = false;
    let responseDone = false;
    let gotBytes = false;
    let settled = false;

    const cleanup = (): void => {
      conn.current = undefined;
      signal.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      cleanup();
      stream.destroy();
      release(false);
      // A response already read whole stays readable (a backend may answer, 413 say, and close
      // while the request body is still arriving); one cut short fails its reader.
      if (body !== undefined) {
        if (!responseDone) body.destroy(err);
      } else if (!gotBytes && !firstUse && stale !== undefined) resolve(stale(err));
      else reject(err);
    };
    const finish = (): void => {
      if (settled || !requestDone || !responseDone) return;
      settled = true;
      cleanup();
      release(head?.keepAlive === true && pending === undefined);
    };
    const endBody = (): void => {
      responseDone = true;
      body?.push(null);
      finish();
    };
    const onBodyBytes = (chunk: Buffer): void => {
      if (body !== undefined && !body.push(chunk)) stream.pause();
    };
    const consumeBody = (buf: Buffer): void => {
      if (head === undefined) return;
      const framing = head.framing;
      if (framing.kind === 'length') {
        const n = Math.min(remaining, buf.length);
        if (n > 0) onBodyBytes(buf.subarray(0, n));
        remaining -= n;
        if (n < buf.length) pending = buf.subarray(n); // more than the response: not reusable
        if (remaining === 0) endBody();
      } else if (framing.kind === 'chunked' && decoder !== undefined) {
        let out;
        try {
          out = decoder.push(buf);
        } catch (err) {
          fail(
            err instanceof ChunkedError
              ? invalid(`malformed chunked response: ${err.message}`)
              : asError(err),
          );
          return;
        }
        for (const d of out.data) onBodyBytes(d);
        if (out.done) {
          trailers = trailerHeaders(decoder.trailers());
          if (out.consumed < buf.length) pending = buf.subarray(out.consumed);
          endBody();
        }
      } else if (framing.kind === 'close') {
        onBodyBytes(buf);
      } else if (buf.length > 0) {
        pending = buf;
      }
    };
    const onHead = (h: ResponseHead, rest: Buffer): void => {
      head = h;
      const framing = h.framing;
      if (framing.kind === 'length' && framing.bytes > 0 && rest.length >= framing.bytes) {
        // The whole body came with the head (the common small response): no stream for it.
        if (rest.length > framing.bytes) pending = rest.subarray(framing.bytes);
        responseDone = true;
        resolve(new WholeResponse(h.status, responseHeaders(h), rest.subarray(0, framing.bytes)));
        finish();
        return;
      }
      body = quietErrors(
        new Readable({
          read: () => {
            if (stream.isPaused()) stream.resume();
          },
          destroy: (err, cb) => {
            // The reader gave up (client gone, retry): the connection cannot be reused.
            if (!responseDone) fail(err ?? new Error('the response body was abandoned'));
            cb(err);
          },
        }),
      );
      if (framing.kind === 'chunked') decoder = new ChunkedDecoder(RESPONSE_LIMITS);
      if (framing.kind === 'length') remaining = framing.bytes;
      resolve({
        status: h.status,
        headers: responseHeaders(h),
        body,
        trailers: () => trailers,
      });
      if (framing.kind === 'none' || (framing.kind === 'length' && framing.bytes === 0)) {
        if (rest.length > 0) pending = rest;
        endBody();
      } else if (rest.length > 0) consumeBody(rest);
    };
    const onData = (chunk: Buffer): void => {
      gotBytes = true;
      if (head !== undefined) {
        consumeBody(chunk);
        return;
      }
      let buf = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      pending = undefined;
      for (;;) {
        const r = parseResponseHead(buf, RESPONSE_LIMITS, spec.method);
        if (r.kind === 'incomplete') {
          pending = buf;
          return;
        }
        if (r.kind === 'error') {
          fail(invalid(`malformed response from the backend: ${r.reason}`));
          return;
        }
        if (r.head.status === 101) {
          fail(invalid('the backend switched protocols (101), which the waypoint does not relay'));
          return;
        }
        if (r.head.status < 200) {
          // 100 Continue, 103 Early Hints: informational, the final response follows.
          buf = buf.subarray(r.head.headBytes);
          if (buf.length === 0) return;
          continue;
        }
        onHead(r.head, buf.subarray(r.head.headBytes));
        return;
      }
    };
    const onEnd = (): void => {
      if (head?.framing.kind === 'close' && !responseDone) {
        endBody();
        return;
      }
      if (!responseDone) fail(new Error('the backend closed the connection before the response ended'));
    };
    const onClose = (): void => {
      if (!responseDone || !requestDone) fail(new Error('the backend connection closed'));
    };
    const onAbort = (): void => fail(asError(signal.reason));

    conn.current = { data: onData, end: onEnd, close: onClose };
    signal.addEventListener('abort', onAbort, { once: true });
    if (stream.isPaused()) stream.resume();

    try {
      writeRequest(
        stream,
        spec,
        () => {
          requestDone = true;
          finish();
        },
        fail,
      );
    } catch (err) {
      fail(asError(err));
    }
  });
}

/** A response whose body arrived whole with its head. */
class WholeResponse implements UpstreamResponse {
  #body: Readable | undefined;

  constructor(
    readonly status: number,
    readonly headers: LooseHeaders,
    readonly whole: Buffer,
  ) {}

  /** A stream of the bytes, made only for a reader that wants one. */
  get body(): Readable {
    if (this.#body === undefined) {
      const body = new Readable({ read: () => undefined });
      body.push(this.whole);
      body.push(null);
      this.#body = body;
    }
    return this.#body;
  }

  trailers(): undefined {
    return undefined;
  }
}

/** Writes the request; `done` once it is all written, `fail` when the body stream breaks. */
function writeRequest(
  stream: Duplex,
  spec: UpstreamRequestSpec,
  done: () => void,
  fail: (err: Error) => void,
): void {
  const body = spec.body;
  if (body === undefined || Buffer.isBuffer(body)) {
    const length = body?.length ?? 0;
    const framing =
      body === undefined && !BODY_EXPECTED.has(spec.method) ? '' : `content-length: ${length}\r\n`;
    const head = requestHead(spec, framing);
    // Held for the turn's burst (common/write-batch.ts) unless the request is large.
    if (body === undefined || length === 0) writeBatched(stream, head);
    else writePartsBatched(stream, [head, body]);
    done();
    return;
  }
  const declared = spec.headers['content-length'];
  const length = typeof declared === 'string' && /^\d+$/.test(declared) ? declared : undefined;
  const chunked = length === undefined;
  writeBatched(
    stream,
    requestHead(spec, chunked ? 'transfer-encoding: chunked\r\n' : `content-length: ${length}\r\n`),
  );
  const onData = (chunk: Buffer): void => {
    if (chunk.length === 0) return;
    const ok = chunked
      ? writeBatched(stream, chunkHeader(chunk.length)) &&
        writeBatched(stream, chunk) &&
        writeBatched(stream, '\r\n')
      : writeBatched(stream, chunk);
    if (!ok) {
      body.pause();
      stream.once('drain', () => body.resume());
    }
  };
  body.on('data', onData);
  body.once('end', () => {
    body.off('data', onData);
    if (chunked) writeBatched(stream, lastChunk());
    done();
  });
  body.once('error', (err) => fail(err));
}
