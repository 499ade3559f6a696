/**
 * AuthorizationPolicy → IR, split by who enforces it.
 *
 * - L4 part (node agents of the destination's workloads): the rules using only principals,
 *   namespaces and ports (authz-spec.ts). A node agent sees a waypoint's identity, not the
 *   client's, on traffic a waypoint forwards; so an ALLOW part also allows the identities of
 *   the waypoints serving the scope (they enforce the policy for that traffic themselves), and
 *   a client that skips the waypoint is still held to the L4 rules.
 * - L7 part (waypoints): emitted where a waypoint serves the scope, with every rule — the
 *   waypoint is where the real client of forwarded traffic is known, so it checks the L4 rules
 *   too (otherwise a DENY on a namespace would be bypassed through the waypoint, and an ALLOW
 *   of an identity denied by the waypoint's other ALLOW rules).
 *
 * L7 rules where no waypoint serves are never silently weakened: status says
 * `Accepted=False/Invalid`, a DENY policy denies those rules' sources at L4 (on their ports,
 * whatever the request), and an ALLOW policy is enforced with its L4 rules only, so requests
 * only the L7 rules would allow are denied.
 *
 * A policy in the root namespace (`NAMES.rootNamespace`) without `targetRefs` is mesh-wide, as
 * Istio's root-namespace policies are: it is compiled once per namespace, exactly as the same
 * policy written in each of them, so the proxies combine it with that namespace's own policies
 * (any DENY match denies; where ALLOW policies apply, one must match). Its status has one
 * ancestor, the root namespace.
 *
 * Ids are `authorizationpolicy/<ns>/<name>`; when one layer of a policy applies to several
 * scopes (several targetRefs, per-Service fallbacks of a namespace-wide policy, the namespaces
 * of a mesh-wide one), each entry gets a `/<service|waypoint|namespace>/<name>` suffix so
 * (id, layer) stays unique.
 */
import type {
  AuthorizationPolicy,
  AuthzRule,
  ObjectStatus,
  PolicyScope,
  ServiceKey,
  SourceRef,
  WaypointBinding,
} from '../../../common/ir/index.ts';
import { serviceKey } from '../../../common/ir/index.ts';
import { NAMES, type World } from '../world.ts';
import { denyAtL4, readAuthzSpec, type AuthzSpec, type ParsedRule } from './authz-spec.ts';
import { compare, policyMeta, type PolicyMeta } from './read.ts';
import { namespaceAncestor, policyStatus, REASON, type AncestorOutcome, type AncestorRef } from './status.ts';
import { resolveTargetRefs } from './targets.ts';

/** What translatePolicies is told about waypoint bindings. */
export interface PolicyContext {
  /** The waypoint serving a Service, or undefined when none does (or it is not ready). */
  waypointOf(service: ServiceKey): WaypointBinding | undefined;
}

/** One compiled entry before ids are made unique. */
interface Entry {
  readonly scope: PolicyScope;
  readonly layer: 'L4' | 'L7';
  readonly rules: readonly AuthzRule[];
}

/** A scope with the Services in it that no waypoint serves. */
interface Plan {
  readonly ancestorRef: AncestorRef;
  readonly scope: PolicyScope;
  readonly uncovered: readonly ServiceKey[];
  /** The waypoints serving (part of) the scope, sorted by identity. */
  readonly waypoints: readonly WaypointBinding[];
}

const GROUP = 'policy.waymesh.io';
const MAX_LISTED = 5;

function scopeSuffix(s: PolicyScope): string {
  switch (s.kind) {
    case 'namespace':
      return `namespace/${s.namespace}`;
    case 'service':
      return `service/${s.service.slice(s.service.indexOf('/') + 1)}`;
    case 'waypoint':
      return `waypoint/${s.name}`;
  }
}

/**
 * Services that carry mesh traffic (ExternalName Services have no workloads), of namespace `ns`
 * or of all namespaces, sorted.
 */
function meshServices(world: World, ns?: string): ServiceKey[] {
  return world.services
    .filter(
      (s) =>
        typeof s.metadata?.namespace === 'string' &&
        (ns === undefined || s.metadata.namespace === ns) &&
        typeof s.metadata.name === 'string' &&
        s.spec?.type !== 'ExternalName',
    )
    .map((s) => serviceKey(s.metadata?.namespace ?? '', s.metadata?.name ?? ''))
    .sort(compare);
}

/**
 * The namespaces a mesh-wide policy applies in: every Namespace, and any namespace a Pod or
 * Service names (the root namespace always), sorted.
 */
function meshNamespaces(world: World): string[] {
  const names = new Set<string>([NAMES.rootNamespace]);
  const add = (n: unknown): void => {
    if (typeof n === 'string' && n !== '') names.add(n);
  };
  for (const n of world.namespaces) add(n.metadata?.name);
  for (const p of world.pods) add(p.metadata?.namespace);
  for (const s of world.services) add(s.metadata?.namespace);
  return [...names].sort(compare);
}

function plans(
  world: World,
  ctx: PolicyContext,
  meta: PolicyMeta,
  spec: AuthzSpec,
): { plans: Plan[]; failed: AncestorOutcome[] } {
  const coverage = (
    keys: readonly ServiceKey[],
  ): { uncovered: ServiceKey[]; waypoints: WaypointBinding[] } => {
    const byId = new Map<string, WaypointBinding>();
    const uncovered: ServiceKey[] = [];
    for (const k of keys) {
      const w = ctx.waypointOf(k);
      if (w === undefined) uncovered.push(k);
      else byId.set(w.identity, w);
    }
    const waypoints = [...byId.values()].sort((a, b) => compare(a.identity, b.identity));
    return { uncovered, waypoints };
  };
  if (spec.targetRefs.length === 0 && meta.namespace === NAMES.rootNamespace) {
    const ancestorRef = namespaceAncestor(meta.namespace);
    // One pass over the Services, not one per namespace (thousands of namespaces × Services).
    const byNamespace = new Map<string, ServiceKey[]>();
    for (const key of meshServices(world)) {
      const ns = key.slice(0, key.indexOf('/'));
      const keys = byNamespace.get(ns);
      if (keys === undefined) byNamespace.set(ns, [key]);
      else keys.push(key);
    }
    const out = meshNamespaces(world).map((namespace): Plan => {
      const scope: PolicyScope = { kind: 'namespace', namespace };
      return { ancestorRef, scope, ...coverage(byNamespace.get(namespace) ?? []) };
    });
    return { plans: out, failed: [] };
  }
  if (spec.targetRefs.length === 0) {
    const scope: PolicyScope = { kind: 'namespace', namespace: meta.namespace };
    const ancestorRef = namespaceAncestor(meta.namespace);
    return {
      plans: [{ ancestorRef, scope, ...coverage(meshServices(world, meta.namespace)) }],
      failed: [],
    };
  }
  const out: Plan[] = [];
  const failed: AncestorOutcome[] = [];
  for (const r of resolveTargetRefs(world, meta.namespace, spec.targetRefs, ['Service', 'Gateway'])) {
    if (!r.ok) failed.push({ ancestorRef: r.ancestorRef, reason: r.reason, message: r.message });
    else if (r.target.kind === 'service')
      out.push({
        ancestorRef: r.ancestorRef,
        scope: { kind: 'service', service: r.target.service },
        ...coverage([r.target.service]),
      });
    else if (r.target.kind === 'waypoint')
      out.push({
        ancestorRef: r.ancestorRef,
        scope: { kind: 'waypoint', namespace: r.target.namespace, name: r.target.name },
        uncovered: [],
        waypoints: [],
      });
  }
  return { plans: out, failed };
}

const NONE = { values: [], not: [] } as const;

/** An L4 rule matching traffic forwarded by the given waypoints. */
function fromWaypoints(waypoints: readonly WaypointBinding[]): AuthzRule {
  return {
    from: [{ principals: { values: waypoints.map((w) => w.identity), not: [] }, namespaces: NONE }],
    to: [],
    when: [],
  };
}

/**
 * `rule` as a node agent enforces it where waypoints serve the scope: each `from` entry also
 * excludes the waypoints' identities. The node agent sees a waypoint's identity, not the
 * client's, on traffic the waypoint forwards, and the waypoint has already checked that traffic
 * against the rule with the real client; so a DENY of `namespaces: [<the waypoint's namespace>]`
 * or a `notPrincipals` must not match the waypoint itself. A rule without `from` is left whole:
 * it is about the destination only, which the node agent knows as well.
 */
function exceptWaypoints(rule: AuthzRule, waypoints: readonly WaypointBinding[]): AuthzRule {
  if (rule.from.length === 0) return rule;
  const from = rule.from.map((f) => {
    const extra = waypoints.map((w) => w.identity).filter((id) => !f.principals.not.includes(id));
    return { ...f, principals: { values: f.principals.values, not: [...f.principals.not, ...extra] } };
  });
  return { ...rule, from };
}

/**
 * True when no waypoint serves the scope at all: a Service without one, or a namespace where no
 * Service has one (its workloads are then reached only directly, so L4 fallbacks apply namespace-wide).
 */
function uncoveredScope(plan: Plan): boolean {
  if (plan.scope.kind === 'service') return plan.uncovered.includes(plan.scope.service);
  return plan.scope.kind === 'namespace' && plan.waypoints.length === 0;
}

/** The entries one plan compiles to (see the module comment). */
function compile(plan: Plan, spec: AuthzSpec): Entry[] {
  const allow = spec.action === 'ALLOW';
  // A DENY policy without rules denies nothing; an ALLOW policy without rules allows nothing.
  if (!allow && spec.rules.length === 0) return [];
  const all = spec.rules.map((r) => r.rule);
  const l4 = spec.rules.filter((r) => r.layer === 'L4').map((r) => r.rule);
  const l7 = spec.rules.filter((r) => r.layer === 'L7').map((r) => r.rule);
  const out: Entry[] = [];
  if (plan.scope.kind === 'waypoint') {
    // Aimed at a waypoint: it enforces every rule; its L4 part is the subset it can check on accept.
    out.push({ scope: plan.scope, layer: 'L7', rules: all });
    if (l4.length > 0) out.push({ scope: plan.scope, layer: 'L4', rules: l4 });
    return out;
  }
  if (plan.waypoints.length > 0) out.push({ scope: plan.scope, layer: 'L7', rules: all });
  const scope = plan.scope;
  const selfUncovered = uncoveredScope(plan);
  const nodeRules = allow ? [...l4] : l4.map((r) => exceptWaypoints(r, plan.waypoints));
  if (!allow && selfUncovered) nodeRules.push(...l7.map(denyAtL4));
  if (allow && plan.waypoints.length > 0) nodeRules.push(fromWaypoints(plan.waypoints));
  if (allow || nodeRules.length > 0) out.push({ scope, layer: 'L4', rules: nodeRules });
  // A namespace-wide DENY: its L7 rules become L4 denies on each Service no waypoint serves.
  // (A namespace-wide ALLOW needs nothing more: its L4 part already denies what only L7 rules allow.)
  if (!allow && scope.kind === 'namespace' && !selfUncovered && l7.length > 0)
    for (const service of plan.uncovered)
      out.push({ scope: { kind: 'service', service }, layer: 'L4', rules: l7.map(denyAtL4) });
  return out;
}

function describe(plan: Plan, spec: AuthzSpec): Pick<AncestorOutcome, 'reason' | 'message'> {
  const l7 = spec.rules.filter((r: ParsedRule) => r.layer === 'L7');
  const l4Count = spec.rules.length - l7.length;
  if (spec.rules.length === 0)
    return {
      reason: REASON.accepted,
      message:
        spec.action === 'ALLOW'
          ? 'Accepted: an ALLOW policy without rules allows no request'
          : 'Accepted: a DENY policy without rules denies no request',
    };
  const wholeScope = uncoveredScope(plan);
  if (l7.length > 0 && (wholeScope || plan.uncovered.length > 0)) {
    const listed =
      plan.uncovered.slice(0, MAX_LISTED).join(', ') + (plan.uncovered.length > MAX_LISTED ? ', …' : '');
    const where =
      wholeScope && plan.scope.kind === 'namespace'
        ? `any Service of namespace ${plan.scope.namespace}`
        : `Service ${listed}`;
    const which = l7.map((r) => `spec.rules[${r.index}]`).join(', ');
    const then =
      spec.action === 'DENY'
        ? 'until then those rules deny their sources at L4 for every request (stricter)'
        : 'until then the policy is enforced at L4 without them, so requests only they would allow are denied';
    return {
      reason: REASON.invalid,
      message:
        `${which} use methods, paths, hosts or headers, which only a waypoint can enforce, and no waypoint serves ` +
        `${where} (label it ${NAMES.useWaypointLabel}=<gateway>); ${then}`,
    };
  }
  const rules = `${l4Count} L4 and ${l7.length} L7 rule(s)`;
  if (plan.scope.kind === 'waypoint')
    return { reason: REASON.accepted, message: `Accepted: ${rules}, enforced by this waypoint` };
  const names = plan.waypoints.map((w) => `${w.gateway.namespace}/${w.gateway.name}`).join(', ');
  return {
    reason: REASON.accepted,
    message:
      names === ''
        ? `Accepted: ${rules}, enforced by node agents`
        : `Accepted: ${rules}, enforced by waypoint ${names}; node agents enforce the L4 rules on traffic that bypasses it`,
  };
}

/** True for a policy of the root namespace without targetRefs (see the module comment). */
function meshWide(meta: PolicyMeta, spec: AuthzSpec): boolean {
  return meta.namespace === NAMES.rootNamespace && spec.targetRefs.length === 0;
}

/**
 * The one outcome of a mesh-wide policy (ancestor: the root namespace): `Invalid` naming the
 * namespaces where its L7 rules have no waypoint, else `Accepted` with who enforces it.
 */
function describeMeshWide(ps: readonly Plan[], spec: AuthzSpec): AncestorOutcome {
  const ancestorRef = namespaceAncestor(NAMES.rootNamespace);
  const each = ps.map((p) => ({ plan: p, outcome: describe(p, spec) }));
  const namespaceOf = (p: Plan): string => (p.scope.kind === 'namespace' ? p.scope.namespace : '');
  const list = (items: readonly string[]): string =>
    items.slice(0, MAX_LISTED).join(', ') + (items.length > MAX_LISTED ? `, … (${items.length})` : '');
  const where = `mesh-wide (root namespace ${NAMES.rootNamespace}), in ${ps.length} namespace(s)`;
  const bad = each.filter((e) => e.outcome.reason !== REASON.accepted);
  const first = bad[0];
  if (first !== undefined) {
    return {
      ancestorRef,
      reason: first.outcome.reason,
      message: `${where}; in ${list(bad.map((e) => namespaceOf(e.plan)))}: ${first.outcome.message}`,
    };
  }
  const empty = each[0]?.outcome.message;
  if (spec.rules.length === 0 && empty !== undefined)
    return { ancestorRef, reason: REASON.accepted, message: `${empty}, ${where}` };
  const l7 = spec.rules.filter((r) => r.layer === 'L7').length;
  const byWaypoint = ps.filter((p) => p.waypoints.length > 0).map(namespaceOf);
  const served = byWaypoint.length === 0 ? '' : `; waypoints enforce every rule in ${list(byWaypoint)}`;
  return {
    ancestorRef,
    reason: REASON.accepted,
    message: `Accepted: ${spec.rules.length - l7} L4 and ${l7} L7 rule(s), ${where}: node agents enforce the L4 rules${served}`,
  };
}

/** Ancestors for a policy whose spec is invalid: its targets as written, or its namespace. */
function ancestorsOfInvalid(
  world: World,
  meta: PolicyMeta,
  spec: Readonly<Record<string, unknown>> | undefined,
): AncestorRef[] {
  const refs = spec?.['targetRefs'];
  if (!Array.isArray(refs) || refs.length === 0) return [namespaceAncestor(meta.namespace)];
  return resolveTargetRefs(world, meta.namespace, refs as unknown[], ['Service', 'Gateway']).map(
    (r) => r.ancestorRef,
  );
}

/**
 * What a rejected spec is enforced as until it is fixed, so that a bad edit never opens access
 * (dropping it could leave its scope with no ALLOW policy at all): an ALLOW policy allows nothing,
 * a DENY policy (or an unknown action) denies every request, in the scopes its targetRefs resolve
 * to — the whole namespace when they are absent or not a list.
 */
function failClosed(spec: Readonly<Record<string, unknown>> | undefined): AuthzSpec {
  const refs = spec?.['targetRefs'];
  const targetRefs: readonly unknown[] = Array.isArray(refs) ? refs : [];
  if ((spec?.['action'] ?? 'ALLOW') === 'ALLOW') return { action: 'ALLOW', targetRefs, rules: [] };
  const matchAll: ParsedRule = { index: 0, rule: { from: [], to: [], when: [] }, layer: 'L4' };
  return { action: 'DENY', targetRefs, rules: [matchAll] };
}

/** Compiles every AuthorizationPolicy; sorted output, one status per policy. */
export function translateAuthorization(
  world: World,
  ctx: PolicyContext,
): { authorization: AuthorizationPolicy[]; statuses: ObjectStatus[] } {
  const authorization: AuthorizationPolicy[] = [];
  const statuses: ObjectStatus[] = [];
  for (const o of world.authorizationPolicies) {
    const meta = policyMeta(o);
    if (meta === undefined) continue;
    const source: SourceRef = {
      group: GROUP,
      kind: 'AuthorizationPolicy',
      namespace: meta.namespace,
      name: meta.name,
    };
    const parsed = readAuthzSpec(o.spec);
    const spec = parsed.ok ? parsed.value : failClosed(o.spec);
    const { plans: ps, failed } = plans(world, ctx, meta, spec);
    const entries = ps.flatMap((p) => compile(p, spec));
    const base = `authorizationpolicy/${meta.namespace}/${meta.name}`;
    for (const e of entries) {
      const shared = entries.filter((x) => x.layer === e.layer).length > 1;
      authorization.push({
        id: shared ? `${base}/${scopeSuffix(e.scope)}` : base,
        source,
        scope: e.scope,
        action: spec.action,
        layer: e.layer,
        rules: e.rules,
      });
    }
    if (!parsed.ok) {
      const meanwhile = spec.action === 'ALLOW' ? 'allows no request' : 'denies every request';
      const message = `${parsed.field}: ${parsed.message}; until it is fixed the policy ${meanwhile}`;
      const outcomes = ancestorsOfInvalid(world, meta, o.spec).map((ancestorRef) => ({
        ancestorRef,
        reason: REASON.invalid,
        message,
      }));
      statuses.push(policyStatus(source, outcomes, meta.generation));
      continue;
    }
    const outcomes: AncestorOutcome[] = meshWide(meta, spec)
      ? [describeMeshWide(ps, spec)]
      : ps.map((p) => ({ ancestorRef: p.ancestorRef, ...describe(p, spec) }));
    statuses.push(policyStatus(source, [...outcomes, ...failed], meta.generation));
  }
  authorization.sort((a, b) => compare(a.id, b.id) || compare(a.layer, b.layer));
  return { authorization, statuses };
}
