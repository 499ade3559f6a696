/**
 * L7 AuthorizationPolicy evaluation at the waypoint (issue 6 §3). Policies are indexed once by
 * scope — the destination Service, its namespace, this waypoint — and evaluated per request:
 * any matching DENY denies; otherwise, when ALLOW policies apply and none matches, the request
 * is denied; otherwise it is allowed. A policy without rules matches nothing (Istio), so an
 * ALLOW policy without rules denies everything in its scope.
 */
import type { MeshError } from '../../common/errors.ts';
import type { AuthorizationPolicy } from '../../common/ir/policy.ts';
import type { ServiceKey } from '../../common/ir/source.ts';
import type { CompiledRule } from './authz-rule.ts';
import { AuthzView, compileRule } from './authz-rule.ts';

/** What evaluation needs to know about one request. */
export interface AuthzRequest {
  /** The destination Service (from the tunnel target). */
  readonly service: ServiceKey;
  /** The waypoint serving the request (selects waypoint-scoped policies). */
  readonly waypoint: { readonly namespace: string; readonly name: string };
  /** The caller's SPIFFE id; undefined without a verified identity. */
  readonly principal?: string | undefined;
  /** The namespace of the caller's identity; undefined without one. */
  readonly namespace?: string | undefined;
  /** Uppercase method. */
  readonly method: string;
  /** The path without the query. */
  readonly path: string;
  /** `Host` / `:authority` as received. */
  readonly host: string;
  /** The destination Service port. */
  readonly port: number;
  /** Header value by lowercase name. */
  header(name: string): string | undefined;
}

/** Why a request was allowed or denied. */
export type AuthzReason = 'deny-matched' | 'allow-matched' | 'allow-unmatched' | 'no-allow-policy';

/** The outcome of an evaluation; `policy` is the deciding policy's id when one decided. */
export interface AuthzDecision {
  readonly allowed: boolean;
  readonly policy?: string;
  readonly reason: AuthzReason;
}

/** Compiled policies; `evaluate` is synchronous and never throws. */
export interface Authorizer {
  evaluate(req: AuthzRequest): AuthzDecision;
  /** Rules that could not be compiled (they fail safe; see `compileRule`). */
  readonly errors: readonly MeshError[];
}

class CompiledPolicy {
  readonly deny: boolean;
  readonly rules: readonly CompiledRule[];
  /** The decision this policy produces when it matches (built once). */
  readonly matched: AuthzDecision;
  constructor(p: AuthorizationPolicy, errors: MeshError[]) {
    this.deny = p.action === 'DENY';
    this.rules = p.rules.map((r) => compileRule(r, p.id, p.action, errors));
    this.matched = Object.freeze(
      this.deny
        ? { allowed: false, policy: p.id, reason: 'deny-matched' as const }
        : { allowed: true, policy: p.id, reason: 'allow-matched' as const },
    );
  }
  matches(view: AuthzView): boolean {
    for (const r of this.rules) if (r.test(view)) return true;
    return false;
  }
}

const ALLOW_UNMATCHED: AuthzDecision = Object.freeze({ allowed: false, reason: 'allow-unmatched' });
const NO_ALLOW_POLICY: AuthzDecision = Object.freeze({ allowed: true, reason: 'no-allow-policy' });
const NONE: readonly CompiledPolicy[] = Object.freeze([]);

function push<K>(map: Map<K, CompiledPolicy[]>, key: K, p: CompiledPolicy): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [p]);
  else list.push(p);
}

class PolicyIndex implements Authorizer {
  private readonly byService = new Map<ServiceKey, CompiledPolicy[]>();
  private readonly byNamespace = new Map<string, CompiledPolicy[]>();
  /** Waypoint-scoped policies by waypoint namespace, then name. */
  private readonly byWaypoint = new Map<string, Map<string, CompiledPolicy[]>>();
  private readonly view = new AuthzView();
  readonly errors: readonly MeshError[];

  constructor(policies: readonly AuthorizationPolicy[]) {
    const errors: MeshError[] = [];
    for (const p of policies) {
      const c = new CompiledPolicy(p, errors);
      const s = p.scope;
      if (s.kind === 'service') push(this.byService, s.service, c);
      else if (s.kind === 'namespace') push(this.byNamespace, s.namespace, c);
      else {
        let names = this.byWaypoint.get(s.namespace);
        if (names === undefined)
          this.byWaypoint.set(s.namespace, (names = new Map<string, CompiledPolicy[]>()));
        push(names, s.name, c);
      }
    }
    this.errors = Object.freeze(errors);
  }

  evaluate(req: AuthzRequest): AuthzDecision {
    const service = this.byService.get(req.service) ?? NONE;
    const slash = req.service.indexOf('/');
    const namespace =
      (this.byNamespace.size === 0 ? undefined : this.byNamespace.get(req.service.slice(0, slash))) ?? NONE;
    const waypoint = this.byWaypoint.get(req.waypoint.namespace)?.get(req.waypoint.name) ?? NONE;
    if (service.length + namespace.length + waypoint.length === 0) return NO_ALLOW_POLICY;
    const view = this.view;
    view.reset(req);
    const deny =
      firstMatch(service, true, view) ??
      firstMatch(namespace, true, view) ??
      firstMatch(waypoint, true, view);
    if (deny !== undefined) return deny.matched;
    const allow =
      firstMatch(service, false, view) ??
      firstMatch(namespace, false, view) ??
      firstMatch(waypoint, false, view);
    if (allow !== undefined) return allow.matched;
    return hasAllow(service) || hasAllow(namespace) || hasAllow(waypoint) ? ALLOW_UNMATCHED : NO_ALLOW_POLICY;
  }
}

function firstMatch(
  list: readonly CompiledPolicy[],
  deny: boolean,
  view: AuthzView,
): CompiledPolicy | undefined {
  for (const p of list) if (p.deny === deny && p.matches(view)) return p;
  return undefined;
}

function hasAllow(list: readonly CompiledPolicy[]): boolean {
  for (const p of list) if (!p.deny) return true;
  return false;
}

/**
 * Compiles the AuthorizationPolicies of a waypoint snapshot (L7 and the L4 ones that reach the
 * waypoint; both are evaluated alike). Called once per snapshot.
 */
export function compileAuthz(policies: readonly AuthorizationPolicy[]): Authorizer {
  return new PolicyIndex(policies);
}
