/**
 * Structured JSON logging. Each component takes a child logger (`log.child({component: 'ca'})`)
 * so every line says where it came from. Lines go to stderr so stdout stays free for CLI output.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where log lines go; tests pass an in-memory sink. */
export interface LogSink {
  write(line: string): void;
}

/** Fields attached to a line; values must be JSON-serialisable. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A structured logger with bound fields. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
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

/** Creates a logger; the level defaults to `WAYMESH_LOG_LEVEL` or `info`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? parseLevel(process.env['WAYMESH_LOG_LEVEL']);
  const sink = options.sink ?? { write: (line: string) => process.stderr.write(line + '\n') };
  const now = options.now ?? (() => new Date());
  const bound = options.fields ?? {};
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (ORDER[lvl] < ORDER[level]) return;
    sink.write(JSON.stringify({ time: now().toISOString(), level: lvl, msg, ...bound, ...fields }));
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
