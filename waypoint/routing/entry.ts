/**
 * One compiled route entry: its matcher and what to do once it matched (a rule-level redirect,
 * or the weighted backend choice with per-backend plans). Built once per snapshot.
 */
import type { HeaderEdits, RouteEntry } from '../../common/ir/routes.ts';
import { BackendChoice, FilterSet, ForwardPlan, redirectDecision } from './backends.ts';
import type { Matcher } from './match.ts';
import { compileMatch } from './match.ts';
import type { RedirectPlan } from './redirect.ts';
import type { Random, RouteDecision, RouteRequest, RouteTarget } from './types.ts';

/** A route entry ready for first-match evaluation. */
export class CompiledEntry {
  /** The compiled match; the router calls it directly in its first-match loop. */
  readonly matcher: Matcher;
  private readonly redirect: RedirectPlan | undefined;
  private readonly responseEdits: readonly HeaderEdits[];
  private readonly choice: BackendChoice | undefined;

  /** Compiles `entry`; throws a MeshError (bad regex, prefix rewrite without PathPrefix). */
  constructor(readonly entry: RouteEntry) {
    this.matcher = compileMatch(entry.match);
    const rule = new FilterSet().add(entry.filters, this.matcher.prefix);
    this.redirect = rule.redirect;
    this.responseEdits = Object.freeze([...rule.responseEdits]);
    // A rule-level redirect answers every matching request, so its backends are never used
    // (the controller refuses redirect + backendRefs; this keeps the waypoint's answer defined).
    this.choice =
      this.redirect === undefined ? new BackendChoice(entry, rule, this.matcher.prefix) : undefined;
  }

  /** The decision for a request that matched. */
  decide(target: RouteTarget, req: RouteRequest, random: Random): RouteDecision {
    if (this.choice === undefined)
      return redirectDecision(this.entry, this.redirect as RedirectPlan, this.responseEdits, target, req);
    const chosen = this.choice.choose(random);
    return chosen instanceof ForwardPlan ? chosen.decide(target, req, random) : chosen;
  }
}
