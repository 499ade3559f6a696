/**
 * gRPC channel credentials for calling a mesh server (the controller's config stream, the CA):
 * the server's chain must lead to the trust bundle, and its SPIFFE id must be the expected one.
 * Checked inside the handshake, so a wrong server never sees a request or a token.
 */
import * as grpc from '@grpc/grpc-js';
import { MeshError } from '../common/errors.ts';
import { formatSpiffeId } from '../common/spiffe.ts';
import type { TrustBundle } from './bundle.ts';
import { peerChainDer } from './tls.ts';
import { verifyPeerChain } from './verify.ts';

/**
 * Credentials accepting only a server chained to `bundle` whose SPIFFE id is `serverId` (any mesh
 * id when undefined); `mismatch(got)` words the refusal for the caller's operators.
 */
export function spiffeChannelCredentials(
  bundle: TrustBundle,
  serverId: string | undefined,
  mismatch: (got: string) => string,
): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(Buffer.from(bundle.toPem()), null, null, {
    checkServerIdentity: (_host, cert) => {
      try {
        const got = formatSpiffeId(verifyPeerChain(peerChainDer(cert), bundle, 'server'));
        return serverId === undefined || got === serverId
          ? undefined
          : new MeshError('PEER_NOT_ALLOWED', mismatch(got));
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    },
  });
}

/** A trust bundle fixed at start, or one read when a connection is made (it grows during a root rotation). */
export type BundleSource = TrustBundle | (() => TrustBundle);

/**
 * Channel credentials that follow `bundle`: the same object while the bundle holds the same roots,
 * new credentials once they changed, so a client can tell that its channel trusts an outdated
 * bundle (`credentials() !== madeWith`) and open a new one. Read per certificate request and per
 * config stream opened, never per packet.
 */
export function followingCredentials(
  bundle: BundleSource,
  make: (bundle: TrustBundle) => grpc.ChannelCredentials,
): () => grpc.ChannelCredentials {
  if (typeof bundle !== 'function') {
    const fixed = make(bundle);
    return () => fixed;
  }
  let roots: string | undefined;
  let creds: grpc.ChannelCredentials | undefined;
  return () => {
    const now = bundle();
    const pem = now.toPem();
    if (creds === undefined || pem !== roots) {
      roots = pem;
      creds = make(now);
    }
    return creds;
  };
}

/**
 * Credentials for the controller's gRPC services (only a server presenting `serverId`), following
 * `bundle` as {@link followingCredentials} does.
 */
export function controllerChannelCredentials(
  bundle: BundleSource,
  serverId: string,
): () => grpc.ChannelCredentials {
  return followingCredentials(bundle, (b) =>
    spiffeChannelCredentials(b, serverId, (got) => `the controller presented ${got}, expected ${serverId}`),
  );
}
