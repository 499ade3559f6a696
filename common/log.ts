/**
 * Structured JSON logging. Each component takes a child logger (`log.child({component: 'ca'})`)
 * so every line says where it came from. Lines go to stderr so stdout stays free for CLI output:
 * synchronously by default, or through {@link createBatchingSink} on hot paths.
 */
import fs from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where log lines go; tests pass an in-memory sink. */
export interface LogSink {
  write(line: string): void;
}

/** Fields attached to a line; values must be JSON-serialisable. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Fields already serialized as the members of a JSON object (`"a":1,"b":"x"`, no braces), for a
 * line written per request (the waypoint's access log): building the text directly costs less
 * than half of a `JSON.stringify` of a fresh object. Strings go through {@link jsonString}; the
 * caller must not use `time`, `level`, `msg` or a key the logger binds.
 */
export class JsonMembers {
  constructor(readonly json: string) {}
}

const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** `s` as a JSON string literal: printable ASCII without `"` or `\` (the usual case) is only quoted. */
export function jsonString(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** A structured logger with bound fields. */
export interface Logger {
  debug(msg: string, fields?: LogFields | JsonMembers): void;
  info(msg: string, fields?: LogFields | JsonMembers): void;
  warn(msg: string, fields?: LogFields | JsonMembers): void;
  error(msg: string, fields?: LogFields | JsonMembers): void;
  child(fields: LogFields): Logger;
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  sink?: LogSink;
  fields?: LogFields;
  now?: () => Date;
}

function parseLevel(value: string | undefined): LogLevel {
  return value === 'debug' || value === 'info' || value === 'warn' || value === 'error' ? value : 'info';
}

let isoMs = -1;
let isoText = '';
/** The current time as ISO 8601, formatted once per millisecond (a line per request adds up). */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** Creates a logger; the level defaults to `WAYMESH_LOG_LEVEL` or `info`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? parseLevel(process.env['WAYMESH_LOG_LEVEL']);
  const sink = options.sink ?? { write: (line: string) => process.stderr.write(line + '\n') };
  const now = options.now;
  const bound = options.fields ?? {};
  // The bound fields are serialized once per logger, not once per line (the waypoint logs a
  // line per request). A line whose fields collide with them (or with time/level/msg) takes the
  // merging path, so later keys still win exactly as `{...bound, ...fields}` would.
  const boundJson = JSON.stringify(bound).slice(1, -1);
  // Checked by asking `fields` for each reserved name (a few lookups on one shape) rather than
  // walking every field of the line.
  const reserved = ['time', 'level', 'msg', ...Object.keys(bound)];
  const boundCollides = 'time' in bound || 'level' in bound || 'msg' in bound;
  const collides = (fields: LogFields): boolean => {
    if (boundCollides) return true;
    for (const key of reserved) if (key in fields) return true;
    return false;
  };
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields | JsonMembers): void => {
    if (ORDER[lvl] < ORDER[level]) return;
    const time = now === undefined ? isoNow() : now().toISOString();
    if (fields instanceof JsonMembers) {
      let line = `{"time":"${time}","level":"${lvl}","msg":${jsonString(msg)}`;
      if (boundJson !== '') line += ',' + boundJson;
      if (fields.json !== '') line += ',' + fields.json;
      sink.write(line + '}');
      return;
    }
    if (fields !== undefined && collides(fields)) {
      sink.write(JSON.stringify({ time, level: lvl, msg, ...bound, ...fields }));
      return;
    }
    let line = `{"time":"${time}","level":"${lvl}","msg":${JSON.stringify(msg)}`;
    if (boundJson !== '') line += ',' + boundJson;
    if (fields !== undefined) {
      const own = JSON.stringify(fields);
      if (own.length > 2) line += ',' + own.slice(1, -1);
    }
    sink.write(line + '}');
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger({ level, sink, now, fields: { ...bound, ...fields } }),
  };
}

/** A logger that discards everything (for tests that do not inspect logs). */
export const silentLogger: Logger = createLogger({ sink: { write: () => undefined } });

/** Options for {@link createBatchingSink}. */
export interface BatchingSinkOptions {
  /** File descriptor written to (default 2, stderr). */
  readonly fd?: number;
  /** Lines held at most while a write is in flight; beyond that lines are dropped and counted. */
  readonly maxBufferedLines?: number;
  /** How long a line may wait for its batch (default 50 ms); 0: the next timer turn. */
  readonly flushIntervalMs?: number;
  /** A batch this large is written at once, without waiting for the interval (default 1000). */
  readonly batchLines?: number;
  /** Injected `fs.write`/`fs.writeSync` (tests: a slow or failing disk). */
  readonly fs?: Pick<typeof fs, 'write' | 'writeSync'>;
}

/** A {@link LogSink} that writes in the background: see {@link createBatchingSink}. */
export interface BatchingSink extends LogSink {
  /** Lines dropped so far because the buffer was full or a write failed. */
  readonly dropped: number;
  /** Writes what is buffered now; resolves when every line accepted so far is written (or dropped). */
  flush(): Promise<void>;
  /** Writes the buffered lines synchronously (for `process.on('exit')`); in-flight writes are not waited for. */
  flushSync(): void;
}

const DEFAULT_MAX_BUFFERED_LINES = 10_000;
const DEFAULT_FLUSH_INTERVAL_MS = 50;
const DEFAULT_BATCH_LINES = 1000;
/** Bytes of one buffer lines are copied into (a longer line gets a buffer of its own size). */
const CHUNK_BYTES = 256 * 1024;

/**
 * Lines waiting for their batch, copied as UTF-8 into off-heap buffers that are reused. Held as
 * strings, every line outlived a few young-generation collections (it waits up to the flush
 * interval) and was promoted: at 15,000 req/s the waypoint's old space grew by ~25 MB of dead
 * access-log lines between full collections. Copied at once, the string dies young; the buffer
 * goes back to a small free list once its batch is written.
 */
class LineBuffer {
  /** Complete buffers, oldest first, each cut to the bytes it holds. */
  private full: Buffer[] = [];
  private current: Buffer | undefined;
  private used = 0;
  private readonly free: Buffer[] = [];
  lines = 0;

  append(line: string): void {
    const room = this.current === undefined ? 0 : this.current.length - this.used;
    // Three UTF-8 bytes per UTF-16 unit at most: no byteLength() scan when that surely fits.
    const need = line.length * 3 + 1 <= room ? line.length * 3 + 1 : Buffer.byteLength(line) + 1;
    if (this.current === undefined || need > room) {
      if (this.current !== undefined && this.used > 0) this.full.push(this.current.subarray(0, this.used));
      this.current =
        need <= CHUNK_BYTES
          ? (this.free.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES))
          : Buffer.allocUnsafeSlow(need);
      this.used = 0;
    }
    this.used += this.current.write(line, this.used);
    this.current[this.used++] = 0x0a;
    this.lines++;
  }

  /**
   * Everything appended so far as one buffer, with its line count; later lines go to another
   * buffer. Call `release` once `data` is written, so its memory can take new lines.
   */
  take(): { data: Buffer; lines: number; release: () => void } {
    const parts = this.full;
    if (this.current !== undefined && this.used > 0) parts.push(this.current.subarray(0, this.used));
    const lines = this.lines;
    this.full = [];
    this.current = undefined;
    this.used = 0;
    this.lines = 0;
    const only = parts.length === 1 ? parts[0] : undefined;
    if (only !== undefined) return { data: only, lines, release: () => this.recycle(only) };
    // Rare (more than a chunk per batch): one copy, and the parts are free at once.
    const data = Buffer.concat(parts);
    for (const part of parts) this.recycle(part);
    return { data, lines, release: () => undefined };
  }

  private recycle(view: Buffer): void {
    // Chunks come from allocUnsafeSlow (a whole ArrayBuffer each); a couple of them are kept.
    if (view.buffer.byteLength === CHUNK_BYTES && this.free.length < 2) {
      this.free.push(Buffer.from(view.buffer, 0, CHUNK_BYTES));
    }
  }
}

/**
 * A sink for hot paths (the waypoint's per-request access log): `write` only copies the line
 * into a bounded off-heap buffer ({@link LineBuffer}); the buffer goes out as one `fs.write`
 * (libuv thread pool) per batch — every `flushIntervalMs`, or at once when `batchLines` are
 * waiting — and the next batch starts only when the previous one is written. A synchronous write
 * per line (what `process.stderr` does for files and pipes) cost the waypoint ~18 % of its CPU
 * (issue 6 §6); a thread-pool write per line costs even more at low rates, hence the interval.
 * When the disk cannot keep up, the buffer fills and new lines are dropped and counted, so memory
 * stays bounded and requests never wait for the log. The timer is unref'd: pair the sink with
 * `flush()` on stop and `flushSync()` on exit.
 */
export function createBatchingSink(options: BatchingSinkOptions = {}): BatchingSink {
  const fd = options.fd ?? 2;
  const max = Math.max(1, options.maxBufferedLines ?? DEFAULT_MAX_BUFFERED_LINES);
  const intervalMs = Math.max(0, options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS);
  const batchLines = Math.max(1, options.batchLines ?? DEFAULT_BATCH_LINES);
  const io = options.fs ?? fs;
  const buffered = new LineBuffer();
  let writing = false;
  let timer: NodeJS.Timeout | undefined;
  let dropped = 0;
  let waiters: (() => void)[] = [];

  const settle = (): void => {
    if (writing || buffered.lines > 0) return;
    const done = waiters;
    waiters = [];
    for (const resolve of done) resolve();
  };
  // After a write, or when a line arrives: start now, arm the timer, or resolve flush() waiters.
  const next = (): void => {
    if (writing) return;
    if (buffered.lines === 0) settle();
    else if (buffered.lines >= batchLines || waiters.length > 0) start();
    else if (timer === undefined) {
      timer = setTimeout(start, intervalMs);
      timer.unref();
    }
  };
  const writeAll = (data: Buffer, lines: number, release: () => void): void => {
    io.write(fd, data, 0, data.length, null, (err, written) => {
      if (err === null && written < data.length) {
        writeAll(data.subarray(written), lines, release);
        return;
      }
      release();
      // A failed write loses its batch: count it like a full buffer rather than retry forever.
      if (err !== null) dropped += lines;
      writing = false;
      next();
    });
  };
  function start(): void {
    clearTimeout(timer);
    timer = undefined;
    if (writing || buffered.lines === 0) return;
    const { data, lines, release } = buffered.take();
    writing = true;
    writeAll(data, lines, release);
  }
  return {
    write(line) {
      if (buffered.lines >= max) {
        dropped++;
        return;
      }
      buffered.append(line);
      if (timer === undefined || buffered.lines >= batchLines) next();
    },
    get dropped() {
      return dropped;
    },
    flush() {
      return new Promise<void>((resolve) => {
        waiters.push(resolve);
        next();
      });
    },
    flushSync() {
      clearTimeout(timer);
      timer = undefined;
      if (buffered.lines === 0) return;
      const { data } = buffered.take();
      try {
        for (let off = 0; off < data.length;) off += io.writeSync(fd, data, off, data.length - off);
      } catch {
        // The process is exiting and the log is gone: nothing left to tell.
      }
    },
  };
}
