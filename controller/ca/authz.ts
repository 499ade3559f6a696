/**
 * Who may obtain which identity from the cluster CA (DESIGN.md §6): a node agent only the
 * identities of pods scheduled on its node (on their behalf), a waypoint only its own, and any
 * workload its own. Every refusal names who asked, for what, and why not.
 */
import type { CaAuthorizer, CaCaller, CaDecision } from '../../certs/index.ts';
import type { WorkloadId } from '../../common/spiffe.ts';

/** What the authorizer needs to know about the cluster (an informer-backed view in the controller). */
export interface CaLookup {
  /** Namespace and service account of every pod scheduled on `node`. */
  podsOnNode(node: string): readonly { readonly namespace: string; readonly serviceAccount: string }[];
  /** The node a node-agent caller runs on (from its token's bound pod), if known. */
  nodeOfAgent(caller: CaCaller): string | undefined;
  /** The identity of the waypoint `caller` is, when its service account belongs to a waypoint Gateway. */
  waypointIdentityOf(caller: CaCaller): WorkloadId | undefined;
}

/** Options for {@link MeshAuthorizer}. */
export interface MeshAuthorizerOptions {
  readonly lookup: CaLookup;
  /** The node agent's service account; default `waymesh-system/waymesh-node-agent`. */
  readonly nodeAgent?: { readonly namespace: string; readonly serviceAccount: string };
}

/** The node agent's service account (manifests/install.yaml). */
export const NODE_AGENT_ACCOUNT = {
  namespace: 'waymesh-system',
  serviceAccount: 'waymesh-node-agent',
} as const;

const ALLOW: CaDecision = Object.freeze({ allowed: true });

function deny(reason: string): CaDecision {
  return Object.freeze({ allowed: false, reason });
}

function short(id: { readonly namespace: string; readonly serviceAccount: string }): string {
  return `ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** The node-aware authorizer the controller plugs into the CA service. */
export class MeshAuthorizer implements CaAuthorizer {
  readonly #lookup: CaLookup;
  readonly #nodeAgent: { readonly namespace: string; readonly serviceAccount: string };

  constructor(opts: MeshAuthorizerOptions) {
    this.#lookup = opts.lookup;
    this.#nodeAgent = opts.nodeAgent ?? NODE_AGENT_ACCOUNT;
  }

  authorize(caller: CaCaller, identity: WorkloadId, impersonated: boolean): Promise<CaDecision> {
    return Promise.resolve(this.decide(caller, identity, impersonated));
  }

  /** The decision itself, synchronous (the lookup is an in-memory view). */
  decide(caller: CaCaller, identity: WorkloadId, impersonated: boolean): CaDecision {
    const { namespace, serviceAccount } = caller;
    if (namespace === undefined || serviceAccount === undefined) {
      return deny(`${caller.name} is not a Kubernetes service account; the CA serves only mesh workloads`);
    }
    const own = { namespace, serviceAccount };
    const isOwn = identity.namespace === namespace && identity.serviceAccount === serviceAccount;
    if (namespace === this.#nodeAgent.namespace && serviceAccount === this.#nodeAgent.serviceAccount) {
      if (!impersonated) {
        return isOwn
          ? ALLOW
          : deny(
              `node agent ${caller.name} must request ${short(identity)} on the pod's behalf (impersonated identity)`,
            );
      }
      return this.#nodeAgentDecision(caller, identity);
    }
    const waypoint = this.#lookup.waypointIdentityOf(caller);
    if (waypoint !== undefined) {
      if (impersonated) {
        return deny(`waypoint ${short(waypoint)} may not request certificates on behalf of other workloads`);
      }
      if (identity.namespace === waypoint.namespace && identity.serviceAccount === waypoint.serviceAccount) {
        return ALLOW;
      }
      return deny(`waypoint ${short(waypoint)} may obtain only its own identity, not ${short(identity)}`);
    }
    if (impersonated) {
      return deny(
        `${caller.name} may not request certificates on behalf of other workloads (only the node agent ` +
          `${short(this.#nodeAgent)} may)`,
      );
    }
    if (isOwn) return ALLOW;
    return deny(`${caller.name} may obtain only its own identity ${short(own)}, not ${short(identity)}`);
  }

  #nodeAgentDecision(caller: CaCaller, identity: WorkloadId): CaDecision {
    const node = this.#lookup.nodeOfAgent(caller);
    if (node === undefined) {
      return deny(
        `node agent ${caller.name} asked for ${short(identity)}, but its token is not bound to a pod on a known node ` +
          '(use a projected, pod-bound service-account token)',
      );
    }
    const onNode = this.#lookup
      .podsOnNode(node)
      .some((p) => p.namespace === identity.namespace && p.serviceAccount === identity.serviceAccount);
    if (onNode) return ALLOW;
    return deny(
      `node agent on ${node} asked for ${short(identity)}, but no pod with that service account runs on ${node}`,
    );
  }
}
