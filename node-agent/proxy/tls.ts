/**
 * TLS material of workload identities for HBONE: the client side (outbound tunnels present the
 * source pod's certificate) and the server side (a pod's 15008 serves its own), plus the peer
 * checks. Material is derived once per issued identity object and cached, so a connection costs
 * a map lookup, not string joins.
 */
import type { TLSSocket } from 'node:tls';
// certs/tls.ts, not certs/index.ts: the index also loads the CA's gRPC service (see identity/manager.ts).
import { verifyTlsPeer } from '../../certs/tls.ts';
import { MeshError } from '../../common/errors.ts';
import type { HboneClientTls, HboneTlsMaterial } from '../../common/hbone/index.ts';
import { formatSpiffeId } from '../../common/spiffe.ts';
import type { IdentityManager, WorkloadIdentity } from '../identity/index.ts';

/** Client TLS material plus the server check that goes with it. */
export interface ClientMaterial {
  readonly tls: HboneClientTls;
  /** Verifies the server chain against the identity's bundle; returns the server's SPIFFE id. */
  readonly verifyServer: (socket: TLSSocket) => string;
}

const clientCache = new WeakMap<WorkloadIdentity, ClientMaterial>();

/** The HBONE client material of `identity` (cached per identity object). */
export function clientMaterial(identity: WorkloadIdentity): ClientMaterial {
  const found = clientCache.get(identity);
  if (found !== undefined) return found;
  const bundle = identity.bundle;
  const made: ClientMaterial = {
    tls: {
      key: identity.keyPem,
      cert: identity.certChainPem.join(''),
      ca: bundle.toPem(),
      // A new certificate gets new sessions; old sessions keep their tunnels until idle.
      identityKey: `${identity.spiffeId}#${identity.serial}`,
    },
    verifyServer: (socket) => formatSpiffeId(verifyTlsPeer(socket, bundle, 'server')),
  };
  clientCache.set(identity, made);
  return made;
}

/** The HBONE server material of `identity` (its chain, its key, the trust roots). */
export function serverMaterial(identity: WorkloadIdentity): HboneTlsMaterial {
  return { key: identity.keyPem, cert: identity.certChainPem.join(''), ca: identity.bundle.toPem() };
}

/**
 * A server-side peer check for HBONE clients: the chain must verify against the agent's current
 * trust bundle (so a bundle update applies to new sessions at once) and carry a SPIFFE id.
 */
export function clientVerifier(identities: IdentityManager): (socket: TLSSocket) => string {
  return (socket) => {
    const bundle = identities.bundle();
    if (bundle === undefined) {
      throw new MeshError('PROXY_NO_TRUST_BUNDLE', 'the node agent has no trust bundle yet', {
        hint: 'is the CA (controller, port 15012) reachable from the node agent?',
      });
    }
    return formatSpiffeId(verifyTlsPeer(socket, bundle, 'client'));
  };
}
