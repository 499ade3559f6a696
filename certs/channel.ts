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

/** Credentials for the controller's gRPC services: only a server presenting `serverId`. */
export function controllerChannelCredentials(bundle: TrustBundle, serverId: string): grpc.ChannelCredentials {
  return spiffeChannelCredentials(
    bundle,
    serverId,
    (got) => `the controller presented ${got}, expected ${serverId}`,
  );
}
