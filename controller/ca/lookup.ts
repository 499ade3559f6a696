/**
 * The CA authorizer's view of the cluster, read from the controller's whole-world snapshot
 * (`controller/translate/world.ts`). The snapshot is swapped whole, so every call reads the
 * current one through the getter; every field is treated as untrusted.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { CaCaller } from '../../certs/index.ts';
import { workloadId, type WorkloadId } from '../../common/spiffe.ts';
import { NAMES, type World } from '../translate/world.ts';
import type { KubeCaCaller } from './authn.ts';
import type { CaLookup } from './authz.ts';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

function serviceAccountOf(pod: V1Pod): string {
  const sa = pod.spec?.serviceAccountName;
  return typeof sa === 'string' && sa !== '' ? sa : 'default';
}

/** A pod that finished no longer runs on its node, so its identity is no longer needed there. */
function isLive(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}

/** {@link CaLookup} over the current world snapshot. */
export class WorldCaLookup implements CaLookup {
  readonly #world: () => World;

  constructor(world: () => World) {
    this.#world = world;
  }

  podsOnNode(node: string): readonly { namespace: string; serviceAccount: string }[] {
    return this.#world()
      .pods.filter((p) => p.spec?.nodeName === node && isLive(p) && typeof p.metadata?.namespace === 'string')
      .map((p) => ({ namespace: p.metadata?.namespace ?? '', serviceAccount: serviceAccountOf(p) }));
  }

  /**
   * The node of the pod the agent's token is bound to: the pod as the snapshot sees it (it must
   * run under the caller's service account), else the node the API server put in the token.
   */
  nodeOfAgent(caller: CaCaller): string | undefined {
    const { pod: bound, nodeName } = caller as KubeCaCaller;
    if (bound === undefined) return undefined;
    const pod = this.#world().pods.find(
      (p) => p.metadata?.namespace === caller.namespace && p.metadata?.name === bound.name,
    );
    if (pod === undefined) return nodeName;
    if (pod.metadata?.uid !== bound.uid || serviceAccountOf(pod) !== caller.serviceAccount) return undefined;
    const node = pod.spec?.nodeName;
    return typeof node === 'string' && node !== '' ? node : undefined;
  }

  /** The caller's identity when its ServiceAccount is owned by a Gateway of class waymesh-waypoint. */
  waypointIdentityOf(caller: CaCaller): WorkloadId | undefined {
    const { namespace, serviceAccount } = caller;
    if (namespace === undefined || serviceAccount === undefined) return undefined;
    const world = this.#world();
    const sa = world.serviceAccounts.find(
      (s) => s.metadata?.namespace === namespace && s.metadata?.name === serviceAccount,
    );
    const owners = sa?.metadata?.ownerReferences ?? [];
    const owned = owners.some(
      (o) =>
        o.kind === 'Gateway' &&
        typeof o.apiVersion === 'string' &&
        o.apiVersion.startsWith(`${GATEWAY_GROUP}/`) &&
        world.gateways.some(
          (g) =>
            g.metadata.namespace === namespace &&
            g.metadata.name === o.name &&
            (o.uid === undefined || o.uid === '' || g.metadata.uid === o.uid) &&
            g.spec?.['gatewayClassName'] === NAMES.waypointClass,
        ),
    );
    if (!owned) return undefined;
    try {
      return workloadId(world.trustDomain, namespace, serviceAccount);
    } catch {
      // A name that cannot form a SPIFFE id cannot be a waypoint identity either.
      return undefined;
    }
  }
}
