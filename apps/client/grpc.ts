/**
 * gRPC transport: one channel for the whole run, calling `waymesh.echo.v1.Echo/Echo` or
 * `/EchoStream`. Any status the server sent is a response; a call that never reached a server
 * (nothing received before UNAVAILABLE or the deadline) is a transport failure.
 */
import * as grpc from '@grpc/grpc-js';
import { MeshError } from '../../common/errors.ts';
import { loadEchoProto, toEchoRequest, toEchoResponse } from '../echo/proto.ts';
import type { EchoRequestMessage, EchoResponseMessage } from '../echo/proto.ts';
import { failure, parseBody } from './common.ts';
import type { GrpcMethod, Outcome, Transport } from './types.ts';

/** What the gRPC transport needs to know about the call. */
export interface GrpcCallSpec {
  /** `host:port`, IPv6 in brackets. */
  readonly target: string;
  readonly method: GrpcMethod;
  readonly metadata: ReadonlyArray<readonly [string, string]>;
  readonly data: string | undefined;
  readonly timeoutMs: number;
}

/** The EchoRequest for `data`: a JSON object's fields, or else the text as `message`. */
export function echoRequestFor(data: string | undefined): EchoRequestMessage {
  if (data === undefined) return toEchoRequest({});
  const parsed = parseBody(data);
  return typeof parsed === 'object' && parsed !== null
    ? toEchoRequest(parsed)
    : toEchoRequest({ message: data });
}

function metadataOf(entries: ReadonlyArray<readonly [string, string]>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [name, value] of entries) {
    const key = name.toLowerCase();
    if (key.endsWith('-bin')) metadata.add(key, Buffer.from(value));
    else metadata.add(key, value);
  }
  return metadata;
}

function plainMetadata(metadata: grpc.Metadata): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    const strings = values.map((v) => (typeof v === 'string' ? v : v.toString('base64')));
    out[key] = strings.length === 1 ? (strings[0] ?? '') : strings;
  }
  return out;
}

/** Creates the gRPC transport. */
export function createGrpcTransport(spec: GrpcCallSpec): Transport {
  const proto = loadEchoProto();
  const definition = spec.method === 'Echo' ? proto.echo : proto.echoStream;
  const client = new grpc.Client(spec.target, grpc.credentials.createInsecure());
  const request = echoRequestFor(spec.data);
  const serialize = (value: EchoRequestMessage): Buffer => definition.requestSerialize(value);
  const deserialize = (bytes: Buffer): EchoResponseMessage =>
    toEchoResponse(definition.responseDeserialize(bytes));

  const send = (): Promise<Outcome> =>
    new Promise((resolve) => {
      const options: grpc.CallOptions = { deadline: Date.now() + spec.timeoutMs };
      const messages: EchoResponseMessage[] = [];
      let headers: grpc.Metadata | undefined;
      const finish = (status: grpc.StatusObject): void => {
        const heardServer = headers !== undefined || Object.keys(status.metadata.toJSON()).length > 0;
        if (!heardServer && status.code === grpc.status.DEADLINE_EXCEEDED) {
          resolve(
            failure(
              new MeshError('CLIENT_TIMEOUT', `no response within ${spec.timeoutMs} ms: ${status.details}`),
            ),
          );
          return;
        }
        if (!heardServer && status.code === grpc.status.UNAVAILABLE) {
          resolve({ error: { code: 'UNAVAILABLE', message: status.details } });
          return;
        }
        const body: unknown =
          status.code !== grpc.status.OK
            ? { details: status.details }
            : spec.method === 'Echo'
              ? messages[0]
              : messages;
        resolve({
          status: status.code,
          grpcStatus: grpc.status[status.code],
          headers: headers === undefined ? {} : plainMetadata(headers),
          trailers: plainMetadata(status.metadata),
          body,
          proto: 'grpc',
        });
      };
      const metadata = metadataOf(spec.metadata);
      const call =
        spec.method === 'Echo'
          ? client.makeUnaryRequest(
              definition.path,
              serialize,
              deserialize,
              request,
              metadata,
              options,
              (_err, value) => {
                if (value !== undefined) messages.push(value);
              },
            )
          : client.makeServerStreamRequest(
              definition.path,
              serialize,
              deserialize,
              request,
              metadata,
              options,
            );
      call.on('metadata', (md: grpc.Metadata) => {
        headers = md;
      });
      call.on('data', (value: EchoResponseMessage) => messages.push(value));
      // The stream's 'error' repeats what 'status' reports; the listener keeps it from throwing.
      call.on('error', () => undefined);
      call.on('status', finish);
    });
  return { send, close: () => client.close() };
}
