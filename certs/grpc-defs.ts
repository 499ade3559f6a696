/** The CA service's gRPC definitions, loaded once from `common/proto/ca.proto`. */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath } from '../common/proto.ts';

/** The request as grpc-js decodes it (camelCase, int64 as number, defaults filled). */
export interface CreateCertificateRequest {
  csr: string;
  ttlSeconds: number;
  impersonatedIdentity: string;
}

/** The response. */
export interface CreateCertificateResponse {
  certChain: string[];
}

const definition = protoLoader.loadSync(protoPath('ca.proto'), {
  keepCase: false,
  longs: Number,
  defaults: true,
  oneofs: true,
});

const pkg = grpc.loadPackageDefinition(definition) as unknown as {
  waymesh: { ca: { v1: { CertificateService: grpc.ServiceClientConstructor } } };
};

/** The service constructor (client) and definition (server). */
export const CertificateServiceClient = pkg.waymesh.ca.v1.CertificateService;
/** The service definition, for `server.addService`. */
export const certificateServiceDefinition: grpc.ServiceDefinition = CertificateServiceClient.service;
