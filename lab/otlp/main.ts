/**
 * The lab's trace sink program (image `waymesh/otlp-sink`, the Jaeger stand-in of
 * `manifests/lab/addons.yaml`):
 *
 *   node --import tsx lab/otlp/main.ts [--grpc-port 4317] [--http-port 4318] [--query-port 16686]
 *                                      [--host 0.0.0.0] [--max-spans 20000] [--file PATH]
 *
 * Receives OTLP on the gRPC and HTTP ports and answers queries on the query port (where Jaeger
 * serves its UI): `GET /healthz` (readiness) and `GET /api/traces?last=N&trace=ID&service=S`
 * (JSON `{ traces, spans }`), which `waymesh lab traces` calls from inside the sink's pod.
 * Exits 2 on bad flags, 1 when a port cannot be bound; SIGTERM and SIGINT stop it cleanly.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { errorMessage, MeshError } from '../../common/errors.ts';
import { createLogger } from '../../common/log.ts';
import { exitOnSignals } from '../../common/lifecycle.ts';
import { startOtlpSink, type OtlpSink } from './server.ts';
import { groupTraces, type SinkSpan, type SinkTrace } from './types.ts';

/** The sink program's settings, from its command line. */
export interface SinkArgs {
  readonly host: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly queryPort: number;
  readonly maxSpans: number;
  readonly file?: string;
}

/** Which traces a query wants; every field narrows the answer. */
export interface TraceQuery {
  /** At most this many traces, the most recent ones (default 5). */
  readonly last: number;
  /** Only this trace (32 hex digits). */
  readonly trace?: string;
  /** Only traces with a span from this OTel service or to this Service (`ns/name` or `name`). */
  readonly service?: string;
}

/** The largest `last` a query may ask for. */
export const MAX_LAST = 1000;

/** The program's usage line, printed with a flag error. */
export const SINK_USAGE =
  'usage: lab/otlp/main.ts [--grpc-port 4317] [--http-port 4318] [--query-port 16686] [--host 0.0.0.0] [--max-spans 20000] [--file PATH]';

const usage = (why: string): MeshError => new MeshError('CLI_USAGE', why);

function integer(name: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max))
    throw usage(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

function parseFlags(argv: readonly string[]): ReturnType<typeof parseFlagsUnchecked> {
  try {
    return parseFlagsUnchecked(argv);
  } catch (err) {
    throw usage(errorMessage(err));
  }
}

function parseFlagsUnchecked(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      host: { type: 'string', default: '0.0.0.0' },
      'grpc-port': { type: 'string', default: '4317' },
      'http-port': { type: 'string', default: '4318' },
      'query-port': { type: 'string', default: '16686' },
      'max-spans': { type: 'string', default: '20000' },
      file: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  }).values;
}

/** Parses the program's flags; throws `CLI_USAGE` on unknown flags or bad values. */
export function parseSinkArgs(argv: readonly string[]): SinkArgs {
  const values = parseFlags(argv);
  const ports = {
    grpcPort: integer('grpc-port', values['grpc-port'], 0, 65535),
    httpPort: integer('http-port', values['http-port'], 0, 65535),
    queryPort: integer('query-port', values['query-port'], 0, 65535),
  };
  const fixed = Object.values(ports).filter((p) => p !== 0);
  if (new Set(fixed).size !== fixed.length)
    throw usage('--grpc-port, --http-port and --query-port must differ');
  if (values.file === '') throw usage('--file needs a path');
  return {
    host: values.host,
    ...ports,
    maxSpans: integer('max-spans', values['max-spans'], 1, 1_000_000),
    ...(values.file === undefined ? {} : { file: values.file }),
  };
}

/** Parses a query string (`last`, `trace`, `service`); throws `CLI_USAGE` on bad values. */
export function parseTraceQuery(params: URLSearchParams): TraceQuery {
  const last = integer('last', params.get('last') ?? '5', 1, MAX_LAST);
  const trace = params.get('trace')?.toLowerCase();
  if (trace !== undefined && !/^[0-9a-f]{32}$/.test(trace))
    throw new MeshError(
      'CLI_USAGE',
      `--trace must be a trace id of 32 hex digits, got ${JSON.stringify(trace)}`,
    );
  const service = params.get('service') ?? undefined;
  if (service === '') throw new MeshError('CLI_USAGE', '--service needs a name');
  return { last, ...(trace === undefined ? {} : { trace }), ...(service === undefined ? {} : { service }) };
}

/** True when `span` was sent by OTel service `service` or concerns the Service `service`. */
function spanMatches(span: SinkSpan, service: string): boolean {
  if (span.serviceName === service) return true;
  const dest = span.attributes['waymesh.destination.service'];
  if (typeof dest !== 'string') return false;
  return dest === service || (!service.includes('/') && dest.slice(dest.indexOf('/') + 1) === service);
}

/** The traces `query` selects from `spans` (arrival order), the most recent last. */
export function selectTraces(spans: readonly SinkSpan[], query: TraceQuery): SinkTrace[] {
  let traces = groupTraces(spans);
  if (query.trace !== undefined) traces = traces.filter((t) => t.traceId === query.trace);
  const service = query.service;
  if (service !== undefined) traces = traces.filter((t) => t.spans.some((s) => spanMatches(s, service)));
  return traces.slice(-query.last);
}

function answer(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}

function handleQuery(sink: OtlpSink, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://sink');
  if (req.method !== 'GET') return answer(res, 405, 'text/plain', 'only GET is served here\n');
  if (url.pathname === '/healthz') return answer(res, 200, 'text/plain', 'ok\n');
  if (url.pathname !== '/api/traces')
    return answer(res, 404, 'text/plain', 'serves /healthz and /api/traces?last=N&trace=ID&service=S\n');
  let query: TraceQuery;
  try {
    query = parseTraceQuery(url.searchParams);
  } catch (err) {
    return answer(
      res,
      400,
      'text/plain',
      (err instanceof MeshError ? err.message : errorMessage(err)) + '\n',
    );
  }
  const spans = sink.spans();
  const traces = selectTraces(spans, query);
  answer(res, 200, 'application/json', JSON.stringify({ traces, spans: spans.length }));
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function main(): Promise<void> {
  let args: SinkArgs;
  try {
    args = parseSinkArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`otlp-sink: ${errorMessage(err)}\n${SINK_USAGE}\n`);
    process.exit(2);
  }
  const log = createLogger({ fields: { component: 'otlp-sink-main' } });
  const sink = await startOtlpSink({ ...args, log });
  const query = createServer((req, res) => handleQuery(sink, req, res));
  try {
    await listen(query, args.host, args.queryPort);
  } catch (err) {
    await sink.stop();
    throw err;
  }
  const { port } = query.address() as AddressInfo;
  log.info('trace query listening', { port, paths: ['/healthz', '/api/traces'] });
  exitOnSignals(log, async () => {
    query.closeAllConnections();
    await new Promise<void>((resolve) => query.close(() => resolve()));
    await sink.stop();
  });
}

if (process.argv[1] === import.meta.filename) {
  main().catch((err: unknown) => {
    process.stderr.write(`otlp-sink: ${errorMessage(err)}\n`);
    process.exit(1);
  });
}
