/**
 * What happens after an entry matched: the weighted backend choice and, for the chosen backend,
 * the precomputed forward plan (rewrites, header edit lists, mirrors). Everything constant per
 * (entry, backend) — edit lists, invalid-backend decisions — is built once at compile time.
 */
import type {
  HeaderEdits,
  InvalidBackend,
  ResolvedBackend,
  RouteEntry,
  RouteFilter,
} from '../../common/ir/routes.ts';
import { fieldBytes } from './field-bytes.ts';
import { withQuery } from './paths.ts';
import { PathPlan, RedirectPlan } from './redirect.ts';
import type {
  MirrorTarget,
  Random,
  RouteDecision,
  RouteRequest,
  RouteTarget,
  UpstreamRequest,
} from './types.ts';

const NO_MIRRORS: readonly MirrorTarget[] = Object.freeze([]);

/** A RequestMirror filter's backend and share. */
interface MirrorPlan {
  readonly backend: ResolvedBackend;
  readonly fraction: number;
}

function edits(f: HeaderEdits): HeaderEdits {
  const bytes = (e: { name: string; value: string }): { name: string; value: string } => ({
    name: e.name,
    value: fieldBytes(e.value),
  });
  return { set: f.set.map(bytes), add: f.add.map(bytes), remove: f.remove };
}

/** Rule filters split by kind; per-backend filters are folded in by {@link ForwardPlan}. */
export class FilterSet {
  readonly requestEdits: HeaderEdits[] = [];
  readonly responseEdits: HeaderEdits[] = [];
  readonly mirrors: MirrorPlan[] = [];
  rewriteHost: string | undefined;
  rewritePath: PathPlan | undefined;
  redirect: RedirectPlan | undefined;

  /** Adds `filters` in order; throws a MeshError for a prefix rewrite the match cannot support. */
  add(filters: readonly RouteFilter[], prefix: string | undefined): this {
    for (const f of filters) {
      switch (f.type) {
        case 'RequestHeaderModifier':
          this.requestEdits.push(edits(f));
          break;
        case 'ResponseHeaderModifier':
          this.responseEdits.push(edits(f));
          break;
        case 'RequestMirror':
          if (f.fraction > 0) this.mirrors.push({ backend: f.backend, fraction: f.fraction });
          break;
        case 'URLRewrite':
          // A backend's URLRewrite overrides the rule's field by field (the more specific wins).
          if (f.hostname !== undefined) this.rewriteHost = f.hostname;
          if (f.path !== undefined) this.rewritePath = PathPlan.of(f.path, prefix, 'URLRewrite');
          break;
        default:
          this.redirect = new RedirectPlan(f, prefix);
          break;
      }
    }
    return this;
  }

  /** A copy, so per-backend filters extend the rule's without touching them. */
  clone(): FilterSet {
    const c = new FilterSet();
    c.requestEdits.push(...this.requestEdits);
    c.responseEdits.push(...this.responseEdits);
    c.mirrors.push(...this.mirrors);
    c.rewriteHost = this.rewriteHost;
    c.rewritePath = this.rewritePath;
    c.redirect = this.redirect;
    return c;
  }
}

/** How to forward (or redirect) a request to one resolved backend of an entry. */
export class ForwardPlan {
  private readonly requestEdits: readonly HeaderEdits[];
  private readonly responseEdits: readonly HeaderEdits[];
  private readonly mirrors: readonly MirrorPlan[];
  private readonly rewriteHost: string | undefined;
  private readonly rewritePath: PathPlan | undefined;
  private readonly redirect: RedirectPlan | undefined;

  constructor(
    private readonly entry: RouteEntry,
    private readonly backend: ResolvedBackend,
    filters: FilterSet,
  ) {
    this.requestEdits = Object.freeze(filters.requestEdits);
    this.responseEdits = Object.freeze(filters.responseEdits);
    this.mirrors = Object.freeze(filters.mirrors);
    this.rewriteHost = filters.rewriteHost;
    this.rewritePath = filters.rewritePath;
    this.redirect = filters.redirect;
  }

  /** The decision for `req`; `random` is drawn once per mirror whose fraction is in (0, 1). */
  decide(target: RouteTarget, req: RouteRequest, random: Random): RouteDecision {
    if (this.redirect !== undefined)
      return redirectDecision(this.entry, this.redirect, this.responseEdits, target, req);
    const path = this.rewritePath === undefined ? req.path : this.rewritePath.apply(req.path);
    const request: UpstreamRequest = {
      pathAndQuery: withQuery(path, req.query),
      authority: this.rewriteHost ?? req.authority,
      headerEdits: this.requestEdits,
    };
    let mirrors: MirrorTarget[] | undefined;
    for (const m of this.mirrors) {
      if (m.fraction < 1 && random() >= m.fraction) continue;
      (mirrors ??= []).push({ backend: m.backend, request });
    }
    return {
      kind: 'forward',
      entry: this.entry,
      backend: this.backend,
      request,
      responseEdits: this.responseEdits,
      mirrors: mirrors ?? NO_MIRRORS,
      timeouts: this.entry.timeouts,
      retry: this.entry.retry,
    };
  }
}

/** A redirect decision (rule-level or a chosen backend's RequestRedirect). */
export function redirectDecision(
  entry: RouteEntry,
  plan: RedirectPlan,
  responseEdits: readonly HeaderEdits[],
  target: RouteTarget,
  req: RouteRequest,
): RouteDecision {
  return {
    kind: 'redirect',
    entry,
    status: plan.status,
    location: plan.location(target, req),
    responseEdits,
  };
}

/** One backend with a positive weight, and the running weight total up to and including it. */
interface Weighted {
  readonly upTo: number;
  readonly plan: ForwardPlan | RouteDecision;
}

/**
 * The weighted choice over an entry's backends, invalid ones included with their weights
 * (requests that fall on them get 500, as the spec asks). Weight 0 is never chosen; with no
 * positive weight at all the entry answers 500 through a synthesized InvalidBackend.
 */
export class BackendChoice {
  private readonly weighted: readonly Weighted[];
  private readonly total: number;
  private readonly none: RouteDecision | undefined;

  constructor(entry: RouteEntry, rule: FilterSet, prefix: string | undefined) {
    const weighted: Weighted[] = [];
    let total = 0;
    for (const b of entry.backends) {
      if (!(b.weight > 0)) continue;
      total += b.weight;
      weighted.push({ upTo: total, plan: plan(entry, b, rule, prefix) });
    }
    this.weighted = weighted;
    this.total = total;
    this.none =
      weighted.length > 0
        ? undefined
        : invalid(
            entry,
            entry.backends.length === 0 ? 'the rule has no backendRefs' : 'all backends have weight 0',
          );
  }

  /** The chosen backend's plan (or fixed decision); draws `random` only with two or more candidates. */
  choose(random: Random): ForwardPlan | RouteDecision {
    if (this.none !== undefined) return this.none;
    const w = this.weighted;
    if (w.length === 1) return (w[0] as Weighted).plan;
    const r = random() * this.total;
    for (const c of w) if (r < c.upTo) return c.plan;
    // random() is in [0, 1); this covers a source that returns 1.
    return (w[w.length - 1] as Weighted).plan;
  }
}

function invalid(entry: RouteEntry, reason: string): RouteDecision {
  const backend: InvalidBackend = { kind: 'invalid', weight: 0, reason };
  return Object.freeze({ kind: 'invalid-backend', entry, backend });
}

function plan(
  entry: RouteEntry,
  b: ResolvedBackend | InvalidBackend,
  rule: FilterSet,
  prefix: string | undefined,
): ForwardPlan | RouteDecision {
  if (b.kind === 'invalid') return Object.freeze({ kind: 'invalid-backend', entry, backend: b });
  return new ForwardPlan(entry, b, rule.clone().add(b.filters, prefix));
}
