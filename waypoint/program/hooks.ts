/**
 * The HTTP engine's hooks, wired to the waypoint's parts: authorization (compiled policies of the
 * current snapshot), rate limiting (RateLimiter, when Redis is configured), metrics and the
 * structured access log (one line per request).
 */
import type { Logger } from '../../common/log.ts';
import type { RateLimit } from '../../common/ir/policy.ts';
import type {
  AuthzDecision,
  EngineHooks,
  RateLimitDecision,
  RequestDone,
  RequestInfo,
} from '../http/index.ts';
import { rateLimitHeaders, type RateLimiter } from '../ratelimit/index.ts';
import { sourceId } from '../../common/ir/source.ts';
import type { WaypointMetrics } from '../metrics.ts';
import { limitsOf, type GatewayRef, type WaypointConfig } from './config.ts';
import { tracingHooks, type TraceHooks } from './trace-hooks.ts';
import { accessMembers } from './access-log.ts';
import type { Tracing } from '../telemetry/tracing.ts';

/** What the hooks need. */
export interface HookDeps {
  readonly gateway: GatewayRef;
  readonly config: () => WaypointConfig;
  readonly limiter: RateLimiter | undefined;
  readonly tracing: Tracing;
  readonly metrics: WaypointMetrics;
  /** Receives one `request` line per request. */
  readonly accessLog: Logger;
}

const ZERO = (): number => 0;

/** The policy id (`ratelimitpolicy/<ns>/<name>`) of a limit id (`…/limit/<i>`). */
function policyOf(limitId: string): string {
  const cut = limitId.lastIndexOf('/limit/');
  return cut < 0 ? limitId : limitId.slice(0, cut);
}

/** The limits that apply to `info`: the Service's, plus those of the route the request matches. */
function applicable(config: WaypointConfig, info: RequestInfo): readonly RateLimit[] {
  const limits = limitsOf(config, info.target.service);
  if (limits.routes.size === 0) return limits.service;
  // Which route matches does not depend on the weighted draw, so a fixed draw finds it.
  const target = {
    service: info.target.service,
    port: info.target.port,
    sourceNamespace: info.sourceNamespace,
  };
  const decision = config.engine.router.decide(target, info, ZERO);
  if (!('entry' in decision)) return limits.service;
  const byRoute = limits.routes.get(sourceId(decision.entry.route));
  return byRoute === undefined ? limits.service : [...limits.service, ...byRoute];
}

/** Builds the engine hooks. */
export function createHooks(deps: HookDeps): EngineHooks {
  const { gateway, limiter, metrics, accessLog } = deps;
  const trace: TraceHooks = tracingHooks(deps.tracing);
  const authorize = (info: RequestInfo): AuthzDecision => {
    const d = deps.config().authz.evaluate({
      service: info.target.service,
      waypoint: gateway,
      principal: info.sourceIdentity,
      namespace: info.sourceNamespace,
      method: info.method,
      path: info.path,
      host: info.authority,
      port: info.target.port,
      header: (name) => info.header(name),
    });
    return { allowed: d.allowed, policy: d.policy ?? '', reason: d.reason };
  };
  const rateLimit = (info: RequestInfo): Promise<RateLimitDecision> | undefined => {
    if (limiter === undefined) return undefined;
    const limits = applicable(deps.config(), info);
    if (limits.length === 0) return undefined;
    return limiter
      .check(limits, { source: info.sourceIdentity, header: (name) => info.header(name) })
      .then((d) => ({
        allowed: d.allowed,
        policy: d.limitId === undefined ? '' : policyOf(d.limitId),
        headers: Object.fromEntries(rateLimitHeaders(d)),
      }));
  };
  const onRequestDone = (done: RequestDone): void => {
    metrics.requestDone(done);
    accessLog.info('request', accessMembers(done));
  };
  return { authorize, rateLimit, ...trace, onRequestDone };
}
