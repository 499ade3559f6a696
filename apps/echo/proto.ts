/**
 * The echo gRPC contract (`common/proto/echo.proto`), loaded once and narrowed to plain types.
 * Shared by the echo server and the client so both agree on paths and message shapes.
 */
import { loadSync } from '@grpc/proto-loader';
import type { MethodDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { MeshError } from '../../common/errors.ts';
import { PROTO_LOAD_OPTIONS, protoPath } from '../../common/proto.ts';

/** Where the proto file lives. */
export const ECHO_PROTO_PATH = protoPath('echo.proto');

/** Fully qualified service name. */
export const ECHO_SERVICE_NAME = 'waymesh.echo.v1.Echo';

/** `waymesh.echo.v1.EchoRequest`, field names in camelCase as proto-loader produces them. */
export interface EchoRequestMessage {
  readonly message: string;
  readonly status: number;
  readonly delayMs: number;
  readonly count: number;
}

/** `waymesh.echo.v1.EchoResponse`. */
export interface EchoResponseMessage {
  readonly pod: string;
  readonly namespace: string;
  readonly method: string;
  readonly metadata: Readonly<Record<string, { readonly values: readonly string[] }>>;
  readonly peer: string;
  readonly port: number;
  readonly message: string;
  readonly seq: number;
  readonly authority: string;
}

/** The loaded service: its definition for `Server.addService` and its two methods. */
export interface EchoProto {
  readonly service: ServiceDefinition;
  readonly echo: MethodDefinition<object, object>;
  readonly echoStream: MethodDefinition<object, object>;
}

let cached: EchoProto | undefined;

/** Loads (once) and returns the Echo service definition. */
export function loadEchoProto(): EchoProto {
  if (cached !== undefined) return cached;
  const pkg = loadSync(ECHO_PROTO_PATH, PROTO_LOAD_OPTIONS);
  const service = pkg[ECHO_SERVICE_NAME];
  if (service === undefined || 'format' in service) {
    throw new MeshError('ECHO_PROTO_INVALID', `${ECHO_PROTO_PATH} does not define ${ECHO_SERVICE_NAME}`);
  }
  const echo = service['Echo'];
  const echoStream = service['EchoStream'];
  if (echo === undefined || echoStream === undefined) {
    throw new MeshError('ECHO_PROTO_INVALID', `${ECHO_SERVICE_NAME} lacks the Echo or EchoStream method`);
  }
  cached = { service, echo, echoStream };
  return cached;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function str(value: unknown, key: string): string {
  const v = field(value, key);
  return typeof v === 'string' ? v : '';
}

function num(value: unknown, key: string): number {
  const v = field(value, key);
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Narrows a decoded (or user-supplied) object to an EchoRequest; missing fields become defaults. */
export function toEchoRequest(value: unknown): EchoRequestMessage {
  return {
    message: str(value, 'message'),
    status: num(value, 'status'),
    delayMs: num(value, 'delayMs'),
    count: num(value, 'count'),
  };
}

/** Narrows a decoded EchoResponse. */
export function toEchoResponse(value: unknown): EchoResponseMessage {
  const metadata: Record<string, { values: string[] }> = {};
  const raw = field(value, 'metadata');
  if (typeof raw === 'object' && raw !== null) {
    for (const [key, entry] of Object.entries(raw)) {
      const values = field(entry, 'values');
      metadata[key] = {
        values: Array.isArray(values) ? values.filter((v): v is string => typeof v === 'string') : [],
      };
    }
  }
  return {
    pod: str(value, 'pod'),
    namespace: str(value, 'namespace'),
    method: str(value, 'method'),
    metadata,
    peer: str(value, 'peer'),
    port: num(value, 'port'),
    message: str(value, 'message'),
    seq: num(value, 'seq'),
    authority: str(value, 'authority'),
  };
}
