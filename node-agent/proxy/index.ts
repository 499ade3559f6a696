/**
 * The node agent's data path (issue 5 §2, §3, §5): a {@link CaptureHandler} that serves each
 * captured pod's outbound (15001), plaintext inbound (15006) and HBONE (15008) listeners, with
 * the TCP metrics of DESIGN.md §7 and one access-log line per connection.
 */
import { silentLogger, type Logger } from '../../common/log.ts';
import { HboneClient } from '../../common/hbone/index.ts';
import type { Registry } from '../../common/metrics/index.ts';
import type { CaptureFds, CaptureHandler, CapturePod } from '../capture/listeners.ts';
import type { IdentityManager } from '../identity/index.ts';
import { p2cPicker, type NodeState } from '../state/index.ts';
import type { AgentContext } from './context.ts';
import type { AccessLogSink } from './flow.ts';
import { EndpointHealth } from '../../common/endpoint-health.ts';
import { healthyPicker } from './health.ts';
import { TcpMetrics } from './metrics.ts';
import { servePod, type PodProxy } from './pod.ts';

export type { AccessLogEntry, AccessLogSink, FlowResult } from './flow.ts';
export type { PodProxy } from './pod.ts';
export { TcpMetrics, UNKNOWN, workloadLabel } from './metrics.ts';
export type { TcpLabels } from './metrics.ts';

/** What {@link createProxyHandler} needs. */
export interface ProxyDeps {
  /** The current state; the agent swaps it whole on every accepted snapshot. */
  readonly state: () => NodeState;
  readonly identities: IdentityManager;
  /** Receives the `waymesh_tcp_*` families (registered once, here). */
  readonly registry: Registry;
  readonly logger?: Logger;
  /** One entry per closed connection; default: an `info` line `connection closed` on the logger. */
  readonly accessLog?: AccessLogSink;
  /** TCP connect, HBONE set-up and certificate wait limit; default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Deadline of `close()` when the capture manager releases a pod; default 5 s. */
  readonly releaseDeadlineMs?: number;
  /** The HBONE pool; default a private one (closed by {@link ProxyHandler.drain}). */
  readonly hbone?: HboneClient;
  /** Randomness of the endpoint picker; default `Math.random`. */
  readonly random?: () => number;
}

/** The capture handler plus agent-level operations. */
export interface ProxyHandler extends CaptureHandler {
  /** SIGTERM: every pod stops accepting; open connections get until the deadline (default 5 s). */
  drain(opts?: { deadlineMs?: number }): Promise<void>;
  /** Pods served now and their open connections. */
  stats(): { readonly pods: number; readonly openFlows: number };
}

/** Builds the proxy; `serve` is called by the CaptureManager for every captured pod. */
export function createProxyHandler(deps: ProxyDeps): ProxyHandler {
  const log = (deps.logger ?? silentLogger).child({ component: 'proxy' });
  const connectTimeoutMs = deps.connectTimeoutMs ?? 10_000;
  const ownsHbone = deps.hbone === undefined;
  const hbone = deps.hbone ?? new HboneClient({ connectTimeoutMs, logger: log });
  const outstanding = new Map<string, number>();
  const accessLogger = log.child({ component: 'access-log' });
  const picker = p2cPicker(deps.random ?? Math.random, (uid) => outstanding.get(uid) ?? 0);
  const health = new EndpointHealth();
  const agent: AgentContext = {
    state: deps.state,
    identities: deps.identities,
    hbone,
    connectTimeoutMs,
    picker,
    health,
    healthyPicker: healthyPicker(picker, health),
    metrics: new TcpMetrics(deps.registry),
    log,
    outstanding,
    accessLog: deps.accessLog ?? ((entry) => accessLogger.info('connection closed', { ...entry })),
  };
  const pods = new Set<PodProxy>();
  const releaseDeadlineMs = deps.releaseDeadlineMs ?? 5_000;

  return {
    async serve(pod: CapturePod, nsPath: string, fds: CaptureFds) {
      const proxy = await servePod(agent, pod, nsPath, fds, releaseDeadlineMs);
      pods.add(proxy);
      log.info('serving pod', { pod: `${pod.namespace}/${pod.name}`, netns: nsPath });
      return {
        close: async () => {
          pods.delete(proxy);
          await proxy.close();
        },
      };
    },
    async drain(opts = {}) {
      const deadlineMs = opts.deadlineMs ?? 5_000;
      const all = [...pods];
      pods.clear();
      await Promise.all(all.map((p) => p.drain(deadlineMs)));
      if (ownsHbone) await hbone.close({ deadlineMs: 0 });
    },
    stats() {
      let openFlows = 0;
      for (const p of pods) openFlows += p.openFlows;
      return { pods: pods.size, openFlows };
    },
  };
}
