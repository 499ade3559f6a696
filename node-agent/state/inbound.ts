/**
 * Inbound decision (issue 5 §3): for a tunnel (`CONNECT` on 15008) or a plaintext connection
 * (15006) arriving at a local pod, check the target belongs to the pod, then apply the pod's
 * mTLS mode and L4 AuthorizationPolicies. Pure; the inbound proxy answers the status it returns.
 */
import { HBONE_PORT } from '../../common/hbone/constants.ts';
import { authorizeL4, namespaceOfPrincipal, type L4Decision } from '../policy/l4.ts';
import type { Address, NodeState } from './types.ts';
import type { Workload } from '../../common/ir/index.ts';

/** The agent's own ports inside a captured pod: a target there would loop back into the agent. */
const AGENT_PORTS: ReadonlySet<number> = new Set([15001, 15006, HBONE_PORT]);

/** Who is connecting. */
export interface InboundPeer {
  /** The verified SPIFFE id of the peer certificate; undefined for plaintext. */
  readonly identity?: string;
  /** The peer's address (for the caller's access log; L4 rules have no address conditions). */
  readonly ip?: string;
}

/** Connect to the application on `port` inside the pod. */
export interface DeliverPlan {
  readonly kind: 'deliver';
  readonly port: number;
  readonly decision: L4Decision;
}

/**
 * Refuse the stream: 400 when the target is not this pod's, 401 when the pod requires mTLS and
 * the peer is plaintext, 403 when a policy denies (`policy` names it, for
 * `waymesh_tcp_denied_total{policy}`).
 */
export interface InboundRefusal {
  readonly kind: 'refuse';
  readonly status: 400 | 401 | 403;
  readonly reason: string;
  readonly policy?: string;
}

/** The inbound outcome. */
export type InboundPlan = DeliverPlan | InboundRefusal;

function badTarget(pod: Workload, target: Address, why: string): InboundRefusal {
  return {
    kind: 'refuse',
    status: 400,
    reason: `CONNECT target ${target.ip}:${target.port} ${why} pod ${pod.namespace}/${pod.name}`,
  };
}

/**
 * Plans the inbound connection of `peer` to `connectTarget` for `localPod`. The pod is looked up
 * by uid in `state`, so its mTLS mode and policies are those of the current snapshot; a pod not
 * on this node in that snapshot is refused (403) rather than served without its policies.
 */
export function planInbound(
  state: NodeState,
  localPod: Workload,
  connectTarget: Address,
  peer: InboundPeer,
): InboundPlan {
  const pod = state.localWorkloads.get(localPod.uid);
  if (pod === undefined) {
    return {
      kind: 'refuse',
      status: 403,
      reason: `pod ${localPod.namespace}/${localPod.name} is not a workload of node ${state.node} in snapshot ${state.version}`,
    };
  }
  if (!pod.ips.includes(connectTarget.ip)) return badTarget(pod, connectTarget, 'is not an address of');
  const port = connectTarget.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return badTarget(pod, connectTarget, 'has no valid port for');
  }
  if (AGENT_PORTS.has(port)) return badTarget(pod, connectTarget, 'is a node-agent port of');
  const decision = authorizeL4(pod, state.policiesByWorkload.get(pod.uid) ?? [], {
    principal: peer.identity,
    namespace: namespaceOfPrincipal(peer.identity),
    port,
  });
  if (decision.allowed) return { kind: 'deliver', port, decision };
  return {
    kind: 'refuse',
    status: decision.unauthenticated === true ? 401 : 403,
    reason: decision.reason,
    policy: decision.policy,
  };
}
