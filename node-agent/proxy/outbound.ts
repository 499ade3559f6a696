/**
 * Outbound (issue 5 §2): a connection the app made, redirected to 15001 inside its pod. The
 * original destination and the current state give a plan (`planOutbound`, pure); this file only
 * acts on it: HBONE to a workload or waypoint with the source pod's certificate, leaving from the
 * pod's own address; plain TCP for passthrough; a reset for refusals and failures.
 */
import type { Socket } from 'node:net';
import { errorMessage, MeshError } from '../../common/errors.ts';
import {
  formatForwarded,
  HboneRefusedError,
  tunnelFailover,
  type TunnelFailover,
} from '../../common/hbone/index.ts';
import { AGENT_MARK } from '../capture/rules.ts';
import { connectInNetns } from '../native/index.ts';
import type { Workload } from '../../common/ir/index.ts';
import {
  planOutbound,
  type Address,
  type NodeState,
  type OutboundPlan,
  type WaypointPlan,
  type WorkloadPlan,
} from '../state/index.ts';
import type { Flow } from './flow.ts';
import { UNKNOWN, workloadLabel } from './metrics.ts';
import type { PodContext } from './context.ts';
import { healthyPicker } from './health.ts';
import { acceptRedirected } from './redirected.ts';
import { clientMaterial } from './tls.ts';

const STREAM_CANCEL = 8; // NGHTTP2_CANCEL

/** Handles one accepted outbound socket; never throws, never leaves the client hanging. */
export function onOutbound(ctx: PodContext, socket: Socket): void {
  const accepted = acceptRedirected(ctx, socket, 'outbound');
  if (accepted === undefined) return;
  const { dst, flow } = accepted;
  route(ctx, socket, dst, flow).catch((err: unknown) => {
    ctx.agent.log.warn('outbound connection failed', { pod: ctx.name, error: errorMessage(err) });
    flow.fail(err instanceof HboneRefusedError ? 'refused' : 'error', errorMessage(err), socket);
  });
}

async function route(ctx: PodContext, socket: Socket, dst: Address, flow: Flow): Promise<void> {
  const state = ctx.agent.state();
  const source = state.localWorkloads.get(ctx.pod.uid);
  if (source === undefined) {
    label(flow, state, undefined, ctx.self, dst, undefined);
    await passthrough(ctx, socket, dst, flow);
    return;
  }
  const plan = planOutbound(state, source, dst, ctx.agent.healthyPicker);
  label(flow, state, source, source, dst, plan);
  switch (plan.kind) {
    case 'refuse':
      flow.fail('refused', plan.reason, socket);
      return;
    case 'passthrough':
      await passthrough(ctx, socket, plan.target, flow);
      return;
    default:
      await tunnelWithRetries(ctx, socket, dst, plan, source, flow);
  }
}

/** Tries per connection: the first endpoint and up to two others. */
const MAX_ATTEMPTS = 3;

/**
 * Failures before the tunnel opened, which say nothing against another endpoint of the same
 * Service (../../common/hbone/errors.ts `tunnelFailover`), and an address now held by another
 * pod. No byte of the client has been sent anywhere yet, so a retry is safe.
 */
function classify(err: unknown): TunnelFailover | undefined {
  if (err instanceof MeshError && err.code === 'PROXY_PEER_MISMATCH') return { code: err.code, eject: false };
  return tunnelFailover(err);
}

/** The workload a plan's tunnel goes to, when it was chosen (a Service endpoint or waypoint replica). */
function chosen(plan: WorkloadPlan | WaypointPlan): Workload | undefined {
  return plan.kind === 'workload' ? plan.workload : plan.replica;
}

/**
 * Opens the planned tunnel; when it fails before opening (see {@link classify}), plans again
 * without the endpoints already tried and tries the next one, up to {@link MAX_ATTEMPTS}. A
 * destination with no alternative (a pod IP, a waypoint known only by its Service address)
 * fails with the first error.
 */
async function tunnelWithRetries(
  ctx: PodContext,
  socket: Socket,
  dst: Address,
  first: WorkloadPlan | WaypointPlan,
  source: Workload,
  flow: Flow,
): Promise<void> {
  const agent = ctx.agent;
  let plan = first;
  let tried: Set<string> | undefined;
  for (let attempt = 1; ; attempt++) {
    const target = chosen(plan);
    try {
      await tunnel(ctx, socket, plan, source.identity, flow);
      if (target !== undefined) agent.health.succeeded(target.uid);
      return;
    } catch (err) {
      const failure = classify(err);
      if (target === undefined || failure === undefined || attempt >= MAX_ATTEMPTS || flow.gone) throw err;
      if (failure.eject) agent.health.failed(target.uid);
      tried ??= new Set();
      tried.add(target.uid);
      const state = agent.state();
      const next = planOutbound(state, source, dst, healthyPicker(agent.picker, agent.health, tried));
      if (next.kind !== 'workload' && next.kind !== 'waypoint') throw err;
      const again = chosen(next);
      if (again === undefined || tried.has(again.uid)) throw err;
      agent.metrics.retried(flow.labels.destinationService, workloadLabel(target), failure.code);
      agent.log.info('outbound tunnel failed, trying another endpoint', {
        pod: ctx.name,
        failed: workloadLabel(target),
        next: workloadLabel(again),
        error: errorMessage(err),
      });
      flow.retries++;
      label(flow, state, source, source, dst, next);
      plan = next;
    }
  }
}

function label(
  flow: Flow,
  state: NodeState,
  source: Workload | undefined,
  pod: Workload,
  dst: Address,
  plan: OutboundPlan | undefined,
): void {
  const tunnelled = plan !== undefined && (plan.kind === 'workload' || plan.kind === 'waypoint');
  const service = tunnelled ? plan.service : state.vips.get(dst.ip)?.service;
  const target = plan?.kind === 'workload' ? plan.workload : state.workloadsByIp.get(dst.ip);
  flow.labels = {
    direction: 'outbound',
    sourcePrincipal: source?.identity ?? UNKNOWN,
    destinationPrincipal: tunnelled ? plan.expectedIdentity : UNKNOWN,
    sourceWorkload: workloadLabel(pod),
    destinationWorkload: workloadLabel(target),
    destinationService: service?.key ?? UNKNOWN,
  };
}

async function passthrough(ctx: PodContext, socket: Socket, target: Address, flow: Flow): Promise<void> {
  flow.transport = 'passthrough';
  const upstream = await connectInNetns(ctx.nsPath, target.ip, target.port, {
    mark: AGENT_MARK,
    timeoutMs: ctx.agent.connectTimeoutMs,
    noDelay: true,
    allowHalfOpen: true,
  });
  flow.pipe(socket, upstream);
}

async function tunnel(
  ctx: PodContext,
  socket: Socket,
  plan: WorkloadPlan | WaypointPlan,
  sourceIdentity: string,
  flow: Flow,
): Promise<void> {
  const agent = ctx.agent;
  flow.transport = plan.kind === 'waypoint' ? 'waypoint' : 'hbone';
  const target = chosen(plan);
  if (target !== undefined) flow.track(target.uid);
  const identity =
    agent.identities.get(sourceIdentity) ??
    (await agent.identities.wait(sourceIdentity, agent.connectTimeoutMs));
  const material = clientMaterial(identity);
  const via = plan.via;
  const opened = await agent.hbone.open({
    via: { host: via.ip, port: via.port },
    authority: plan.authority,
    tls: material.tls,
    verifyServer: material.verifyServer,
    headers: { forwarded: formatForwarded(socket.remoteAddress ?? '0.0.0.0', socket.remotePort ?? 0) },
    connectTimeoutMs: agent.connectTimeoutMs,
    connect: () =>
      connectInNetns(ctx.nsPath, via.ip, via.port, {
        mark: AGENT_MARK,
        timeoutMs: agent.connectTimeoutMs,
        noDelay: true,
      }),
  });
  if (opened.peerId !== plan.expectedIdentity) {
    opened.stream.close(STREAM_CANCEL);
    throw new MeshError(
      'PROXY_PEER_MISMATCH',
      `HBONE peer ${via.ip}:${via.port} is ${opened.peerId}, expected ${plan.expectedIdentity}`,
      { hint: 'the address may have been reused by another pod; the next snapshot should fix it' },
    );
  }
  flow.pipe(socket, opened.stream);
}
