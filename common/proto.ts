/** Locates the project's `.proto` files and loads their gRPC services. */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** How every waymesh proto is loaded: camelCase fields, int64 as number, defaults filled. */
export const PROTO_LOAD_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  defaults: true,
  oneofs: true,
};

/** Absolute path of a file in `common/proto/`. */
export function protoPath(name: string): string {
  return fileURLToPath(new URL(`./proto/${name}`, import.meta.url));
}

/**
 * Loads `file` from `common/proto/` and returns the client constructor of the service with the
 * fully qualified name `service` (e.g. `waymesh.ca.v1.CertificateService`); its `.service` is
 * the definition servers register.
 */
export function loadGrpcService(file: string, service: string): grpc.ServiceClientConstructor {
  let node: unknown = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath(file), PROTO_LOAD_OPTIONS));
  for (const part of service.split('.')) {
    node =
      typeof node === 'object' || typeof node === 'function'
        ? (node as Record<string, unknown>)[part]
        : undefined;
  }
  if (typeof node !== 'function') throw new Error(`${file} defines no service ${service}`);
  return node as grpc.ServiceClientConstructor;
}
