/**
 * The waypoint part of `waymesh x explain`: what the waypoint serving the destination Service does
 * with the request, in its own order (handler.ts): L7 authorization, rate limits, then the route
 * decision of its compiled snapshot. Weighted splits are shown whole: `decide()` runs once per
 * backend with a fixed draw inside that backend's share.
 */
import type { MeshService, RouteEntry, Workload } from '../common/ir/index.ts';
import { sourceId } from '../common/ir/source.ts';
import { waypointKey } from '../controller/snapshots/index.ts';
import type { WaypointPlan } from '../node-agent/state/index.ts';
import { compileAuthz } from '../waypoint/policy/authz.ts';
import { compileRouter, type RouteDecision, type RouteRequest } from '../waypoint/routing/index.ts';
import { EngineErrorCode } from '../waypoint/http/status.ts';
import { endpointViews, type SimContext } from './explain-context.ts';
import type { ExplainRequest } from './explain-request.ts';
import {
  edgeOutcome,
  objectRef,
  policyRef,
  type BackendView,
  type ExplainStep,
  type Explanation,
} from './explain-model.ts';
import { summarize, waypointLimits, withFailure } from './explain-split.ts';

/** What the waypoint part adds to the explanation. */
export type WaypointResult = Pick<Explanation, 'waypoint' | 'route' | 'backends' | 'outcome'>;

function routeRequest(req: ExplainRequest): RouteRequest {
  const headers = req.headers;
  return {
    method: req.method,
    path: req.path,
    query: req.query,
    authority: req.authority,
    header: (name) => headers[name],
  };
}

/** Explains the waypoint hop of `plan` for `req` from `src`; appends its steps to `steps`. */
export function explainWaypoint(
  ctx: SimContext,
  req: ExplainRequest,
  src: Workload,
  plan: WaypointPlan,
  steps: ExplainStep[],
): WaypointResult {
  const gw = plan.waypoint.gateway;
  const waypoint = `Gateway/${gw.namespace}/${gw.name}`;
  const service = plan.service;
  const grpc = req.grpc !== undefined;
  const snapshot = ctx.snapshots.waypoints.get(waypointKey(gw));
  if (snapshot === undefined) {
    return {
      waypoint,
      backends: [],
      outcome: {
        result: 'refused',
        reason: `${waypoint} has no configuration; it refuses the tunnel (503)`,
        status: 503,
      },
    };
  }
  const svcPort = service.ports.find((p) => p.port === req.port);
  if (svcPort?.appProtocol === 'tcp') {
    steps.push({
      step: 'waypoint',
      object: objectRef(service.source),
      text: `port ${req.port} declares appProtocol tcp: the waypoint relays bytes to an endpoint; routes and L7 policies do not apply`,
    });
    const backend = serviceBackend(ctx, service, req.port, plan.expectedIdentity, 100);
    return { waypoint, backends: [backend], outcome: summarize([backend], grpc) };
  }
  const target = { service: service.key, port: req.port, sourceNamespace: src.namespace };
  const view = routeRequest(req);

  const authz = compileAuthz(snapshot.policies).evaluate({
    service: service.key,
    waypoint: gw,
    principal: src.identity,
    namespace: src.namespace,
    method: req.method,
    path: req.path,
    host: req.authority,
    port: req.port,
    header: (name) => req.headers[name],
  });
  const authzObject = authz.policy === undefined ? undefined : policyRef(authz.policy);
  const authzText: Record<typeof authz.reason, string> = {
    'deny-matched': 'a DENY rule matches: denied',
    'allow-matched': 'an ALLOW rule matches: allowed',
    'allow-unmatched': 'ALLOW policies apply and none of their rules matches: denied',
    'no-allow-policy': 'no AuthorizationPolicy denies it and none requires an ALLOW match: allowed',
  };
  steps.push({
    step: 'authz',
    ...(authzObject === undefined ? {} : { object: authzObject }),
    text: `L7 authorization for ${src.identity}: ${authzText[authz.reason]}`,
  });
  if (!authz.allowed) {
    const why = authzObject ?? 'the ALLOW policies of the service, its namespace and the waypoint';
    return {
      waypoint,
      backends: [],
      outcome: { result: 'denied', ...edgeOutcome(EngineErrorCode.DENIED, grpc), reason: `denied by ${why}` },
    };
  }

  const router = compileRouter(snapshot);
  const table = snapshot.routes.find((t) => t.service === service.key && t.port === req.port);
  const consumer = table?.consumers[src.namespace];
  if (table !== undefined) {
    const entries = consumer ?? table.producer;
    const routes = [...new Set(entries.map((e) => objectRef(e.route)))];
    steps.push({
      step: 'route',
      text:
        (consumer !== undefined
          ? `consumer routes of namespace ${src.namespace} apply (GEP-1294), not the producer's`
          : `the producer routes of ${service.key} apply`) +
        `: ${routes.join(', ') || 'none'} (${entries.length} match entries, first match wins)`,
    });
    for (const e of router.errors.filter((x) => x.table === `${service.key}:${req.port}`))
      steps.push({
        step: 'route',
        text: `entry ${e.entryId} is dropped by the waypoint: ${e.error.message}`,
      });
  }
  const first = router.decide(target, view, () => 0);
  const entry = 'entry' in first ? first.entry : undefined;
  for (const s of waypointLimits(snapshot.rateLimits, service.key, entry, src.identity, view)) steps.push(s);
  return {
    waypoint,
    ...routeOutcome(ctx, req, plan, first, (r) => router.decide(target, view, () => r), steps),
  };
}

function serviceBackend(
  ctx: SimContext,
  service: MeshService,
  port: number,
  peer: string,
  share: number,
  pathAndQuery?: string,
): BackendView {
  const endpoints = endpointViews(ctx, service, port, peer);
  return withFailure({
    service: service.key,
    port,
    share,
    ...(pathAndQuery === undefined ? {} : { pathAndQuery }),
    endpoints,
  });
}

function routeOutcome(
  ctx: SimContext,
  req: ExplainRequest,
  plan: WaypointPlan,
  first: RouteDecision,
  decideAt: (r: number) => RouteDecision,
  steps: ExplainStep[],
): Omit<WaypointResult, 'waypoint'> {
  const grpc = req.grpc !== undefined;
  const peer = plan.waypoint.identity;
  const pathAndQuery = req.query === '' ? req.path : `${req.path}?${req.query}`;
  switch (first.kind) {
    case 'passthrough': {
      steps.push({
        step: 'route',
        object: objectRef(plan.service.source),
        text: `no HTTPRoute or GRPCRoute is attached to port ${req.port}: the waypoint forwards to the Service unchanged`,
      });
      const b = serviceBackend(ctx, plan.service, req.port, peer, 100, pathAndQuery);
      return { backends: [b], outcome: summarize([b], grpc) };
    }
    case 'no-match': {
      const reason = `no rule of the routes attached to ${plan.service.key} port ${req.port} matches ${req.method} ${req.path}`;
      steps.push({ step: 'route', text: `${reason}: the waypoint answers 404` });
      return {
        backends: [],
        outcome: { result: 'no-route', ...edgeOutcome(EngineErrorCode.NO_ROUTE, grpc), reason },
      };
    }
    case 'redirect':
      steps.push(ruleStep(first.entry, 'matches'));
      return {
        route: routeOf(first.entry),
        backends: [],
        outcome: {
          result: 'redirected',
          status: first.status,
          reason: `RequestRedirect to ${first.location}`,
        },
      };
    default:
      break;
  }
  const entry = first.entry;
  steps.push(ruleStep(entry, 'matches'));
  for (const f of entry.filters) {
    if (f.type === 'RequestMirror')
      steps.push({
        step: 'route',
        text: `mirrors ${Math.round(f.fraction * 1000) / 10}% to ${f.backend.service}:${f.backend.port}`,
      });
    else steps.push({ step: 'route', text: `filter ${f.type}` });
  }
  if (entry.timeouts.requestMs !== undefined)
    steps.push({ step: 'route', text: `request timeout ${entry.timeouts.requestMs} ms (504 when exceeded)` });
  if (entry.retry !== undefined)
    steps.push({
      step: 'route',
      text: `retries up to ${entry.retry.attempts} times on ${entry.retry.codes.join(', ') || 'connect failure'}`,
    });
  const total = entry.backends.reduce((n, b) => n + (b.weight > 0 ? b.weight : 0), 0);
  const backends: BackendView[] = [];
  let before = 0;
  for (const b of entry.backends) {
    if (!(b.weight > 0)) continue;
    const share = Math.round((b.weight / total) * 1000) / 10;
    const d = decideAt((before + b.weight / 2) / total);
    before += b.weight;
    if (d.kind === 'invalid-backend') {
      backends.push({
        service: '-',
        port: 0,
        share,
        ...edgeOutcome(EngineErrorCode.INVALID_BACKEND, false),
        reason: `invalid backend: ${d.backend.reason}`,
        endpoints: [],
      });
    } else if (d.kind === 'redirect') {
      backends.push({
        service: '-',
        port: 0,
        share,
        status: d.status,
        reason: `RequestRedirect to ${d.location}`,
        endpoints: [],
      });
    } else if (d.kind === 'forward') {
      const svc = ctx.ir.services.find((s) => s.key === d.backend.service);
      if (svc === undefined) {
        backends.push({
          service: d.backend.service,
          port: d.backend.port,
          share,
          ...edgeOutcome(EngineErrorCode.NO_ENDPOINTS, false),
          reason: 'the Service is not in the mesh directory',
          endpoints: [],
        });
      } else backends.push(serviceBackend(ctx, svc, d.backend.port, peer, share, d.request.pathAndQuery));
    }
  }
  if (backends.length === 0 && first.kind === 'invalid-backend') {
    backends.push({
      service: '-',
      port: 0,
      share: 100,
      ...edgeOutcome(EngineErrorCode.INVALID_BACKEND, false),
      reason: `invalid backend: ${first.backend.reason}`,
      endpoints: [],
    });
  }
  return { route: routeOf(entry), backends, outcome: summarize(backends, grpc) };
}

function routeOf(entry: RouteEntry): NonNullable<Explanation['route']> {
  return { object: objectRef(entry.route), rule: entry.rule, entry: entry.id };
}

function ruleStep(entry: RouteEntry, verb: string): ExplainStep {
  return {
    step: 'route',
    object: objectRef(entry.route),
    text: `rule ${entry.rule} ${verb} (entry ${entry.id}; route id ${sourceId(entry.route)})`,
  };
}
