/** The CA service's gRPC definitions, loaded once from `common/proto/ca.proto`. */
import type * as grpc from '@grpc/grpc-js';
import { loadGrpcService } from '../common/proto.ts';

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

/** The service constructor (client) and definition (server). */
export const CertificateServiceClient = loadGrpcService('ca.proto', 'waymesh.ca.v1.CertificateService');
/** The service definition, for `server.addService`. */
export const certificateServiceDefinition: grpc.ServiceDefinition = CertificateServiceClient.service;
