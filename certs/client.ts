/**
 * Client of the CA service, used by node agents and waypoints. It verifies the server's SPIFFE
 * id (no DNS names in the mesh) and turns gRPC refusals into MeshErrors carrying the status.
 */
import * as grpc from '@grpc/grpc-js';
import { MeshError } from '../common/errors.ts';
import { RenewingClient, reconnectChannelOptions } from '../common/reconnect.ts';
import {
  CertificateServiceClient,
  type CreateCertificateRequest,
  type CreateCertificateResponse,
} from './grpc-defs.ts';
import { followingCredentials, spiffeChannelCredentials, type BundleSource } from './channel.ts';

/** Options for {@link CaClient}. */
export interface CaClientOptions {
  /** `host:port` of the CA service. */
  readonly address: string;
  /**
   * The roots the server must chain to: fixed, or read whenever a call is made (the proxy's trust
   * bundle, which learns a new root during a rotation); a changed bundle gets a new channel.
   */
  readonly bundle: BundleSource;
  /** The SPIFFE id the server must present (e.g. the controller's). Any mesh id when omitted. */
  readonly serverId?: string;
  /** Supplies the bearer token for each call (tokens rotate). */
  readonly token: () => string | Promise<string>;
  readonly timeoutMs?: number;
  /** How long connecting may take before a new connection is tried (default 10 s). */
  readonly connectTimeoutMs?: number;
}

/** A CA refusal or failure: `code` is `CA_<GRPC STATUS NAME>`, e.g. `CA_PERMISSION_DENIED`. */
export function caCallError(err: grpc.ServiceError): MeshError {
  const name = grpc.status[err.code] ?? String(err.code);
  return new MeshError(`CA_${name}`, `certificate request refused (${name}): ${err.details}`, {
    hint: err.code === grpc.status.UNAVAILABLE ? 'is the controller running and port 15012 reachable?' : '',
  });
}

/** The generated stub's one method, typed. */
interface CertificateServiceStub extends grpc.Client {
  CreateCertificate(
    req: CreateCertificateRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<CreateCertificateResponse>,
  ): grpc.ClientUnaryCall;
}

/** Requests certificates from the CA service. */
export class CaClient {
  readonly #client: RenewingClient<CertificateServiceStub>;
  readonly #opts: CaClientOptions;

  constructor(opts: CaClientOptions) {
    this.#opts = opts;
    const credentials = followingCredentials(opts.bundle, (bundle) =>
      spiffeChannelCredentials(
        bundle,
        opts.serverId,
        (got) => `CA server is ${got}, expected ${opts.serverId ?? ''}`,
      ),
    );
    // Identity is checked by SPIFFE id above, not by host name; a fixed SNI name also avoids
    // sending an IP address as SNI, which RFC 6066 forbids.
    // A connect that hangs (a Service address still translated to a pod that is gone) is cut
    // short by a new channel, as for the config stream.
    this.#client = new RenewingClient({
      credentials,
      make: (pool, creds) =>
        new CertificateServiceClient(opts.address, creds, {
          'grpc.ssl_target_name_override': 'waymesh-ca',
          // Calls fail at once while the channel backs off: a new pod's certificate request must
          // not wait out grpc-js's default of up to 120 s after the controller is back.
          ...reconnectChannelOptions(),
          ...pool,
        }) as unknown as CertificateServiceStub,
      ...(opts.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: opts.connectTimeoutMs }),
    });
  }

  /** Sends a CSR; resolves with the PEM chain (leaf first). */
  async createCertificate(csrPem: string, ttlSeconds = 0, impersonatedIdentity = ''): Promise<string[]> {
    const token = await this.#opts.token();
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const req: CreateCertificateRequest = { csr: csrPem, ttlSeconds, impersonatedIdentity };
    const deadline = new Date(Date.now() + (this.#opts.timeoutMs ?? 10_000));
    // The trust bundle changed since the channel was made (a root rotation): trust the new one.
    this.#client.renewIfStale();
    return new Promise<string[]>((resolve, reject) => {
      this.#client.current.CreateCertificate(req, metadata, { deadline }, (err, res) => {
        if (err !== null) reject(caCallError(err));
        else if (res === undefined || res.certChain.length === 0) {
          reject(new MeshError('CA_INTERNAL', 'the CA answered with an empty certificate chain'));
        } else resolve(res.certChain);
      });
    });
  }

  /** Closes the channel. */
  close(): void {
    this.#client.close();
  }
}
