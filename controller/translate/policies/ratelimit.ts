/**
 * RateLimitPolicy → IR. Each limit of each target becomes one RateLimit, enforced by the
 * waypoints serving the target (a Service, or the Services an HTTPRoute attaches to) with a
 * shared Redis budget keyed by the limit's id.
 *
 * Conflicts (GEP-713): two policies on the same target conflict when they set different
 * `requests` for the same key and unit; the older policy (creationTimestamp, then
 * namespace/name) wins and the newer gets `Accepted=False/Conflicted` for that target.
 *
 * Ids are `ratelimitpolicy/<ns>/<name>/limit/<i>`; a policy with several targetRefs appends
 * `/<service|httproute>/<name>` so each target keeps its own budget.
 */
import type {
  ObjectStatus,
  RateLimit,
  RateLimitKey,
  ServiceKey,
  SourceRef,
} from '../../../common/ir/index.ts';
import { NAMES, type World } from '../world.ts';
import type { PolicyContext } from './authz.ts';
import { compare, invalid, obj, ok, olderFirst, optionalList, policyMeta, str, type Result } from './read.ts';
import { namespaceAncestor, policyStatus, REASON, type AncestorOutcome } from './status.ts';
import { resolveTargetRefs, type Target } from './targets.ts';
import { headerName } from './validate.ts';

const GROUP = 'policy.waymesh.io';
const PERIOD = { Second: 1, Minute: 60, Hour: 3600 } as const;
/** Upper bound on `requests`, as in the CRD schema. */
export const MAX_REQUESTS = 1_000_000_000;

/** A validated limit. */
interface Limit {
  readonly requests: number;
  readonly unit: keyof typeof PERIOD;
  readonly key: RateLimitKey;
}

function keyText(k: RateLimitKey): string {
  return k.type === 'header' ? `Header ${k.name}` : k.type === 'source' ? 'Source' : 'Target';
}

function readKey(v: unknown, field: string): Result<RateLimitKey> {
  if (v === undefined || v === null) return ok({ type: 'target' });
  const o = obj(v);
  if (o === undefined) return invalid(field, 'must be an object');
  const type = o['type'] ?? 'Target';
  const header = o['header'];
  if (type !== 'Header' && header !== undefined && header !== null)
    return invalid(`${field}.header`, 'is only valid with type Header');
  if (type === 'Source') return ok({ type: 'source' });
  if (type === 'Target') return ok({ type: 'target' });
  if (type !== 'Header')
    return invalid(`${field}.type`, `${JSON.stringify(type)} is not supported; use Source, Header or Target`);
  const name = headerName(str(header) ?? '');
  return typeof name === 'string'
    ? ok({ type: 'header', name })
    : invalid(`${field}.header`, `required with type Header: ${name.error}`);
}

function readLimits(spec: Readonly<Record<string, unknown>> | undefined): Result<Limit[]> {
  const items = optionalList(spec?.['limits'], 'spec.limits');
  if (!items.ok) return items;
  if (items.value.length === 0) return invalid('spec.limits', 'must list at least one limit');
  const out: Limit[] = [];
  for (const [i, raw] of items.value.entries()) {
    const field = `spec.limits[${i}]`;
    const o = obj(raw);
    if (o === undefined) return invalid(field, 'must be an object');
    const requests = o['requests'];
    if (
      typeof requests !== 'number' ||
      !Number.isInteger(requests) ||
      requests < 1 ||
      requests > MAX_REQUESTS
    )
      return invalid(`${field}.requests`, `must be an integer from 1 to ${MAX_REQUESTS}`);
    const unit = o['unit'];
    if (unit !== 'Second' && unit !== 'Minute' && unit !== 'Hour')
      return invalid(`${field}.unit`, `${JSON.stringify(unit)} is not supported; use Second, Minute or Hour`);
    const key = readKey(o['key'], `${field}.key`);
    if (!key.ok) return key;
    out.push({ requests, unit, key: key.value });
  }
  return ok(out);
}

/** A resolved target as a rate limit sees it: the IR target, the Services whose waypoints enforce it. */
interface LimitTarget {
  readonly ir: RateLimit['target'];
  readonly services: readonly ServiceKey[];
  /** `Service <ns>/<name>` or `HTTPRoute <ns>/<name>`: the conflict key and the status wording. */
  readonly label: string;
  /** The id suffix used when a policy has several targets. */
  readonly suffix: string;
}

function limitTarget(t: Exclude<Target, { kind: 'waypoint' }>): LimitTarget {
  if (t.kind === 'service')
    return {
      ir: { kind: 'service', service: t.service },
      services: [t.service],
      label: `Service ${t.service}`,
      suffix: `service/${t.name}`,
    };
  return {
    ir: { kind: 'route', route: t.route },
    services: t.parents,
    label: `HTTPRoute ${t.route.namespace}/${t.route.name}`,
    suffix: `httproute/${t.route.name}`,
  };
}

/** The first limit of `mine` that conflicts with one of `theirs`, with the one it conflicts with. */
function conflict(mine: readonly Limit[], theirs: readonly Limit[]): [Limit, Limit] | undefined {
  for (const a of mine) {
    const b = theirs.find(
      (x) => x.unit === a.unit && keyText(x.key) === keyText(a.key) && x.requests !== a.requests,
    );
    if (b !== undefined) return [a, b];
  }
  return undefined;
}

/** Compiles every RateLimitPolicy, resolving conflicts oldest-first; sorted output. */
export function translateRateLimits(
  world: World,
  ctx: PolicyContext,
): { rateLimits: RateLimit[]; statuses: ObjectStatus[] } {
  const rateLimits: RateLimit[] = [];
  const statuses: ObjectStatus[] = [];
  const winners = new Map<string, { readonly who: string; readonly limits: readonly Limit[] }[]>();
  const policies = world.rateLimitPolicies
    .map((o) => ({ o, meta: policyMeta(o) }))
    .filter((p) => p.meta !== undefined)
    .sort((a, b) => (a.meta && b.meta ? olderFirst(a.meta, b.meta) : 0));
  for (const { o, meta } of policies) {
    if (meta === undefined) continue;
    const source: SourceRef = {
      group: GROUP,
      kind: 'RateLimitPolicy',
      namespace: meta.namespace,
      name: meta.name,
    };
    const refs = optionalList(o.spec?.['targetRefs'], 'spec.targetRefs');
    const resolved = refs.ok
      ? resolveTargetRefs(world, meta.namespace, refs.value, ['HTTPRoute', 'Service'])
      : [];
    const limits = readLimits(o.spec);
    const problem = !refs.ok
      ? `${refs.field}: ${refs.message}`
      : resolved.length === 0
        ? 'spec.targetRefs: must list at least one HTTPRoute or Service'
        : !limits.ok
          ? `${limits.field}: ${limits.message}`
          : undefined;
    if (problem !== undefined || !limits.ok) {
      const ancestors =
        resolved.length > 0 ? resolved.map((r) => r.ancestorRef) : [namespaceAncestor(meta.namespace)];
      const outcomes = ancestors.map((ancestorRef) => ({
        ancestorRef,
        reason: REASON.invalid,
        message: problem ?? '',
      }));
      statuses.push(policyStatus(source, outcomes, meta.generation));
      continue;
    }
    const outcomes: AncestorOutcome[] = [];
    const who = `${meta.namespace}/${meta.name}`;
    for (const r of resolved) {
      // Only HTTPRoute and Service targets are resolved here; a waypoint never comes back.
      if (!r.ok || r.target.kind === 'waypoint') {
        if (!r.ok) outcomes.push({ ancestorRef: r.ancestorRef, reason: r.reason, message: r.message });
        continue;
      }
      const t = limitTarget(r.target);
      const waypoints = [
        ...new Set(
          t.services.flatMap((s) => {
            const w = ctx.waypointOf(s);
            return w === undefined ? [] : [`${w.gateway.namespace}/${w.gateway.name}`];
          }),
        ),
      ].sort(compare);
      if (waypoints.length === 0) {
        outcomes.push({
          ancestorRef: r.ancestorRef,
          reason: REASON.invalid,
          message:
            t.services.length === 0
              ? `rate limits are enforced by waypoints and ${t.label} has no Service parentRefs (group "", kind Service)`
              : `rate limits are enforced by waypoints and no waypoint serves ${t.label} ` +
                `(label the Service ${NAMES.useWaypointLabel}=<gateway>)`,
        });
        continue;
      }
      const tkey = t.label;
      const earlier = winners.get(tkey) ?? [];
      const clash = earlier
        .map((w) => ({ w, c: conflict(limits.value, w.limits) }))
        .find((x) => x.c !== undefined);
      if (clash?.c !== undefined) {
        const [mine, theirs] = clash.c;
        outcomes.push({
          ancestorRef: r.ancestorRef,
          reason: REASON.conflicted,
          message:
            `conflicts with the older RateLimitPolicy ${clash.w.who}, which wins: it sets ${theirs.requests} requests per ` +
            `${theirs.unit} keyed by ${keyText(theirs.key)}, this policy ${mine.requests}`,
        });
        continue;
      }
      winners.set(tkey, [...earlier, { who, limits: limits.value }]);
      const base = `ratelimitpolicy/${meta.namespace}/${meta.name}`;
      const suffix = resolved.length > 1 ? `/${t.suffix}` : '';
      for (const [i, l] of limits.value.entries()) {
        rateLimits.push({
          id: `${base}/limit/${i}${suffix}`,
          source,
          target: t.ir,
          requests: l.requests,
          periodSeconds: PERIOD[l.unit],
          key: l.key,
        });
      }
      outcomes.push({
        ancestorRef: r.ancestorRef,
        reason: REASON.accepted,
        message: `Accepted: ${limits.value.length} limit(s) enforced by waypoint ${waypoints.join(', ')}`,
      });
    }
    statuses.push(policyStatus(source, outcomes, meta.generation));
  }
  rateLimits.sort((a, b) => compare(a.id, b.id));
  statuses.sort((a, b) =>
    compare(`${a.source.namespace}/${a.source.name}`, `${b.source.namespace}/${b.source.name}`),
  );
  return { rateLimits, statuses };
}
