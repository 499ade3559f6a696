/**
 * The lab's OTLP trace sink (a Jaeger stand-in): OTLP/gRPC `TraceService/Export` and OTLP/HTTP
 * `POST /v1/traces` (protobuf or JSON, optionally gzip), decoding into a {@link SpanStore}.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { errorMessage } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import { spansFromExportRequest } from './decode.ts';
import { SpanStore, type SpanPredicate } from './store.ts';
import type { SinkSpan, SinkTrace } from './types.ts';

const SERVICE = 'opentelemetry.proto.collector.trace.v1.TraceService';
const MAX_BODY = 16 * 1024 * 1024;
const gunzipAsync = promisify(gunzip);

/** Options for {@link startOtlpSink}. */
export interface OtlpSinkOptions {
  /** Address to bind; default `127.0.0.1`. */
  readonly host?: string;
  /** OTLP/gRPC port (4317 in the lab; 0 picks a free one). */
  readonly grpcPort: number;
  /** OTLP/HTTP port (4318 in the lab; 0 picks a free one). */
  readonly httpPort: number;
  /** Spans kept in memory; default 10,000. */
  readonly maxSpans?: number;
  /** Also append every span as a JSON line here (read back with `readSpansFile`). */
  readonly file?: string;
  readonly log?: Logger;
}

/** A running sink. */
export interface OtlpSink {
  readonly grpcPort: number;
  readonly httpPort: number;
  /** `http://host:grpcPort`, the URL for an OTLP/gRPC exporter. */
  readonly grpcUrl: string;
  /** `http://host:httpPort/v1/traces`, the URL for an OTLP/HTTP exporter. */
  readonly httpUrl: string;
  spans(): readonly SinkSpan[];
  traces(): SinkTrace[];
  waitForSpans(predicate: SpanPredicate, timeoutMs: number): Promise<readonly SinkSpan[]>;
  clear(): void;
  /** Stops both listeners and flushes the file. */
  stop(): Promise<void>;
}

interface ExportMethod {
  readonly requestDeserialize: (data: Buffer) => unknown;
  readonly responseSerialize: (value: object) => Buffer;
}

/** Starts the sink on both ports. */
export async function startOtlpSink(options: OtlpSinkOptions): Promise<OtlpSink> {
  const host = options.host ?? '127.0.0.1';
  const log = (options.log ?? silentLogger).child({ component: 'otlp-sink' });
  const store = new SpanStore({ maxSpans: options.maxSpans, file: options.file, log });
  const definition = protoLoader.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', {
    includeDirs: [fileURLToPath(new URL('./proto', import.meta.url))],
    keepCase: false,
    longs: String,
    enums: Number,
    defaults: false,
    oneofs: true,
  });
  const service = definition[SERVICE] as grpc.ServiceDefinition;
  const exportMethod = service['Export'] as unknown as ExportMethod;

  const grpcServer = new grpc.Server();
  grpcServer.addService(service, {
    Export: (call: grpc.ServerUnaryCall<unknown, object>, done: grpc.sendUnaryData<object>) => {
      try {
        store.add(spansFromExportRequest(call.request));
        done(null, {});
      } catch (err) {
        done({ code: grpc.status.INVALID_ARGUMENT, details: errorMessage(err) });
      }
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) => {
    grpcServer.bindAsync(
      `${host}:${options.grpcPort}`,
      grpc.ServerCredentials.createInsecure(),
      (err, port) => (err === null ? resolve(port) : reject(err)),
    );
  });

  const httpServer = createServer((req, res) => {
    handleHttp(req, res, exportMethod, store).catch((err: unknown) => {
      log.warn('OTLP/HTTP request failed', { error: errorMessage(err) });
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  try {
    await listen(httpServer, host, options.httpPort);
  } catch (err) {
    grpcServer.forceShutdown();
    throw err;
  }
  const httpPort = (httpServer.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  log.info('OTLP sink listening', { grpcPort, httpPort, file: options.file });

  return {
    grpcPort,
    httpPort,
    grpcUrl: `http://${shown}:${grpcPort}`,
    httpUrl: `http://${shown}:${httpPort}/v1/traces`,
    spans: () => store.spans(),
    traces: () => store.traces(),
    waitForSpans: (predicate, timeoutMs) => store.waitForSpans(predicate, timeoutMs),
    clear: () => store.clear(),
    stop: async () => {
      httpServer.closeAllConnections();
      await Promise.all([
        new Promise<void>((resolve) => httpServer.close(() => resolve())),
        new Promise<void>((resolve) => {
          // Exporters may hold their channel open; do not wait for them past a short grace.
          const force = setTimeout(() => grpcServer.forceShutdown(), 2000);
          grpcServer.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        }),
      ]);
      await store.close();
    },
  };
}

async function handleHttp(
  req: IncomingMessage,
  res: ServerResponse,
  exportMethod: ExportMethod,
  store: SpanStore,
): Promise<void> {
  if (req.url?.split('?')[0] !== '/v1/traces') return reply(res, 404, 'only /v1/traces is served here');
  if (req.method !== 'POST') return reply(res, 405, 'POST OTLP spans to /v1/traces');
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  const json = type === 'application/json';
  if (!json && type !== 'application/x-protobuf') {
    return reply(res, 415, 'send application/x-protobuf or application/json');
  }
  let body = await readBody(req);
  if (body === undefined) return reply(res, 413, `request body over ${MAX_BODY} bytes`);
  if (req.headers['content-encoding'] === 'gzip')
    body = await gunzipAsync(body, { maxOutputLength: MAX_BODY });
  let spans: SinkSpan[];
  try {
    spans = spansFromExportRequest(
      json ? JSON.parse(body.toString('utf8')) : exportMethod.requestDeserialize(body),
    );
  } catch (err) {
    return reply(res, 400, errorMessage(err));
  }
  store.add(spans);
  if (json) {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  } else {
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(exportMethod.responseSerialize({}));
  }
}

function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(message + '\n');
}

/** The whole body, or undefined once it passes MAX_BODY (the rest is discarded). */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Keep reading past the limit (discarding) so the client still gets its 413 on this connection.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  }
  return size > MAX_BODY ? undefined : Buffer.concat(chunks);
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
