/**
 * The config stream's gRPC definitions (`common/proto/config.proto`), loaded once and shared by
 * the controller's server and the proxies' client.
 */
import type * as grpc from '@grpc/grpc-js';
import { loadGrpcService } from '../proto.ts';

/** The two kinds of proxy that subscribe. */
export type ProxyKind = 'node' | 'waypoint';

/** A subscribing proxy: a node agent by node name, a waypoint by `namespace/name`. */
export interface ProxyId {
  readonly kind: ProxyKind;
  readonly name: string;
}

/** A request as grpc-js decodes it (camelCase, defaults filled, absent message = null). */
export interface ConfigRequest {
  proxy: { kind: string; name: string } | null;
  version: string;
  error: string;
}

/** A response: the snapshot as JSON, its version, and the CA's trust anchors ('' when not sent). */
export interface ConfigResponse {
  version: string;
  snapshotJson: string;
  trustAnchorsPem: string;
}

/** What the server's deserializer yields for bytes that are not a ConfigRequest. */
export const UNDECODABLE: unique symbol = Symbol('undecodable ConfigRequest');

/** `kind/name`, the key of a proxy in logs and status. */
export function proxyKey(p: ProxyId): string {
  return `${p.kind}/${p.name}`;
}

/** Full method path of the stream (for raw clients in tests and tools). */
export const STREAM_PATH = '/waymesh.config.v1.ConfigService/Stream';

/** The client constructor. */
export const ConfigServiceClient = loadGrpcService('config.proto', 'waymesh.config.v1.ConfigService');

const method = ConfigServiceClient.service['Stream'];
if (method === undefined) throw new Error('config.proto: ConfigService.Stream is missing');
const streamMethod = method;

/**
 * The server definition. Its deserializer never throws: undecodable bytes arrive as
 * {@link UNDECODABLE} so the server can refuse them with INVALID_ARGUMENT (grpc-js would
 * otherwise answer INTERNAL, which reads like a controller bug).
 */
export const configServiceDefinition: grpc.ServiceDefinition = {
  Stream: {
    ...streamMethod,
    requestDeserialize: (bytes: Buffer): ConfigRequest | typeof UNDECODABLE => {
      try {
        return streamMethod.requestDeserialize(bytes) as ConfigRequest;
      } catch {
        return UNDECODABLE;
      }
    },
  },
};
