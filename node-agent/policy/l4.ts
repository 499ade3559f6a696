/**
 * L4 authorization of a connection to a local workload (issue 5 §3, issue 4 §5), Istio
 * semantics: the workload's mTLS mode first (`STRICT` refuses plaintext), then any matching
 * DENY policy denies; else, when ALLOW policies apply and none matches, the connection is
 * denied; else it is allowed. Which policies apply is the state index's job
 * (`NodeState.policiesFor`): namespace-wide ones of the workload's namespace and service-scoped
 * ones of the Services it backs; waypoint-scoped policies never reach the agent.
 */
import type { Workload } from '../../common/ir/index.ts';
import type { CompiledL4Policy, CompiledRule } from './compile.ts';
import { inPortSet, inStringSet } from './match.ts';

/** What the agent knows about a connection at L4. */
export interface L4Connection {
  /** The peer's verified SPIFFE id; undefined for plaintext (port 15006). */
  readonly principal: string | undefined;
  /** The peer's namespace, from its SPIFFE id (see {@link namespaceOfPrincipal}). */
  readonly namespace: string | undefined;
  /** The destination (application) port. */
  readonly port: number;
}

/** The outcome, for the stream status, `waymesh_tcp_denied_total{policy}` and the access log. */
export interface L4Decision {
  readonly allowed: boolean;
  /** Id of the policy that decided; absent when no policy did (none apply, or mTLS mode). */
  readonly policy?: string;
  /** True when the workload's `STRICT` mTLS mode refused a plaintext peer. */
  readonly unauthenticated?: boolean;
  readonly reason: string;
}

const ALLOW_NO_POLICY: L4Decision = Object.freeze({
  allowed: true,
  reason: 'no authorization policy applies',
});

/**
 * The namespace of a `spiffe://<td>/ns/<ns>/sa/<sa>` id, or undefined for another shape. Done
 * with index arithmetic: it runs once per inbound connection.
 */
export function namespaceOfPrincipal(principal: string | undefined): string | undefined {
  if (principal === undefined || !principal.startsWith('spiffe://')) return undefined;
  const nsAt = principal.indexOf('/ns/', 'spiffe://'.length);
  if (nsAt < 0) return undefined;
  const start = nsAt + 4;
  const end = principal.indexOf('/', start);
  if (end <= start || !principal.startsWith('/sa/', end)) return undefined;
  return principal.slice(start, end);
}

function ruleMatches(rule: CompiledRule, conn: L4Connection): boolean {
  if (rule.from.length > 0) {
    let any = false;
    for (const f of rule.from) {
      if (inStringSet(f.principals, conn.principal) && inStringSet(f.namespaces, conn.namespace)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  if (rule.to.length > 0) {
    for (const t of rule.to) if (inPortSet(t, conn.port)) return true;
    return false;
  }
  return true;
}

function policyMatches(policy: CompiledL4Policy, conn: L4Connection): boolean {
  for (const rule of policy.rules) if (ruleMatches(rule, conn)) return true;
  return false;
}

/** Decides whether `conn` may reach `workload` under `policies` (those that apply to it). */
export function authorizeL4(
  workload: Workload,
  policies: readonly CompiledL4Policy[],
  conn: L4Connection,
): L4Decision {
  if (conn.principal === undefined && workload.mtls === 'STRICT') {
    return {
      allowed: false,
      unauthenticated: true,
      reason: `pod ${workload.namespace}/${workload.name} requires mTLS (STRICT); plaintext refused`,
    };
  }
  let firstAllow: CompiledL4Policy | undefined;
  for (const p of policies) {
    if (p.action === 'DENY') {
      if (policyMatches(p, conn)) return { allowed: false, policy: p.id, reason: p.matchedReason };
    } else if (firstAllow === undefined) {
      firstAllow = p;
    }
  }
  if (firstAllow === undefined) return ALLOW_NO_POLICY;
  for (const p of policies) {
    if (p.action === 'ALLOW' && policyMatches(p, conn)) {
      return { allowed: true, policy: p.id, reason: p.matchedReason };
    }
  }
  // No ALLOW matched: name the first one that applies, so the metric points at a real object.
  return {
    allowed: false,
    policy: firstAllow.id,
    reason: `no ALLOW rule matches (first ALLOW policy applying: ${firstAllow.id})`,
  };
}
