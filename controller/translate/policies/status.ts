/**
 * GEP-713 policy status: one `status.ancestors[]` entry per target (the Namespace for a
 * namespace-wide AuthorizationPolicy), each with an `Accepted` condition.
 * https://gateway-api.sigs.k8s.io/geps/gep-713/
 */
import type { Condition, ObjectStatus, SourceRef } from '../../../common/ir/index.ts';

/** The reasons GEP-713 defines for a policy's `Accepted` condition. */
export const REASON = {
  accepted: 'Accepted',
  targetNotFound: 'TargetNotFound',
  conflicted: 'Conflicted',
  invalid: 'Invalid',
} as const;

/** A policy reason. */
export type Reason = (typeof REASON)[keyof typeof REASON];

/** An `ancestorRef` as GEP-713 writes it (a ParentReference). */
export type AncestorRef = Readonly<Record<string, unknown>>;

/** One ancestor's outcome. */
export interface AncestorOutcome {
  readonly ancestorRef: AncestorRef;
  readonly reason: Reason;
  readonly message: string;
}

/** The ancestorRef of a namespace-wide policy. */
export function namespaceAncestor(namespace: string): AncestorRef {
  return { group: '', kind: 'Namespace', name: namespace };
}

/** The `Accepted` condition for one outcome. */
export function accepted(o: AncestorOutcome, generation: number): Condition {
  return {
    type: 'Accepted',
    status: o.reason === REASON.accepted ? 'True' : 'False',
    reason: o.reason,
    message: o.message,
    observedGeneration: generation,
  };
}

/** The policy status of one object from its ancestors' outcomes. */
export function policyStatus(
  source: SourceRef,
  outcomes: readonly AncestorOutcome[],
  generation: number,
): ObjectStatus {
  return {
    kind: 'policy',
    source,
    ancestors: outcomes.map((o) => ({ ancestorRef: o.ancestorRef, conditions: [accepted(o, generation)] })),
  };
}
