/**
 * The sample client: sends `count` HTTP/1.1, h2c or gRPC requests, `concurrency` at a time, and
 * yields one result per request as it completes. Benchmarks and tests call {@link runClient};
 * `main.ts` prints the results as JSON lines.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MeshError } from '../../common/errors.ts';
import { failure } from './common.ts';
import { createGrpcTransport } from './grpc.ts';
import { createH2cTransport } from './h2c.ts';
import { createHttp1Transport } from './http1.ts';
import type { ClientOptions, ClientResult, Outcome, Transport } from './types.ts';

export type {
  ClientFailure,
  ClientMode,
  ClientOptions,
  ClientResponse,
  ClientResult,
  GrpcMethod,
} from './types.ts';
export { isFailure } from './types.ts';

function badOption(message: string): MeshError {
  return new MeshError('CLIENT_BAD_ARGS', message);
}

function positiveInt(name: string, value: number | undefined, fallback: number, min: number): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < min) throw badOption(`${name} must be an integer >= ${min}, got ${n}`);
  return n;
}

/** Validates `options` and builds the transport; throws `CLIENT_BAD_ARGS` on a bad option. */
export function createTransport(options: ClientOptions): Transport {
  const mode = options.mode ?? 'http1';
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw badOption(`not a URL: ${JSON.stringify(options.url)}`);
  }
  const timeoutMs = positiveInt('timeout', options.timeoutMs, 10_000, 1);
  const headers = options.headers ?? [];
  if (mode === 'grpc') {
    if (url.protocol !== 'grpc:') throw badOption(`gRPC needs a grpc://host:port URL, got ${options.url}`);
    if (url.port === '') throw badOption(`gRPC URL needs a port: ${options.url}`);
    if (options.method !== undefined) throw badOption('a method does not apply to gRPC; use the gRPC method');
    return createGrpcTransport({
      target: url.host,
      method: options.grpcMethod ?? 'Echo',
      metadata: headers,
      data: options.data,
      timeoutMs,
    });
  }
  if (url.protocol !== 'http:') throw badOption(`HTTP needs an http:// URL, got ${options.url}`);
  if (options.grpcMethod !== undefined) throw badOption('a gRPC method needs gRPC mode');
  const method = options.method ?? (options.data === undefined ? 'GET' : 'POST');
  if (!/^[A-Za-z]+$/.test(method)) throw badOption(`not an HTTP method: ${JSON.stringify(method)}`);
  const spec = {
    url,
    method: method.toUpperCase(),
    headers,
    data: options.data,
    timeoutMs,
    concurrency: positiveInt('concurrency', options.concurrency, 1, 1),
  };
  return mode === 'h2c' ? createH2cTransport(spec) : createHttp1Transport(spec);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function withSeq(seq: number, latencyMs: number, outcome: Outcome): ClientResult {
  return 'error' in outcome ? { seq, error: outcome.error, latencyMs } : { seq, ...outcome, latencyMs };
}

/**
 * Runs the requests and yields each result when it completes (so out of order when
 * concurrency > 1). Throws `CLIENT_BAD_ARGS` before sending anything if an option is bad.
 * Breaking out of the loop stops starting new requests.
 */
export async function* runClient(options: ClientOptions): AsyncGenerator<ClientResult, void, undefined> {
  const count = positiveInt('count', options.count, 1, 1);
  const concurrency = positiveInt('concurrency', options.concurrency, 1, 1);
  const intervalMs = positiveInt('interval', options.intervalMs, 0, 0);
  const transport = createTransport(options);
  const ready: ClientResult[] = [];
  let wake: (() => void) | undefined;
  let next = 0;
  let stopped = false;
  const start = performance.now();

  const worker = async (): Promise<void> => {
    while (!stopped && next < count) {
      const index = next++;
      const wait = start + index * intervalMs - performance.now();
      if (wait > 0) await sleep(wait);
      const t0 = performance.now();
      const outcome = await transport.send().catch(failure);
      ready.push(withSeq(index + 1, round(performance.now() - t0), outcome));
      wake?.();
    }
  };

  const workers = Array.from({ length: Math.min(concurrency, count) }, worker);
  try {
    for (let yielded = 0; yielded < count;) {
      const result = ready.shift();
      if (result === undefined) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      yield result;
      yielded++;
    }
  } finally {
    stopped = true;
    await Promise.allSettled(workers);
    transport.close();
  }
}
