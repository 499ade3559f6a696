/**
 * The downstream side of one HTTP/1.1 exchange on a raw stream: {@link H1Response} has the part
 * of Node's `ServerResponse` the engine uses (`writeHead`, `write`, `end`, `addTrailers`,
 * `destroy`, `headersSent`, `writableFinished`, `destroyed`, the `drain` and `close` events) and
 * frames the body itself (RFC 9112 §6): Content-Length when given, none for HEAD, 1xx, 204 and
 * 304, chunked (with trailers) for HTTP/1.1, close-delimited for HTTP/1.0. The head waits for the
 * first body bytes so that a small response is one write.
 */
import { EventEmitter } from 'node:events';
import { STATUS_CODES } from 'node:http';

import { chunkHeader, lastChunk } from './chunked.ts';
import { lowerToken } from './fields.ts';

/** Header values a response may carry: as `HeaderRecord` and Node's `OutgoingHttpHeaders`. */
export type OutgoingHeaders = Readonly<Record<string, string | number | readonly string[] | undefined>>;

/** What a response needs from its connection. */
export interface ResponseSink {
  /** The stream; writes go straight to it. */
  write(data: string | Buffer, cb?: () => void): boolean;
  /** Writes several pieces as one (cork/uncork); `cb` after the last. */
  writev(parts: readonly (string | Buffer)[], cb?: () => void): boolean;
  /** The response finished writing; `keepAlive` false closes the connection. */
  finished(res: H1Response, keepAlive: boolean): void;
  /** The response was abandoned: the connection must close now. */
  abort(): void;
}

/** The request facts framing depends on. */
export interface ResponseContext {
  readonly method: string;
  readonly versionMinor: 0 | 1;
  /** False when the connection closes after this exchange (client asked, body unread…). */
  keepAlive: boolean;
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_VALUE = /[\0-\x08\x0a-\x1f\x7f\u0100-\uffff]/;
/** Framing is the response's own business: these names are written by it (the length once). */
const FRAMING: ReadonlySet<string> = new Set([
  'connection',
  'transfer-encoding',
  'keep-alive',
  'content-length',
]);

const enum Framing {
  None,
  Length,
  Chunked,
  Close,
}

const EMPTY = Buffer.alloc(0);

let dateSecond = -1;
let dateValue = '';
/** The `date` value, formatted once per second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

/** A header field line (`name` a lowercase token), refusing a value that could split or corrupt the message. */
function fieldLine(name: string, value: string): string {
  if (UNSAFE_VALUE.test(value))
    throw new TypeError(`response header ${name} has a control character or one beyond latin1`);
  return `${name}: ${value}\r\n`;
}

function fieldLines(headers: OutgoingHeaders, skip?: ReadonlySet<string>): string {
  let out = '';
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const lower = lowerToken(name);
    if (lower === undefined)
      throw new TypeError(`response header name ${JSON.stringify(name)} is not a token`);
    if (skip?.has(lower) === true) continue;
    if (typeof value === 'object') for (const v of value) out += fieldLine(lower, v);
    else out += fieldLine(lower, String(value));
  }
  return out;
}

/** One response on an HTTP/1.1 connection. */
export class H1Response extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  writableFinished = false;
  destroyed = false;
  #head: string | undefined;
  #framing = Framing.None;
  /** The declared Content-Length; -1 when none was given. */
  #declared = -1;
  #written = 0;
  #trailers = '';
  #ended = false;

  constructor(
    private readonly sink: ResponseSink,
    private readonly ctx: ResponseContext,
  ) {
    super();
  }

  /** Sets the status and headers; they are written with the first body bytes or at `end`. */
  writeHead(status: number, headers?: OutgoingHeaders): this {
    if (this.headersSent) throw new Error('the response head was already written');
    if (!Number.isInteger(status) || status < 200 || status > 999)
      throw new RangeError(`invalid response status ${status}`);
    const given = headers ?? {};
    const length = status === 204 ? undefined : given['content-length'];
    let lines = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n` + fieldLines(given, FRAMING);
    if (given['date'] === undefined) lines += `date: ${httpDate()}\r\n`;
    if (length !== undefined) {
      const text = String(length);
      if (!/^\d{1,15}$/.test(text)) throw new TypeError(`invalid content-length ${text}`);
      this.#declared = Number(text);
      lines += `content-length: ${text}\r\n`;
    }
    this.statusCode = status;
    this.#head = lines;
    this.headersSent = true;
    return this;
  }

  /**
   * Decides the framing when the first bytes go out (RFC 9112 §6.3): the declared length; none
   * for HEAD, 204 and 304; the length of `whole` when the response is ended with it before any
   * write; else chunked (HTTP/1.1) or close-delimited (HTTP/1.0). Returns the head to write.
   */
  #commit(whole: Buffer | undefined): string {
    const status = this.statusCode;
    let lines = this.#head ?? '';
    this.#head = undefined;
    if (this.ctx.method === 'HEAD' || status === 204 || status === 304) this.#framing = Framing.None;
    else if (this.#declared >= 0) this.#framing = Framing.Length;
    else if (whole !== undefined) {
      this.#framing = Framing.Length;
      this.#declared = whole.length;
      lines += `content-length: ${whole.length}\r\n`;
    } else if (this.ctx.versionMinor === 1) {
      this.#framing = Framing.Chunked;
      lines += 'transfer-encoding: chunked\r\n';
    } else {
      this.#framing = Framing.Close;
      this.ctx.keepAlive = false;
    }
    if (!this.ctx.keepAlive) lines += 'connection: close\r\n';
    else if (this.ctx.versionMinor === 0) lines += 'connection: keep-alive\r\n';
    return lines + '\r\n';
  }

  /** Trailer fields, sent after a chunked body (dropped otherwise, as Node does). */
  addTrailers(headers: OutgoingHeaders): void {
    this.#trailers += fieldLines(headers);
  }

  /** Writes body bytes; false when the stream asks to wait for `drain`. */
  write(chunk: Buffer | string): boolean {
    if (this.#ended || this.destroyed) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const head = this.#head === undefined ? undefined : this.#commit(undefined);
    return this.#send(head, this.#body(data), undefined);
  }

  /** Ends the response (with last bytes when given); `cb` once it is all written. */
  end(chunk?: Buffer | string | (() => void), cb?: () => void): this {
    if (typeof chunk === 'function') return this.end(undefined, chunk);
    if (this.#ended || this.destroyed) return this;
    if (!this.headersSent) this.writeHead(this.statusCode);
    this.#ended = true;
    const data = chunk === undefined ? EMPTY : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const head = this.#head === undefined ? undefined : this.#commit(data);
    const parts = this.#body(data);
    if (this.#framing === Framing.Chunked) parts.push(lastChunk(this.#trailers));
    const short = this.#framing === Framing.Length && this.#written !== this.#declared;
    this.#send(head, parts, () => {
      if (this.destroyed) return;
      if (short) {
        // The body did not match its declared length: the framing is broken, so is the connection.
        this.destroy();
        return;
      }
      this.writableFinished = true;
      this.sink.finished(this, this.ctx.keepAlive);
      cb?.();
      this.emit('finish');
      this.emit('close');
    });
    return this;
  }

  /** Abandons the response: the connection is closed (the client sees an error, not a short body). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.sink.abort();
  }

  /** Called by the connection when its stream closed before this response finished. */
  closed(): void {
    if (this.writableFinished) return;
    this.destroyed = true;
    this.emit('close');
  }

  #body(data: Buffer): (string | Buffer)[] {
    if (data.length === 0 || this.#framing === Framing.None) return [];
    this.#written += data.length;
    if (this.#framing === Framing.Length && this.#written > this.#declared) {
      // More than declared would become the start of a next message: never send it.
      this.destroy();
      return [];
    }
    return this.#framing === Framing.Chunked ? [chunkHeader(data.length), data, '\r\n'] : [data];
  }

  #send(head: string | undefined, parts: (string | Buffer)[], cb: (() => void) | undefined): boolean {
    if (this.destroyed) return false;
    if (head !== undefined) {
      // The head and one piece (the common small response): no array shifted.
      if (parts.length === 1) return this.sink.writev([head, parts[0] as string | Buffer], cb);
      parts.unshift(head);
    }
    if (parts.length === 0) {
      if (cb !== undefined) queueMicrotask(cb);
      return true;
    }
    return parts.length === 1
      ? this.sink.write(parts[0] as string | Buffer, cb)
      : this.sink.writev(parts, cb);
  }
}
