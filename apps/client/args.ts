/**
 * Command-line flags of `apps/client/main.ts`, parsed into {@link ClientOptions}. Pure: a bad
 * flag becomes a `CLIENT_BAD_ARGS` MeshError whose message main prints before exiting 2.
 */
import { validateHeaderName } from 'node:http';
import { parseArgs } from 'node:util';
import { MeshError } from '../../common/errors.ts';
import type { ClientOptions } from './types.ts';

/** The usage line printed with argument errors. */
export const CLIENT_USAGE =
  'usage: client URL [--count N] [--concurrency C] [--method M] [-H "Name: value"]... [--data S] [--h2c | --grpc [--grpc-method Echo|EchoStream]] [--timeout-ms N] [--interval-ms N]';

function usageError(message: string): MeshError {
  return new MeshError('CLIENT_BAD_ARGS', message, { hint: CLIENT_USAGE });
}

function intFlag(flag: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min)) throw usageError(`--${flag} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Splits `Name: value`; the name must be a valid header name. */
export function parseHeaderFlag(raw: string): readonly [string, string] {
  const colon = raw.indexOf(':');
  const name = colon <= 0 ? '' : raw.slice(0, colon).trim();
  try {
    validateHeaderName(name);
  } catch {
    throw usageError(`-H must look like "Name: value", got ${JSON.stringify(raw)}`);
  }
  return [name, raw.slice(colon + 1).trim()];
}

/** Parses the client's argv (without node and script). */
export function parseClientArgs(argv: readonly string[]): ClientOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        count: { type: 'string' },
        concurrency: { type: 'string' },
        method: { type: 'string' },
        header: { type: 'string', short: 'H', multiple: true },
        data: { type: 'string' },
        h2c: { type: 'boolean' },
        grpc: { type: 'boolean' },
        'grpc-method': { type: 'string' },
        'timeout-ms': { type: 'string' },
        'interval-ms': { type: 'string' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1)
    throw usageError(`expected exactly one URL, got ${positionals.length} arguments`);
  const url = positionals[0] ?? '';
  if (values.h2c === true && values.grpc === true) throw usageError('--h2c and --grpc are exclusive');
  const grpcMethod = values['grpc-method'];
  if (grpcMethod !== undefined && grpcMethod !== 'Echo' && grpcMethod !== 'EchoStream') {
    throw usageError(`--grpc-method must be Echo or EchoStream, got ${JSON.stringify(grpcMethod)}`);
  }
  if (grpcMethod !== undefined && values.grpc !== true) throw usageError('--grpc-method needs --grpc');
  if (values.method !== undefined && values.grpc === true)
    throw usageError('--method does not apply to --grpc');
  const options: ClientOptions = {
    url,
    mode: values.grpc === true ? 'grpc' : values.h2c === true ? 'h2c' : 'http1',
    count: intFlag('count', values.count, 1),
    concurrency: intFlag('concurrency', values.concurrency, 1),
    method: values.method,
    headers: (values.header ?? []).map(parseHeaderFlag),
    data: values.data,
    grpcMethod,
    timeoutMs: intFlag('timeout-ms', values['timeout-ms'], 1),
    intervalMs: intFlag('interval-ms', values['interval-ms'], 0),
  };
  return options;
}
