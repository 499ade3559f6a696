/**
 * The CA as a gRPC service over TLS (`CreateCertificate`). Each call is authenticated, its CSR
 * verified, the requested identity authorized, then signed. Every refusal is a gRPC status
 * with a message written for the operator reading the caller's logs, and a log line here.
 */
import type { SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { errorMessage, isMeshError, MeshError } from '../common/errors.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { parseSpiffeId, formatSpiffeId } from '../common/spiffe.ts';
import type { CaAuthenticator, CaAuthorizer, CaCaller } from './auth.ts';
import type { CertificateAuthority } from './ca.ts';
import { verifyCsr } from './csr.ts';
import {
  certificateServiceDefinition,
  type CreateCertificateRequest,
  type CreateCertificateResponse,
} from './grpc-defs.ts';
import type { TlsIdentity } from './tls.ts';

/** Largest CSR accepted (a P-256 CSR is ~400 bytes; RSA-4096 ~1.7 KiB). */
const MAX_CSR_BYTES = 16 * 1024;

/** What the CA service needs, wherever it is hosted ({@link addCaService}). */
export interface CaServiceOptions {
  /** The CA, or a function giving the one to use now (the controller reloads its CA Secret). */
  readonly ca: CertificateAuthority | (() => CertificateAuthority);
  readonly authenticator: CaAuthenticator;
  readonly authorizer: CaAuthorizer;
  readonly logger?: Logger;
}

/** Options for {@link startCaServer}: the service plus a TLS listener of its own. */
export interface CaServerOptions extends CaServiceOptions {
  /** The server's own TLS identity. */
  readonly identity: TlsIdentity;
  /** `host:port`, e.g. `0.0.0.0:15012`; port 0 picks a free port. */
  readonly address: string;
}

/** A running CA server. */
export interface CaServer {
  readonly port: number;
  stop(options?: { deadlineMs?: number }): Promise<void>;
}

const STATUS_OF: Readonly<Record<string, grpc.status>> = {
  CA_UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  CA_PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  CA_INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  CSR_MALFORMED: grpc.status.INVALID_ARGUMENT,
  CSR_BAD_SIGNATURE: grpc.status.INVALID_ARGUMENT,
  CSR_IDENTITY_INVALID: grpc.status.INVALID_ARGUMENT,
  KEY_UNSUPPORTED: grpc.status.INVALID_ARGUMENT,
  KEY_INVALID: grpc.status.INVALID_ARGUMENT,
  SIGNATURE_UNSUPPORTED: grpc.status.INVALID_ARGUMENT,
  CA_EXPIRED: grpc.status.FAILED_PRECONDITION,
};

function bearerToken(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(value.trim());
  return m?.[1];
}

/** The checks and signing of one call; throws MeshErrors that map onto gRPC statuses. */
async function createCertificate(
  opts: CaServiceOptions,
  req: CreateCertificateRequest,
  caller: CaCaller,
): Promise<CreateCertificateResponse & { identity: string; serial: string }> {
  if (Buffer.byteLength(req.csr) > MAX_CSR_BYTES) {
    throw new MeshError('CA_INVALID_ARGUMENT', `CSR is larger than ${MAX_CSR_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(req.ttlSeconds) || req.ttlSeconds < 0) {
    throw new MeshError(
      'CA_INVALID_ARGUMENT',
      `ttl_seconds must be 0 (default) or positive, got ${req.ttlSeconds}`,
    );
  }
  const csr = verifyCsr(req.csr);
  const ca = typeof opts.ca === 'function' ? opts.ca() : opts.ca;
  const identity = ca.checkIdentity(csr.identity);
  const impersonated = req.impersonatedIdentity !== '';
  if (impersonated) {
    let asked: string;
    try {
      asked = formatSpiffeId(parseSpiffeId(req.impersonatedIdentity));
    } catch (err) {
      throw new MeshError('CA_INVALID_ARGUMENT', `impersonated_identity: ${(err as Error).message}`);
    }
    if (asked !== csr.identity) {
      throw new MeshError(
        'CA_INVALID_ARGUMENT',
        `impersonated_identity ${asked} differs from the CSR's identity ${csr.identity}`,
      );
    }
  }
  const decision = await opts.authorizer.authorize(caller, identity, impersonated);
  if (!decision.allowed) throw new MeshError('CA_PERMISSION_DENIED', decision.reason);
  const issued = ca.issueVerified(csr, req.ttlSeconds);
  // The chain, then the other trust anchors: a proxy treats the self-signed certificates a response
  // ends with as roots of its trust bundle (see CertificateAuthority.otherAnchorsPem).
  const certChain = [...issued.certChainPem, ...ca.otherAnchorsPem()];
  return { certChain, identity: issued.identity, serial: issued.cert.serialHex };
}

/**
 * Adds the CA service (`CreateCertificate`) to `server`, e.g. the controller's one gRPC server
 * that also carries the config stream. The caller binds the server with TLS credentials.
 */
export function addCaService(server: grpc.Server, opts: CaServiceOptions): void {
  const log = (opts.logger ?? silentLogger).child({ component: 'ca-server' });
  const handler: grpc.handleUnaryCall<CreateCertificateRequest, CreateCertificateResponse> = (
    call,
    callback,
  ) => {
    const peer = call.getPeer();
    opts.authenticator
      .authenticate({ token: bearerToken(call.metadata), peer })
      .then((caller) =>
        createCertificate(opts, call.request, caller).then((res) => {
          log.info('issued certificate', {
            caller: caller.name,
            identity: res.identity,
            serial: res.serial,
            peer,
          });
          callback(null, { certChain: res.certChain });
        }),
      )
      .catch((err: unknown) => {
        const code = isMeshError(err) ? STATUS_OF[err.code] : undefined;
        if (code === undefined) {
          log.error('certificate request failed', { peer, error: errorMessage(err) });
          callback({
            code: grpc.status.INTERNAL,
            details: 'internal error in the CA; see the controller logs',
          });
          return;
        }
        log.warn('refused certificate request', {
          peer,
          code: (err as MeshError).code,
          reason: (err as MeshError).message,
        });
        callback({ code, details: (err as MeshError).describe() });
      });
  };
  server.addService(certificateServiceDefinition, { CreateCertificate: handler });
}

/** Options of {@link ServingCredentials}. */
export interface ServingCredentialsOptions {
  /**
   * A connection whose TLS handshake is not done by then is closed (default 10 s). Node's own
   * default, 120 s, let idle half-open connections pile up against the control plane.
   */
  readonly handshakeTimeoutMs?: number;
}

/** Default of {@link ServingCredentialsOptions.handshakeTimeoutMs}. */
export const SERVING_HANDSHAKE_TIMEOUT_MS = 10_000;

function contextOf(identity: TlsIdentity): SecureContextOptions {
  return {
    ca: identity.bundle.toPem(),
    cert: identity.certChainPem.join(''),
    key: identity.keyPem,
  };
}

/**
 * Server TLS credentials for the CA and config gRPC server whose identity can be replaced while
 * the server runs ({@link ServingCredentials.update}): new handshakes get the new certificate,
 * open connections keep theirs. Callers authenticate with tokens (a new pod has no certificate
 * yet), so no client certificate is requested.
 */
export class ServingCredentials extends grpc.ServerCredentials {
  constructor(identity: TlsIdentity, options: ServingCredentialsOptions = {}) {
    super(
      {
        requestCert: false,
        handshakeTimeout: options.handshakeTimeoutMs ?? SERVING_HANDSHAKE_TIMEOUT_MS,
      },
      contextOf(identity),
    );
  }

  /** Serves `identity` from the next handshake on. */
  update(identity: TlsIdentity): void {
    this.updateSecureContextOptions(contextOf(identity));
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/** Server TLS credentials presenting `identity` (see {@link ServingCredentials}). */
export function caServerCredentials(
  identity: TlsIdentity,
  options: ServingCredentialsOptions = {},
): ServingCredentials {
  return new ServingCredentials(identity, options);
}

/** Starts the CA service on a gRPC server of its own; resolves once it listens. */
export async function startCaServer(opts: CaServerOptions): Promise<CaServer> {
  const log = (opts.logger ?? silentLogger).child({ component: 'ca-server' });
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 });
  addCaService(server, opts);
  const creds = caServerCredentials(opts.identity);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(opts.address, creds, (err, p) => (err === null ? resolve(p) : reject(err)));
  });
  log.info('CA service listening', { address: opts.address, port });
  return {
    port,
    stop: ({ deadlineMs = 5000 } = {}) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), deadlineMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
