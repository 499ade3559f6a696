/**
 * Compiles the L4 AuthorizationPolicies of a node snapshot once per snapshot (issue 5 §3).
 *
 * The controller already splits policies by layer, but a rule carrying L7 fields (methods,
 * paths, hosts, `when`) is handled defensively, as ztunnel does: in an ALLOW policy it never
 * matches at L4 (it cannot be checked here, so it must not widen access); in a DENY policy its
 * L7 conditions are dropped, so it denies every connection from its sources to its ports (fail
 * closed). Rules are compiled by their content, whatever the policy's `layer` field says.
 */
import type { AuthorizationPolicy, AuthzFrom, AuthzRule, AuthzTo } from '../../common/ir/index.ts';
import {
  compilePortSet,
  compileStringSet,
  isUsed,
  type CompiledPortSet,
  type CompiledStringSet,
} from './match.ts';

/** A compiled `from` entry. */
export interface CompiledFrom {
  readonly principals: CompiledStringSet;
  readonly namespaces: CompiledStringSet;
}

/** A compiled L4 rule: any `from` AND any `to` (an empty list matches all). */
export interface CompiledRule {
  readonly from: readonly CompiledFrom[];
  /** Port sets of the `to` entries. */
  readonly to: readonly CompiledPortSet[];
}

/** An AuthorizationPolicy ready for per-connection evaluation. */
export interface CompiledL4Policy {
  /** The IR id (`authorizationpolicy/<ns>/<name>…`), the `policy` label of denied metrics. */
  readonly id: string;
  readonly action: 'ALLOW' | 'DENY';
  /** Rules that can match at L4; an ALLOW policy with none allows nothing. */
  readonly rules: readonly CompiledRule[];
  /** Precomputed decision text, so evaluation allocates nothing. */
  readonly matchedReason: string;
}

/** True when a rule needs L7 data (methods, paths, hosts or request headers). */
export function isL7Rule(rule: AuthzRule): boolean {
  return rule.when.length > 0 || rule.to.some((t) => isUsed(t.methods) || isUsed(t.paths) || isUsed(t.hosts));
}

function compileFrom(f: AuthzFrom): CompiledFrom {
  return Object.freeze({
    principals: compileStringSet(f.principals),
    namespaces: compileStringSet(f.namespaces),
  });
}

function compileTo(t: AuthzTo, where: string): CompiledPortSet {
  return compilePortSet(t.ports, where);
}

function compileRule(policy: AuthorizationPolicy, rule: AuthzRule, index: number): CompiledRule | undefined {
  if (policy.action === 'ALLOW' && isL7Rule(rule)) return undefined;
  const where = `policy ${policy.id} rule ${index}`;
  return Object.freeze({
    from: Object.freeze(rule.from.map(compileFrom)),
    // For a DENY rule with L7 fields only the ports are kept: the rule denies a superset.
    to: Object.freeze(rule.to.map((t) => compileTo(t, where))),
  });
}

/** Compiles one policy; throws `NODE_SNAPSHOT_INVALID` when a port is not a number. */
export function compileL4Policy(policy: AuthorizationPolicy): CompiledL4Policy {
  const rules: CompiledRule[] = [];
  for (const [i, rule] of policy.rules.entries()) {
    const compiled = compileRule(policy, rule, i);
    if (compiled !== undefined) rules.push(compiled);
  }
  return Object.freeze({
    id: policy.id,
    action: policy.action,
    rules: Object.freeze(rules),
    matchedReason: `${policy.action === 'DENY' ? 'denied' : 'allowed'} by ${policy.id}`,
  });
}
