/**
 * Echo's gRPC port (`waymesh.echo.v1.Echo`): the same facts as HTTP, plus status control via the
 * request's `status` field or the `x-echo-status` metadata entry, and a `delay_ms` wait.
 */
import * as grpc from '@grpc/grpc-js';
import { MeshError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { EchoIdentity } from './facts.ts';
import { loadEchoProto, toEchoRequest } from './proto.ts';
import type { EchoRequestMessage, EchoResponseMessage } from './proto.ts';

/** Metadata key that makes a call fail with the given code (number or name, e.g. `NOT_FOUND`). */
export const STATUS_METADATA = 'x-echo-status';
const MAX_DELAY_MS = 60_000;
const DEFAULT_STREAM_COUNT = 3;
const MAX_STREAM_COUNT = 1000;

/** A running gRPC echo server. */
export interface EchoGrpcServer {
  readonly port: number;
  /** Stops accepting calls, lets running ones finish, cancels the rest after `deadlineMs`. */
  stop(deadlineMs: number): Promise<void>;
}

/**
 * The status a call asked for: the request field wins when non-zero, else the metadata entry.
 * Returns an INVALID_ARGUMENT description when the requested code is not a gRPC code.
 */
export function requestedStatus(
  field: number,
  metadataValue: string | undefined,
): { code: grpc.status; details: string } {
  const raw = field !== 0 ? String(field) : (metadataValue ?? '').trim();
  if (raw === '' || raw === '0' || raw.toUpperCase() === 'OK') return { code: grpc.status.OK, details: '' };
  const names: Readonly<Record<string, unknown>> = grpc.status;
  const byName = names[raw.toUpperCase()];
  const code = /^\d+$/.test(raw) ? Number(raw) : typeof byName === 'number' ? byName : -1;
  if (!Number.isInteger(code) || code < 0 || code > 16) {
    return {
      code: grpc.status.INVALID_ARGUMENT,
      details: `${STATUS_METADATA} ${JSON.stringify(raw)} is not a gRPC code`,
    };
  }
  return { code, details: `echo: status ${grpc.status[code]} requested` };
}

function metadataFacts(metadata: grpc.Metadata): EchoResponseMessage['metadata'] {
  const out: Record<string, { values: string[] }> = {};
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    out[key] = { values: values.map((v) => (typeof v === 'string' ? v : v.toString('base64'))) };
  }
  return out;
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

function waitFor(call: AnyCall, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.min(ms, MAX_DELAY_MS));
    call.once('cancelled', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Starts the gRPC server on `host:port` (port 0 picks one). */
export async function startGrpcEcho(options: {
  host: string;
  port: number;
  identity: EchoIdentity;
  logger: Logger;
}): Promise<EchoGrpcServer> {
  const { identity, logger } = options;
  const proto = loadEchoProto();
  let boundPort = 0;
  const facts = (call: AnyCall, req: EchoRequestMessage, seq: number): EchoResponseMessage => ({
    pod: identity.pod,
    namespace: identity.namespace,
    method: call.getPath(),
    metadata: metadataFacts(call.metadata),
    peer: call.getPeer(),
    port: boundPort,
    message: req.message,
    seq,
    authority: call.getHost(),
  });
  const failure = (code: number, details: string): Partial<grpc.StatusObject> => {
    const metadata = new grpc.Metadata();
    metadata.set('x-echo-pod', identity.pod);
    return { code, details, metadata };
  };

  const server = new grpc.Server();
  server.addService(proto.service, {
    Echo: (
      call: grpc.ServerUnaryCall<unknown, EchoResponseMessage>,
      callback: grpc.sendUnaryData<EchoResponseMessage>,
    ) => {
      const req = toEchoRequest(call.request);
      void waitFor(call, req.delayMs).then(() => {
        if (call.cancelled) return;
        const status = requestedStatus(req.status, call.metadata.get(STATUS_METADATA)[0]?.toString());
        if (status.code !== grpc.status.OK) callback(failure(status.code, status.details));
        else callback(null, facts(call, req, 0));
      });
    },
    EchoStream: (call: grpc.ServerWritableStream<unknown, EchoResponseMessage>) => {
      const req = toEchoRequest(call.request);
      void waitFor(call, req.delayMs).then(() => {
        if (call.cancelled) return;
        const status = requestedStatus(req.status, call.metadata.get(STATUS_METADATA)[0]?.toString());
        if (status.code !== grpc.status.OK) {
          // grpc-js turns an 'error' carrying a status object into the call's final status.
          call.emit('error', failure(status.code, status.details));
          return;
        }
        const count = Math.min(req.count === 0 ? DEFAULT_STREAM_COUNT : req.count, MAX_STREAM_COUNT);
        for (let seq = 0; seq < count; seq++) call.write(facts(call, req, seq));
        call.end();
      });
    },
  });

  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err === null) resolve(port);
      else
        reject(
          new MeshError(
            'ECHO_LISTEN_FAILED',
            `gRPC cannot listen on ${host}:${options.port}: ${err.message}`,
            { hint: 'is the port already in use?', cause: err },
          ),
        );
    });
  });
  logger.debug('grpc listening', { port: boundPort });

  return {
    port: boundPort,
    stop: (deadlineMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, deadlineMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
