/**
 * What the proxy's per-connection code reads: the agent-wide context (state, identities, the
 * HBONE pool, metrics) and the per-pod one (which pod, which namespace, its open flows).
 */
import type { HboneClient } from '../../common/hbone/index.ts';
import type { Workload } from '../../common/ir/index.ts';
import type { CapturePod } from '../capture/listeners.ts';
import type { IdentityManager } from '../identity/index.ts';
import type { EndpointPicker, NodeState } from '../state/index.ts';
import type { FlowContext, FlowSet } from './flow.ts';
import type { EndpointHealth } from '../../common/endpoint-health.ts';

/** Shared by every pod of the agent. */
export interface AgentContext extends FlowContext {
  /** The current state (swapped whole by the agent on every accepted snapshot). */
  readonly state: () => NodeState;
  readonly identities: IdentityManager;
  readonly hbone: HboneClient;
  /** Limit for TCP connects, HBONE tunnel set-up and waiting for a certificate. */
  readonly connectTimeoutMs: number;
  /** Power of two choices by open tunnels (the base of every outbound pick). */
  readonly picker: EndpointPicker;
  /** Endpoints skipped after failed connects; outbound picks go through `healthyPicker`. */
  readonly health: EndpointHealth;
  /** `picker` skipping unhealthy endpoints: the first pick of every outbound connection. */
  readonly healthyPicker: EndpointPicker;
}

/** One captured pod being served. */
export interface PodContext {
  readonly agent: AgentContext;
  readonly pod: CapturePod;
  /** `<namespace>/<name>`, for logs and labels. */
  readonly name: string;
  readonly nsPath: string;
  /** The pod's workload as it was when serving started (planInbound re-reads it by uid). */
  readonly self: Workload;
  readonly flows: FlowSet;
}

/** A no-op error listener: errors are reported through the pipe, never thrown as 'error' events. */
export function ignoreError(): void {
  // Attached so an early socket error never becomes an uncaught exception.
}
