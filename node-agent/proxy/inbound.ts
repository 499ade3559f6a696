/**
 * Inbound (issue 5 §3): HBONE tunnels arriving on 15008 and plaintext connections redirected to
 * 15006, both for the local pod they were captured in. `planInbound` (pure) checks the target
 * and applies mTLS mode and L4 policy; here a refusal is answered (401/403/400 on the stream, a
 * reset for plaintext) and counted, and an allowed connection is joined to the app, reached at
 * the pod's own address from inside its namespace with the agent mark (so capture skips it).
 */
import type { Socket } from 'node:net';
import { errorMessage } from '../../common/errors.ts';
import { parseForwardedFor, type HboneTunnel } from '../../common/hbone/index.ts';
import { AGENT_MARK } from '../capture/rules.ts';
import { connectInNetns, isSystemError } from '../native/index.ts';
import { planInbound, type Address, type InboundPlan, type NodeState } from '../state/index.ts';
import type { PodContext } from './context.ts';
import { addressOf, Flow } from './flow.ts';
import { UNKNOWN, workloadLabel } from './metrics.ts';
import { acceptRedirected } from './redirected.ts';

const UNREACHABLE = 503;
const TIMEOUT = 504;

/** Handles one CONNECT on the pod's 15008; errors are answered on the stream, never thrown. */
export function onTunnel(ctx: PodContext, tunnel: HboneTunnel): void {
  const target: Address = { ip: tunnel.authority.host, port: tunnel.authority.port };
  const client = parseForwardedFor(headerValue(tunnel.headers['forwarded']));
  const flow = new Flow(
    ctx.agent,
    {
      direction: 'inbound',
      pod: ctx.name,
      sourceAddress:
        client === undefined
          ? addressOf(tunnel.remoteAddress, tunnel.remotePort)
          : addressOf(client.host, client.port),
      destinationAddress: addressOf(target.ip, target.port),
    },
    ctx.flows,
  );
  flow.transport = 'hbone';
  const state = ctx.agent.state();
  const plan = planInbound(state, ctx.self, target, { identity: tunnel.peerId, ip: tunnel.remoteAddress });
  label(ctx, flow, state, tunnel.peerId, client?.host ?? tunnel.remoteAddress);
  if (plan.kind === 'refuse') {
    if (!tunnel.settled) tunnel.refuse(plan.status, plan.reason);
    refused(ctx, flow, plan, tunnel.peerId);
    return;
  }
  deliver(ctx, target.ip, plan.port)
    .then((app) => {
      if (tunnel.settled) {
        app.destroy();
        flow.fail('error', 'the client reset the tunnel before it was accepted');
        return;
      }
      flow.pipe(tunnel.accept(), app);
    })
    .catch((err: unknown) => {
      const timedOut = isSystemError(err, 'ETIMEDOUT');
      const reason = `cannot reach the app on port ${plan.port} of pod ${ctx.name}: ${errorMessage(err)}`;
      if (!tunnel.settled) tunnel.refuse(timedOut ? TIMEOUT : UNREACHABLE, reason);
      flow.fail('error', reason);
    });
}

/** Handles one plaintext connection redirected to the pod's 15006. */
export function onPlaintext(ctx: PodContext, socket: Socket): void {
  const accepted = acceptRedirected(ctx, socket, 'inbound');
  if (accepted === undefined) return;
  const { dst: target, flow } = accepted;
  const state = ctx.agent.state();
  const plan = planInbound(state, ctx.self, target, { ip: socket.remoteAddress });
  label(ctx, flow, state, undefined, socket.remoteAddress);
  if (plan.kind === 'refuse') {
    refused(ctx, flow, plan, undefined, socket);
    return;
  }
  deliver(ctx, target.ip, plan.port)
    .then((app) => flow.pipe(socket, app))
    .catch((err: unknown) => {
      flow.fail(
        'error',
        `cannot reach the app on port ${plan.port} of pod ${ctx.name}: ${errorMessage(err)}`,
        socket,
      );
    });
}

function deliver(ctx: PodContext, ip: string, port: number): Promise<Socket> {
  return connectInNetns(ctx.nsPath, ip, port, {
    mark: AGENT_MARK,
    timeoutMs: ctx.agent.connectTimeoutMs,
    noDelay: true,
    allowHalfOpen: true,
  });
}

function label(
  ctx: PodContext,
  flow: Flow,
  state: NodeState,
  peer: string | undefined,
  clientIp: string | undefined,
): void {
  const source = clientIp === undefined ? undefined : state.workloadsByIp.get(clientIp);
  flow.labels = {
    direction: 'inbound',
    sourcePrincipal: peer ?? UNKNOWN,
    destinationPrincipal: ctx.self.identity,
    sourceWorkload: workloadLabel(source),
    destinationWorkload: ctx.name,
    destinationService: UNKNOWN,
  };
}

function refused(
  ctx: PodContext,
  flow: Flow,
  plan: Extract<InboundPlan, { kind: 'refuse' }>,
  peer: string | undefined,
  socket?: Socket,
): void {
  if (plan.status === 400) {
    flow.fail('refused', plan.reason, socket);
    return;
  }
  ctx.agent.metrics.denied(
    peer ?? UNKNOWN,
    ctx.name,
    plan.policy ?? (plan.status === 401 ? 'mtls-strict' : UNKNOWN),
  );
  flow.fail('denied', plan.reason, socket);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
