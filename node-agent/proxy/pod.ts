/**
 * Serving one captured pod: the three listeners the capture manager opened inside its namespace
 * (15001 outbound, 15006 plaintext inbound, 15008 HBONE) adopted by Node servers, the HBONE
 * serving certificate swapped whenever the pod's identity changes, and a drain that stops
 * accepting, lets open connections finish until a deadline, then destroys what is left.
 */
import { closeSync } from 'node:fs';
import net from 'node:net';
import { errorMessage, MeshError } from '../../common/errors.ts';
import { createHboneServer, type HboneServer } from '../../common/hbone/index.ts';
import type { CaptureFds, CapturePod, PodListeners } from '../capture/listeners.ts';
import type { AgentContext, PodContext } from './context.ts';
import { FlowSet } from './flow.ts';
import { onPlaintext, onTunnel } from './inbound.ts';
import { onOutbound } from './outbound.ts';
import { clientVerifier, serverMaterial } from './tls.ts';

/** A served pod: {@link PodListeners} plus a drain with an explicit deadline. */
export interface PodProxy extends PodListeners {
  /** Stops accepting, waits up to `deadlineMs` for open connections, then destroys the rest. */
  drain(deadlineMs: number): Promise<void>;
  /** Open connections (outbound and inbound). */
  readonly openFlows: number;
}

function listenFd(server: net.Server, fd: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server.listening) resolve();
    else server.close(() => resolve());
  });
}

/**
 * Serves `pod`; rejects (closing every fd) when the pod is not a local workload of the current
 * snapshot or its certificate cannot be obtained within the connect timeout.
 */
export async function servePod(
  agent: AgentContext,
  pod: CapturePod,
  nsPath: string,
  fds: CaptureFds,
  closeDeadlineMs: number,
): Promise<PodProxy> {
  const name = `${pod.namespace}/${pod.name}`;
  const pending = new Set([fds.outbound, fds.inbound, fds.hbone]);
  const servers: net.Server[] = [];
  let hbone: HboneServer | undefined;
  try {
    const state = agent.state();
    const self = state.localWorkloads.get(pod.uid);
    if (self === undefined) {
      throw new MeshError(
        'PROXY_POD_UNKNOWN',
        `pod ${name} (uid ${pod.uid}) is not a workload of node ${state.node} in snapshot ${state.version}`,
        {
          hint: 'the pod was captured before the controller sent a snapshot listing it; capture it again once it does',
        },
      );
    }
    const identity = await agent.identities.wait(self.identity, agent.connectTimeoutMs);
    const ctx: PodContext = { agent, pod, name, nsPath, self, flows: new FlowSet() };
    const outbound = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => onOutbound(ctx, s));
    const inbound = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => onPlaintext(ctx, s));
    for (const [server, fd] of [
      [outbound, fds.outbound],
      [inbound, fds.inbound],
    ] as const) {
      servers.push(server);
      pending.delete(fd);
      await listenFd(server, fd);
    }
    const log = agent.log.child({ pod: name });
    hbone = createHboneServer({
      tls: serverMaterial(identity),
      verifyPeer: clientVerifier(agent.identities),
      onTunnel: (tunnel) => onTunnel(ctx, tunnel),
      logger: log,
    });
    pending.delete(fds.hbone);
    await hbone.listen({ fd: fds.hbone });
    return podProxy(agent, ctx, servers, hbone, closeDeadlineMs);
  } catch (err) {
    for (const fd of pending) closeSync(fd);
    await Promise.all(servers.map(closeServer));
    await hbone?.close({ deadlineMs: 0 }).catch(() => undefined);
    throw err;
  }
}

/** Grace beyond the drain deadline for the HBONE server to report its sessions closed. */
const HBONE_CLOSE_GRACE_MS = 1_000;

/**
 * Closes the pod's HBONE server, but never waits past the deadline plus a grace: a session whose
 * close is never reported must not hold up a pod release or the agent's SIGTERM.
 */
async function closeHbone(
  agent: AgentContext,
  ctx: PodContext,
  hbone: HboneServer,
  deadlineMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), deadlineMs + HBONE_CLOSE_GRACE_MS);
  });
  const closed = hbone.close({ deadlineMs }).then(
    () => 'closed' as const,
    (err: unknown) => {
      agent.log.warn('closing the HBONE server failed', { pod: ctx.name, error: errorMessage(err) });
      return 'closed' as const;
    },
  );
  const outcome = await Promise.race([closed, late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    agent.log.warn('HBONE sessions still open after the drain deadline; not waiting for them', {
      pod: ctx.name,
      sessions: hbone.stats().sessions,
    });
  }
}

function podProxy(
  agent: AgentContext,
  ctx: PodContext,
  servers: readonly net.Server[],
  hbone: HboneServer,
  closeDeadlineMs: number,
): PodProxy {
  const spiffeId = ctx.self.identity;
  const unsubscribe = agent.identities.onChange((id) => {
    if (id !== spiffeId) return;
    const current = agent.identities.get(id);
    if (current === undefined) return;
    try {
      hbone.setTls(serverMaterial(current));
    } catch (err) {
      agent.log.error('cannot swap the HBONE serving certificate', {
        pod: ctx.name,
        error: errorMessage(err),
      });
    }
  });
  let draining: Promise<void> | undefined;
  const drain = (deadlineMs: number): Promise<void> => {
    draining ??= (async () => {
      unsubscribe();
      const stopped = Promise.all(servers.map(closeServer));
      await Promise.all([closeHbone(agent, ctx, hbone, deadlineMs), ctx.flows.drain(deadlineMs)]);
      await stopped;
      agent.log.info('pod proxy stopped', { pod: ctx.name });
    })();
    return draining;
  };
  return {
    drain,
    close: () => drain(closeDeadlineMs),
    get openFlows() {
      return ctx.flows.size;
    },
  };
}
