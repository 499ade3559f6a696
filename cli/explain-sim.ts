/**
 * `waymesh x explain`'s pure core: given the World and a request, walk the data path (DESIGN.md
 * §4) the way the mesh's own code does — the source node agent's `planOutbound`, the waypoint's
 * authz and router, the destination node agent's `planInbound` — and describe every decision.
 */
import { MeshError } from '../common/errors.ts';
import type { MeshService, Workload } from '../common/ir/index.ts';
import { NAMES, type World } from '../controller/translate/world.ts';
import {
  planOutbound,
  type EndpointPicker,
  type OutboundPlan,
  type WaypointPlan,
} from '../node-agent/state/index.ts';
import {
  buildContext,
  endpointViews,
  inboundView,
  routeEnforcement,
  type SimContext,
} from './explain-context.ts';
import type { BackendView, EndpointView, ExplainOutcome, ExplainStep, Explanation } from './explain-model.ts';
import { resolveHost, type Destination, type ExplainRequest } from './explain-request.ts';
import { explainWaypoint } from './explain-waypoint.ts';

/** The simulation shows every ready endpoint; the planner only needs one to decide the hop kind. */
const FIRST: EndpointPicker = { pick: (ready) => ready[0] };

/** The source pod as a workload, and why it is (not) captured. */
function sourceOf(ctx: SimContext, req: ExplainRequest): { src: Workload; why: string } {
  const { namespace, name } = req.from;
  const pod = ctx.world.pods.find((p) => p.metadata?.namespace === namespace && p.metadata.name === name);
  if (pod === undefined)
    throw new MeshError('EXPLAIN_NO_SOURCE', `pod ${namespace}/${name} not found`, {
      hint: `kubectl get pods -n ${namespace}`,
    });
  const w = ctx.ir.workloads.find((x) => x.namespace === namespace && x.name === name);
  if (w?.captured === true) return { src: w, why: 'captured by its node agent' };
  const ns = ctx.world.namespaces.find((n) => n.metadata?.name === namespace);
  let why: string;
  if (ns?.metadata?.labels?.[NAMES.dataplaneLabel] !== NAMES.dataplaneAmbient)
    why = `not captured: Namespace ${namespace} is not labelled ${NAMES.dataplaneLabel}=${NAMES.dataplaneAmbient}`;
  else if (pod.metadata?.labels?.[NAMES.dataplaneLabel] === NAMES.dataplaneNone)
    why = `not captured: the pod opts out with ${NAMES.dataplaneLabel}=${NAMES.dataplaneNone}`;
  else if (pod.metadata?.labels?.['gateway.networking.k8s.io/gateway-name'] !== undefined)
    why = 'not captured: it is a waypoint pod, which speaks HBONE itself';
  else why = `not captured: the pod is not running with an IP (phase ${pod.status?.phase ?? 'unknown'})`;
  const src: Workload = w ?? {
    uid: pod.metadata?.uid ?? '',
    name,
    namespace,
    node: pod.spec?.nodeName ?? '',
    ips: (pod.status?.podIPs ?? []).map((i) => i.ip),
    serviceAccount: pod.spec?.serviceAccountName ?? 'default',
    identity: '',
    captured: false,
    labels: pod.metadata?.labels ?? {},
    namedPorts: {},
  };
  return { src, why };
}

function destinationStep(dest: Destination, req: ExplainRequest): ExplainStep {
  switch (dest.kind) {
    case 'service':
      return {
        step: 'dns',
        object: `Service/${dest.service.namespace}/${dest.service.name}`,
        text: `${req.host} (${dest.how}) → ClusterIP ${dest.ip}, port ${req.port}`,
      };
    case 'pod':
      return {
        step: 'dns',
        object: `Pod/${dest.workload.namespace}/${dest.workload.name}`,
        text: `${req.host} → pod IP ${dest.ip}, port ${req.port}`,
      };
    case 'ip':
      return { step: 'dns', text: `${req.host} is neither a ClusterIP nor a pod IP of the cluster` };
    case 'unknown':
      return { step: 'dns', text: dest.reason };
  }
}

/** L4 delivery (no waypoint, or no capture): which endpoints the connection may reach, and whether their agents admit it. */
function direct(
  endpoints: EndpointView[],
  service: string,
  port: number,
  identity: string | undefined,
): Pick<Explanation, 'backends' | 'outcome'> {
  const backend: BackendView = { service, port, share: 100, endpoints };
  const ready = endpoints.filter((e) => e.ready);
  let outcome: ExplainOutcome;
  if (ready.length === 0)
    outcome = {
      result: 'no-endpoints',
      reason: `${service} has no ready endpoint for port ${port}: the connection is refused`,
    };
  else if (ready.every((e) => e.l4 === 'denied')) {
    const by = [...new Set(ready.map((e) => e.policy ?? 'mTLS mode'))].join(', ');
    outcome = {
      result: 'denied',
      reason: `the destination's node agent resets the connection from ${identity ?? 'a plaintext client'} (denied by ${by})`,
    };
  } else
    outcome = {
      result: 'forwarded',
      reason: `L4 only: connected to one of ${ready.filter((e) => e.l4 !== 'denied').length} ready endpoint(s) of ${service}; no HTTP route or L7 policy applies`,
    };
  return { backends: [backend], outcome };
}

function routesNotEnforced(
  ctx: SimContext,
  service: MeshService,
  why: string | undefined,
  steps: ExplainStep[],
): void {
  for (const r of routeEnforcement(ctx, service))
    steps.push({ step: 'route', object: r.object, text: `not enforced: ${why ?? r.message}` });
}

function waypointHop(plan: WaypointPlan): string {
  const at = `${plan.via.ip}:${plan.via.port}`;
  return plan.replica === undefined
    ? `its Service address ${at} (no ready replica is listed)`
    : `a ready replica, e.g. ${plan.replica.namespace}/${plan.replica.name} at ${at}; another is tried if it fails`;
}

function afterPlan(
  ctx: SimContext,
  req: ExplainRequest,
  src: Workload,
  dest: Exclude<Destination, { kind: 'unknown' }>,
  plan: OutboundPlan,
  steps: ExplainStep[],
): Omit<Explanation, 'request' | 'steps'> {
  const identity = src.captured ? src.identity : undefined;
  const service = dest.kind === 'service' ? dest.service : undefined;
  if (plan.kind === 'waypoint') {
    steps.push({
      step: 'node-agent',
      object: `Gateway/${plan.waypoint.gateway.namespace}/${plan.waypoint.gateway.name}`,
      text: `${plan.service.key} uses this waypoint: HBONE tunnel to ${waypointHop(plan)} (:authority ${plan.authority}), expecting ${plan.expectedIdentity}`,
    });
    return explainWaypoint(ctx, req, src, plan, steps);
  }
  if (plan.kind === 'refuse') {
    steps.push({ step: 'node-agent', text: `refuses the connection: ${plan.reason}` });
    const result = plan.reason.endsWith('no ready endpoint') ? 'no-endpoints' : 'refused';
    return {
      backends: [],
      outcome: { result, reason: `the source's node agent resets the connection: ${plan.reason}` },
    };
  }
  if (plan.kind === 'workload') {
    steps.push({
      step: 'node-agent',
      text: `no waypoint: HBONE tunnel straight to the chosen endpoint's node agent, which presents its pod's identity (e.g. ${plan.expectedIdentity})`,
    });
    if (plan.service === undefined) {
      const pod = `Pod/${plan.workload.namespace}/${plan.workload.name}`;
      return direct(
        [inboundView(ctx, plan.workload, dest.ip, req.port, true, identity)],
        pod,
        req.port,
        identity,
      );
    }
    routesNotEnforced(ctx, plan.service, undefined, steps);
    return direct(endpointViews(ctx, plan.service, req.port, identity), plan.service.key, req.port, identity);
  }
  steps.push({
    step: 'node-agent',
    text: `passthrough: ${plan.reason}; the mesh does not touch the connection`,
  });
  if (service !== undefined) {
    routesNotEnforced(
      ctx,
      service,
      src.captured ? `${plan.reason}` : 'the client is not captured, so no waypoint sees its requests',
      steps,
    );
    return direct(endpointViews(ctx, service, req.port, identity), service.key, req.port, identity);
  }
  if (dest.kind === 'pod')
    return direct(
      [inboundView(ctx, dest.workload, dest.ip, req.port, true, identity)],
      `Pod/${dest.workload.namespace}/${dest.workload.name}`,
      req.port,
      identity,
    );
  return {
    backends: [],
    outcome: {
      result: 'passthrough',
      reason: `${plan.reason}: the connection goes to ${plan.target.ip}:${plan.target.port} untouched`,
    },
  };
}

/** Explains what the mesh does with `req` in `world`; throws `EXPLAIN_NO_SOURCE` for an unknown pod. */
export function explain(world: World, req: ExplainRequest): Explanation {
  const ctx = buildContext(world);
  const steps: ExplainStep[] = [];
  const { src, why } = sourceOf(ctx, req);
  steps.push({
    step: 'source',
    object: `Pod/${src.namespace}/${src.name}`,
    text: `on node ${src.node || '-'}, ${src.captured ? `identity ${src.identity}, ` : ''}${why}`,
  });
  const dest = resolveHost(req.host, src.namespace, ctx.ir.services, ctx.ir.workloads);
  steps.push(destinationStep(dest, req));
  const request = {
    from: `${req.from.namespace}/${req.from.name}`,
    method: req.method,
    url: req.url,
    path: req.query === '' ? req.path : `${req.path}?${req.query}`,
    ...(req.grpc === undefined ? {} : { grpc: `${req.grpc.service}/${req.grpc.method}` }),
  };
  const base = { request, steps, ...(src.captured ? { sourceIdentity: src.identity } : {}) };
  if (dest.kind === 'unknown')
    return { ...base, backends: [], outcome: { result: 'unknown-host', reason: dest.reason } };
  const state = ctx.stateOf(src.node);
  const plan: OutboundPlan =
    state === undefined || !src.captured
      ? {
          kind: 'passthrough',
          target: { ip: dest.ip, port: req.port },
          reason: 'source workload is not captured',
        }
      : planOutbound(state, src, { ip: dest.ip, port: req.port }, FIRST);
  const rest = afterPlan(ctx, req, src, dest, plan, steps);
  if (rest.outcome.result === 'forwarded' && !src.captured)
    return { ...base, ...rest, outcome: { ...rest.outcome, result: 'passthrough' } };
  return { ...base, ...rest };
}
