/**
 * Compiled policies of `policy.waymesh.io/v1alpha1`. Authorization rules are split by layer:
 * L4 rules (identities, namespaces, ports) go to the destination's node agent, L7 rules
 * (methods, paths, hosts, headers) to the waypoint serving the target.
 */
import type { ServiceKey, SourceRef } from './source.ts';

/** A set with its negation, as AuthorizationPolicy writes `principals`/`notPrincipals`. */
export interface MatchSet {
  readonly values: readonly string[];
  readonly not: readonly string[];
}

/** Who a rule is about. */
export interface AuthzFrom {
  /** SPIFFE ids, `*`, or prefix/suffix globs (`spiffe://td/ns/a/*`). */
  readonly principals: MatchSet;
  readonly namespaces: MatchSet;
}

/** What a rule is about. */
export interface AuthzTo {
  readonly ports: MatchSet;
  readonly methods: MatchSet;
  readonly paths: MatchSet;
  readonly hosts: MatchSet;
}

/** A condition on a request header. */
export interface AuthzWhen {
  readonly header: string;
  readonly values: readonly string[];
  readonly notValues: readonly string[];
}

/** One rule: any `from` entry AND any `to` entry AND every `when` (empty lists match all). */
export interface AuthzRule {
  readonly from: readonly AuthzFrom[];
  readonly to: readonly AuthzTo[];
  readonly when: readonly AuthzWhen[];
}

/** What a policy applies to. */
export type PolicyScope =
  | { readonly kind: 'namespace'; readonly namespace: string }
  | { readonly kind: 'service'; readonly service: ServiceKey }
  | { readonly kind: 'waypoint'; readonly namespace: string; readonly name: string };

/** A compiled AuthorizationPolicy (one layer of it). */
export interface AuthorizationPolicy {
  /** `authorizationpolicy/<ns>/<name>`. */
  readonly id: string;
  readonly source: SourceRef;
  readonly scope: PolicyScope;
  readonly action: 'ALLOW' | 'DENY';
  readonly layer: 'L4' | 'L7';
  readonly rules: readonly AuthzRule[];
}

/** What a rate-limit budget is counted per. */
export type RateLimitKey =
  | { readonly type: 'source' }
  | { readonly type: 'header'; readonly name: string }
  | { readonly type: 'target' };

/** A compiled RateLimitPolicy limit. */
export interface RateLimit {
  /** `ratelimitpolicy/<ns>/<name>/limit/<i>`; also the Redis key prefix. */
  readonly id: string;
  readonly source: SourceRef;
  readonly target:
    | { readonly kind: 'service'; readonly service: ServiceKey }
    | { readonly kind: 'route'; readonly route: SourceRef };
  readonly requests: number;
  readonly periodSeconds: 1 | 60 | 3600;
  readonly key: RateLimitKey;
}
