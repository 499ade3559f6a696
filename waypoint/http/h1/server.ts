/**
 * The waypoint's HTTP/1.1 server on raw streams (each an HBONE tunnel). It replaces Node's `http`
 * server on the hot path: a request head is parsed once by the strict parser (head.ts), a request
 * without a body costs no stream, and a small response is one write (outgoing.ts).
 *
 * One exchange at a time per connection: pipelined requests wait in the buffer (bounded; the
 * stream is paused beyond it) and are answered in order. Refused input gets its status and the
 * connection closes: 400 malformed or smuggling-prone framing, 408 a head or body too slow,
 * 431 a head too large, 501 an unknown transfer coding or CONNECT, 505 another HTTP version.
 * The timeouts are checked by one sweep per server, not a timer per request.
 */
import { Readable } from 'node:stream';
import type { Duplex } from 'node:stream';

import {
  holdWrites,
  releaseAndDestroy,
  releaseWrites,
  writeBatched,
  writePartsBatched,
} from '../../../common/write-batch.ts';
import { ChunkedDecoder, ChunkedError } from './chunked.ts';
import { parseRequestHead } from './head.ts';
import type { RequestHead } from './head.ts';
import { H1Response } from './outgoing.ts';
import type { ResponseContext, ResponseSink } from './outgoing.ts';
const CR = 0x0d;
const LF = 0x0a;

/** Limits of the server. */
export interface H1ServerLimits {
  /** Bytes of a request head. */
  readonly maxHeadBytes: number;
  /** Field lines of a request head. */
  readonly maxFields: number;
  /** From the first byte of a head (or the connection's start) to its end. */
  readonly headersTimeoutMs: number;
  /** From the first byte of a request to the end of its body. */
  readonly requestTimeoutMs: number;
  /** Idle time between requests before the connection is closed. */
  readonly keepAliveTimeoutMs: number;
}

/** One request: the head, and the body as a stream when there is one. */
export class H1Request {
  readonly httpVersionMajor = 1;

  constructor(
    readonly method: string,
    readonly url: string,
    readonly httpVersionMinor: 0 | 1,
    /** Lowercase names; repeated fields joined (`cookie` with `; `, others with `, `). */
    readonly headers: Readonly<Record<string, string>>,
    /** Undefined when the request has no body (no length, length 0, and not chunked). */
    readonly body: Readable | undefined,
  ) {}
}

/** Called once per request; answer on `res`, read the body from `req.body`. */
export type H1Handler<T> = (req: H1Request, res: H1Response, tag: T) => void;

/** Called for each refused request head, with its status. */
export type RefusalCounter = (status: number) => void;

/** Up to this many bytes, the pieces of one write are copied together rather than corked. */
const COALESCE_BYTES = 16 * 1024;
const CHUNKED_LIMITS = { maxExtensionBytes: 1024, maxTrailerBytes: 16 * 1024 } as const;
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

const enum Phase {
  /** Waiting for (the rest of) a request head. */
  Head,
  /** A request in flight whose body is still arriving. */
  Body,
  /** A request read whole, its response not finished. */
  Answer,
  /** Between requests on a kept-alive connection. */
  Idle,
  Closed,
}

/** The HTTP/1.1 server: hand it streams with {@link H1Server.serve}. */
export class H1Server<T> {
  readonly #connections = new Set<Connection<T>>();
  readonly #sweep: NodeJS.Timeout;

  constructor(
    readonly limits: H1ServerLimits,
    readonly handler: H1Handler<T>,
    readonly refused: RefusalCounter,
  ) {
    const every = Math.max(10, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)));
    this.#sweep = setInterval(() => this.#check(), every);
    this.#sweep.unref();
  }

  /** Serves HTTP/1.1 on `stream` until it closes; `tag` is handed to every request's handler. */
  serve(stream: Duplex, tag: T): void {
    const conn = new Connection(this, stream, tag);
    this.#connections.add(conn);
    stream.once('close', () => {
      this.#connections.delete(conn);
      conn.onClose();
    });
  }

  /** Closes connections waiting between requests. */
  closeIdle(): void {
    for (const c of this.#connections) c.closeIfIdle();
  }

  /** Stops the timeout sweep and closes every connection. */
  close(): void {
    clearInterval(this.#sweep);
    for (const c of this.#connections) c.abort();
  }

  #check(): void {
    const now = Date.now();
    for (const c of this.#connections) c.checkTimeouts(now);
  }
}

class Connection<T> implements ResponseSink {
  phase = Phase.Head;
  /** When the current phase's clock started (Date.now()). */
  since = Date.now();
  #pending: Buffer | undefined;
  #res: H1Response | undefined;
  #body: Readable | undefined;
  #decoder: ChunkedDecoder | undefined;
  #remaining = 0;
  /** The body's reader stopped reading (destroyed it): the rest is read and dropped. */
  #discard = false;
  #expectContinue = false;
  #pausedByBody = false;
  #pausedByPipeline = false;
  #clientEnded = false;
  #closing = false;

  constructor(
    private readonly server: H1Server<T>,
    readonly stream: Duplex,
    private readonly tag: T,
  ) {
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('end', () => this.#onEnd());
    stream.on('error', () => undefined);
    stream.on('drain', () => this.#res?.emit('drain'));
  }

  // ResponseSink

  write(data: string | Buffer, cb?: () => void): boolean {
    return writeBatched(this.stream, data, cb);
  }

  writev(parts: readonly (string | Buffer)[], cb?: () => void): boolean {
    const s = this.stream;
    let total = 0;
    for (const p of parts) total += p.length;
    if (total <= COALESCE_BYTES) {
      // A small response (head and body) is copied into one buffer: one write, held for the
      // turn's burst (common/write-batch.ts).
      const out = Buffer.allocUnsafe(total);
      let at = 0;
      for (const p of parts) at += typeof p === 'string' ? out.write(p, at, 'latin1') : p.copy(out, at);
      holdWrites(s);
      return s.write(out, cb);
    }
    return writePartsBatched(s, parts, cb);
  }

  finished(res: H1Response, keepAlive: boolean): void {
    if (res !== this.#res) return;
    this.#res = undefined;
    if (!keepAlive || this.#closing) {
      this.#finishAndClose();
      return;
    }
    if (this.phase === Phase.Body) {
      // Answered before the body ended (an early 4xx): whoever still reads the body (the
      // upstream request) sees it cut, and the rest is read and dropped, then the next request
      // follows (#bodyBytes moves on).
      this.#expectContinue = false;
      const body = this.#body;
      if (body !== undefined && !this.#discard)
        abortBody(body, 'the request was answered before its body ended');
      this.#discard = true;
      this.#wantBody();
      return;
    }
    this.#body = undefined;
    this.#next();
  }

  abort(): void {
    this.#destroy();
  }

  // Server

  onClose(): void {
    this.phase = Phase.Closed;
    const body = this.#body;
    if (body !== undefined && !body.readableEnded && !body.destroyed)
      abortBody(body, 'the client closed the connection before the request body ended');
    this.#res?.closed();
  }

  closeIfIdle(): void {
    this.#closing = true;
    if (this.phase === Phase.Idle || (this.phase === Phase.Head && this.#pending === undefined))
      this.#destroy();
  }

  checkTimeouts(now: number): void {
    const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = this.server.limits;
    const waited = now - this.since;
    if (this.phase === Phase.Idle && waited > keepAliveTimeoutMs) this.#destroy();
    else if (this.phase === Phase.Head && waited > headersTimeoutMs) {
      // A connection that never sent a byte is closed quietly; a head cut short is answered.
      if (this.#pending === undefined) this.#destroy();
      else this.#refuse(408);
    } else if (this.phase === Phase.Body && waited > requestTimeoutMs) {
      if (this.#res?.headersSent === true) this.#destroy();
      else this.#refuse(408);
    }
  }

  // Reading

  #onData(chunk: Buffer): void {
    if (this.phase === Phase.Closed) return;
    if (this.phase === Phase.Body) {
      this.#bodyBytes(chunk);
      return;
    }
    const had = this.#pending?.length ?? 0;
    this.#pending = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    if (this.phase === Phase.Idle) {
      this.phase = Phase.Head;
      this.since = Date.now();
    }
    if (this.phase === Phase.Head && (had === 0 || this.#mayEndHead(had))) this.#next();
    else if (this.#pending.length > this.server.limits.maxHeadBytes && !this.#pausedByPipeline) {
      // Pipelined requests beyond one head's worth wait in the kernel, not here.
      this.#pausedByPipeline = true;
      this.stream.pause();
    }
  }

  #onEnd(): void {
    this.#clientEnded = true;
    if (this.phase === Phase.Body) {
      if (this.#body !== undefined)
        abortBody(this.#body, 'the client ended the connection before the request body ended');
      this.#destroy();
    } else if (this.phase === Phase.Head || this.phase === Phase.Idle) this.#destroy();
    // Answer: the response is written, then the connection closes (finished()).
  }

  /**
   * Whether the bytes after `had` could end the head (an LF followed by LF or CRLF, looking
   * back 3 bytes) or fill it to the limit. A head that trickles in a few bytes per read is
   * parsed when it can be complete, not from the start on every read (quadratic CPU).
   */
  #mayEndHead(had: number): boolean {
    const buf = this.#pending;
    if (buf === undefined) return false;
    if (buf.length >= this.server.limits.maxHeadBytes) return true;
    for (let i = buf.indexOf(LF, Math.max(0, had - 3)); i !== -1; i = buf.indexOf(LF, i + 1)) {
      const next = buf[i + 1];
      if (next === LF || (next === CR && buf[i + 2] === LF)) return true;
    }
    return false;
  }

  /** Parses the next request from the buffer when no exchange is in flight. */
  #next(): void {
    if (this.#pausedByPipeline) {
      this.#pausedByPipeline = false;
      this.stream.resume();
    }
    const buf = this.#pending;
    if (buf === undefined) {
      this.phase = this.#clientEnded ? Phase.Closed : Phase.Idle;
      this.since = Date.now();
      if (this.#clientEnded) this.#finishAndClose();
      return;
    }
    if (this.phase !== Phase.Head) {
      this.phase = Phase.Head;
      this.since = Date.now();
    }
    const r = parseRequestHead(buf, this.server.limits);
    if (r.kind === 'incomplete') {
      if (this.#clientEnded) this.#destroy();
      return;
    }
    if (r.kind === 'error') {
      this.#refuse(r.status);
      return;
    }
    const head = r.head;
    const target = head.target;
    if (head.method === 'CONNECT') {
      this.#refuse(501);
      return;
    }
    if (
      target.charCodeAt(0) !== 0x2f /* '/' */ &&
      !(target === '*' && head.method === 'OPTIONS') &&
      !/^https?:\/\//i.test(target)
    ) {
      this.#refuse(400);
      return;
    }
    this.#pending = head.headBytes < buf.length ? buf.subarray(head.headBytes) : undefined;
    this.#start(head);
  }

  #start(head: RequestHead): void {
    const hasBody = head.chunked || (head.contentLength !== undefined && head.contentLength > 0);
    let body: Readable | undefined;
    if (hasBody) {
      this.#discard = false;
      this.#expectContinue = head.expectContinue && head.versionMinor === 1;
      this.#decoder = head.chunked ? new ChunkedDecoder(CHUNKED_LIMITS) : undefined;
      this.#remaining = head.contentLength ?? 0;
      const stream: Readable = new Readable({
        read: () => {
          if (this.#body === stream) this.#wantBody();
        },
        destroy: (err, cb) => {
          // The reader gave up before the end: the rest is read and dropped to keep the framing.
          // (A body destroyed after its end, or after the connection moved on, changes nothing.)
          if (this.#body === stream && this.phase === Phase.Body) {
            this.#discard = true;
            this.#wantBody();
          }
          cb(err);
        },
      });
      body = stream;
      this.phase = Phase.Body;
      this.since = Date.now();
    } else this.phase = Phase.Answer;
    const req = new H1Request(head.method, head.target, head.versionMinor, head.headers, body);
    const ctx: ResponseContext = {
      method: head.method,
      versionMinor: head.versionMinor,
      keepAlive: head.keepAlive,
    };
    const res = new H1Response(this, ctx);
    this.#res = res;
    this.#body = body;
    if (body !== undefined && this.#pending !== undefined) {
      const rest = this.#pending;
      this.#pending = undefined;
      this.#bodyBytes(rest);
    }
    this.server.handler(req, res, this.tag);
  }

  #wantBody(): void {
    if (this.#expectContinue) {
      this.#expectContinue = false;
      if (this.#res?.headersSent !== true) writeBatched(this.stream, CONTINUE);
    }
    if (this.#pausedByBody) {
      this.#pausedByBody = false;
      this.stream.resume();
    }
  }

  #bodyBytes(chunk: Buffer): void {
    const body = this.#body;
    if (body === undefined) return;
    let rest: Buffer | undefined;
    let done = false;
    const out: Buffer[] = [];
    const decoder = this.#decoder;
    if (decoder !== undefined) {
      let r;
      try {
        r = decoder.push(chunk);
      } catch (err) {
        const reason = err instanceof ChunkedError ? err.message : String(err);
        abortBody(body, `malformed chunked request body: ${reason}`);
        if (this.#res?.headersSent === true) this.#destroy();
        else this.#refuse(400);
        return;
      }
      for (const d of r.data) out.push(d);
      done = r.done;
      if (done && r.consumed < chunk.length) rest = chunk.subarray(r.consumed);
    } else {
      const n = Math.min(this.#remaining, chunk.length);
      out.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      this.#remaining -= n;
      done = this.#remaining === 0;
      if (n < chunk.length) rest = chunk.subarray(n);
    }
    if (!this.#discard) {
      let ok = true;
      for (const d of out) if (d.length > 0) ok = body.push(d);
      if (!ok && !done && !this.#pausedByBody) {
        this.#pausedByBody = true;
        this.stream.pause();
      }
    }
    if (!done) return;
    if (!this.#discard) body.push(null);
    if (rest !== undefined) this.#pending = rest;
    if (this.#res === undefined) {
      // The response already finished while the body was being dropped: on to the next request.
      this.#body = undefined;
      this.phase = Phase.Head;
      this.#next();
      return;
    }
    this.phase = Phase.Answer;
    if (this.#pending !== undefined && this.#pending.length > this.server.limits.maxHeadBytes) {
      this.#pausedByPipeline = true;
      this.stream.pause();
    }
  }

  /** Answers a refused request with `status` and closes the connection. */
  #refuse(status: number): void {
    this.server.refused(status);
    this.phase = Phase.Closed;
    this.#pending = undefined;
    const head = `HTTP/1.1 ${status} ${REASON[status] ?? 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`;
    if (!this.stream.writable || this.#res?.headersSent === true) {
      this.#destroy();
      return;
    }
    releaseWrites(this.stream);
    this.stream.end(head, 'latin1', () => this.stream.destroy());
  }

  #finishAndClose(): void {
    this.phase = Phase.Closed;
    releaseWrites(this.stream);
    this.stream.end(() => this.stream.destroy());
  }

  /** Closes the connection now, with what the turn held for it sent first. */
  #destroy(): void {
    releaseAndDestroy(this.stream);
  }
}

/** Ends a body cut short: an error for a reader listening for one, else just `close`. */
function abortBody(body: Readable, message: string): void {
  if (body.destroyed) return;
  if (body.listenerCount('error') > 0) body.destroy(new Error(message));
  else body.destroy();
}

const REASON: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};
