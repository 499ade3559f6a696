/**
 * Node `tls` options for mesh mTLS and the peer check that runs on every connection. OpenSSL
 * verifies the chain against the bundle during the handshake; `verifyPeerChain` then enforces
 * SPIFFE identity, trust domain and purpose. Clients check inside the handshake
 * (`checkServerIdentity`); servers check on `secureConnection`, before reading any data.
 */
import type {
  PeerCertificate,
  DetailedPeerCertificate,
  TLSSocket,
  ConnectionOptions,
  TlsOptions,
} from 'node:tls';
import { MeshError } from '../common/errors.ts';
import { formatSpiffeId, type SpiffeId } from '../common/spiffe.ts';
import type { TrustBundle } from './bundle.ts';
import { verifyPeerChain, type PeerRole } from './verify.ts';

/** A workload's own identity material. */
export interface TlsIdentity {
  readonly keyPem: string;
  /** Leaf first, then intermediates (the root may be included; peers ignore it). */
  readonly certChainPem: readonly string[];
  readonly bundle: TrustBundle;
}

/** Accepts or rejects a verified peer SPIFFE id (e.g. "only the controller's identity"). */
export type PeerPredicate = (id: SpiffeId) => boolean;

/** The DER chain of a peer certificate as Node reports it (leaf first, root last if sent). */
export function peerChainDer(cert: PeerCertificate | DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  let current: PeerCertificate | DetailedPeerCertificate | undefined = cert;
  while (current !== undefined && current.raw !== undefined && chain.length < 10) {
    chain.push(current.raw);
    const next: DetailedPeerCertificate | undefined =
      'issuerCertificate' in current ? current.issuerCertificate : undefined;
    // A self-issued root points at itself; stop there.
    if (next === undefined || next === current || next.raw?.equals(current.raw)) break;
    current = next;
  }
  return chain;
}

/** Server options: mTLS 1.3 with a required client certificate from the bundle. */
export function mtlsServerOptions(identity: TlsIdentity, alpn: readonly string[] = ['h2']): TlsOptions {
  return {
    key: identity.keyPem,
    cert: identity.certChainPem.join(''),
    ca: identity.bundle.toPem(),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    ALPNProtocols: [...alpn],
  };
}

/**
 * Client options: mTLS 1.3 presenting `identity`; the server must present a certificate from
 * the bundle whose SPIFFE id satisfies `accept` (any mesh identity when omitted).
 */
export function mtlsClientOptions(
  identity: TlsIdentity,
  accept?: PeerPredicate,
  alpn: readonly string[] = ['h2'],
): ConnectionOptions {
  return {
    key: identity.keyPem,
    cert: identity.certChainPem.join(''),
    ca: identity.bundle.toPem(),
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    ALPNProtocols: [...alpn],
    // Called during the handshake; a returned Error aborts the connection.
    checkServerIdentity: (_host, cert) => {
      try {
        const id = verifyPeerChain(peerChainDer(cert), identity.bundle, 'server');
        if (accept !== undefined && !accept(id)) {
          return new MeshError(
            'PEER_NOT_ALLOWED',
            `server identity ${formatSpiffeId(id)} is not the one expected`,
          );
        }
        return undefined;
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    },
  };
}

/** Verifies the peer of an established TLS socket and returns its SPIFFE id (throws MeshError). */
export function verifyTlsPeer(socket: TLSSocket, bundle: TrustBundle, role: PeerRole, now?: Date): SpiffeId {
  const cert = socket.getPeerCertificate(true);
  if (cert === null || Object.keys(cert).length === 0) {
    throw new MeshError('CERT_CHAIN_EMPTY', 'the peer presented no certificate', {
      hint: 'is the client connecting without mTLS, e.g. from outside the mesh?',
    });
  }
  return verifyPeerChain(peerChainDer(cert), bundle, role, now);
}
