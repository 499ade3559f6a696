/**
 * Command-line flags of `apps/echo/main.ts`, parsed into {@link EchoOptions}. Pure: a bad flag
 * becomes a MeshError whose message is the one-line reason main prints before exiting 2.
 */
import { parseArgs } from 'node:util';
import { MeshError } from '../../common/errors.ts';
import type { EchoOptions } from './index.ts';

/** The usage line printed with argument errors. */
export const ECHO_USAGE =
  'usage: echo [--http-port N[,N...]]... [--grpc-port N] [--tcp-port N] [--host ADDR] [--tls-dir DIR] [--tls-port N]';

function usageError(message: string): MeshError {
  return new MeshError('ECHO_BAD_ARGS', message, { hint: ECHO_USAGE });
}

function parsePort(flag: string, raw: string): number {
  const n = /^\d{1,5}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!(n >= 0 && n <= 65535))
    throw usageError(`--${flag} must be a port from 0 to 65535, got ${JSON.stringify(raw)}`);
  return n;
}

/** Parses echo's argv (without node and script); defaults: HTTP 8080, gRPC 9090, TCP 9000. */
export function parseEchoArgs(argv: readonly string[]): EchoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        'http-port': { type: 'string', multiple: true },
        'grpc-port': { type: 'string' },
        'tcp-port': { type: 'string' },
        host: { type: 'string' },
        'tls-dir': { type: 'string' },
        'tls-port': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
  const httpPorts = (values['http-port'] ?? ['8080'])
    .flatMap((v) => v.split(','))
    .map((v) => parsePort('http-port', v));
  const tlsPort = values['tls-port'];
  if (tlsPort !== undefined && values['tls-dir'] === undefined)
    throw usageError('--tls-port needs --tls-dir');
  if (values.host === '') throw usageError('--host must not be empty');
  return {
    httpPorts,
    grpcPort: parsePort('grpc-port', values['grpc-port'] ?? '9090'),
    tcpPort: parsePort('tcp-port', values['tcp-port'] ?? '9000'),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(values['tls-dir'] === undefined ? {} : { tlsDir: values['tls-dir'] }),
    ...(tlsPort === undefined ? {} : { tlsPort: parsePort('tls-port', tlsPort) }),
  };
}
