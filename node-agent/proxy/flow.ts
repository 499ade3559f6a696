/**
 * One proxied connection from accept to close: its metric series, its access-log line and its
 * place in the pod's set of open connections (for drain). Created once per connection; the pipe's
 * completion callback is its only closure.
 */
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { pipeTunnel, type PipeStats } from '../../common/hbone/index.ts';
import { UNKNOWN, type TcpLabels, type TcpMetrics, type TcpSeries } from './metrics.ts';

/** How a connection ended. */
export type FlowResult = 'ok' | 'denied' | 'refused' | 'error';

/** One access-log entry, written when a connection closes (issue 5 §5). */
export interface AccessLogEntry {
  readonly direction: 'inbound' | 'outbound';
  readonly pod: string;
  readonly sourcePrincipal: string;
  readonly destinationPrincipal: string;
  readonly sourceWorkload: string;
  readonly destinationWorkload: string;
  readonly destinationService: string;
  /** `ip:port` of the connecting client. */
  readonly sourceAddress: string;
  /** `ip:port` the client asked for (original destination or CONNECT target). */
  readonly destinationAddress: string;
  /** `plaintext`, `hbone`, `passthrough` or `waypoint`. */
  readonly transport: string;
  /** Bytes received from / sent to the connecting client. */
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly durationMs: number;
  readonly result: FlowResult;
  readonly reason?: string;
  /** Endpoints whose tunnel failed before one opened (absent when the first try worked). */
  readonly retries?: number;
}

/** Where access-log entries go. */
export type AccessLogSink = (entry: AccessLogEntry) => void;

/** What a flow needs from its agent. */
export interface FlowContext {
  readonly metrics: TcpMetrics;
  /** Open tunnels per destination workload uid (the endpoint picker's load signal). */
  readonly outstanding: Map<string, number>;
  readonly log: Logger;
  readonly accessLog: AccessLogSink | undefined;
}

/** Static facts of a flow, known at accept time or once the plan is made. */
export interface FlowInfo {
  readonly direction: 'inbound' | 'outbound';
  readonly pod: string;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
}

/** One connection; see the file comment. */
export class Flow {
  readonly started = Date.now();
  labels: TcpLabels;
  transport = 'plaintext';
  /** Tunnel set-ups that failed and were retried on another endpoint. */
  retries = 0;
  #series: TcpSeries | undefined;
  #sides: Duplex[] = [];
  #finished = false;
  #target: string | undefined;

  constructor(
    private readonly ctx: FlowContext,
    readonly info: FlowInfo,
    private readonly flows: FlowSet,
    client?: Duplex,
  ) {
    // Known from the start so a drain can destroy a flow still waiting for its upstream.
    if (client !== undefined) this.#sides = [client];
    this.labels = {
      direction: info.direction,
      sourcePrincipal: UNKNOWN,
      destinationPrincipal: UNKNOWN,
      sourceWorkload: UNKNOWN,
      destinationWorkload: UNKNOWN,
      destinationService: UNKNOWN,
    };
    flows.add(this);
  }

  /** Pipes the client side `client` to `upstream`; the flow ends when both are closed. */
  pipe(client: Duplex, upstream: Duplex): void {
    this.#series = this.ctx.metrics.series(this.labels);
    this.#series.opened.inc();
    this.#sides = [client, upstream];
    pipeTunnel(client, upstream, (stats: PipeStats) => this.#piped(stats));
  }

  /** Counts this flow as outstanding towards workload `uid` (instead of an earlier one) until it finishes. */
  track(uid: string): void {
    this.#untrack();
    this.#target = uid;
    const m = this.ctx.outstanding;
    m.set(uid, (m.get(uid) ?? 0) + 1);
  }

  #untrack(): void {
    const uid = this.#target;
    if (uid === undefined) return;
    this.#target = undefined;
    const left = (this.ctx.outstanding.get(uid) ?? 1) - 1;
    if (left <= 0) this.ctx.outstanding.delete(uid);
    else this.ctx.outstanding.set(uid, left);
  }

  /** Ends a flow that never got piped (refused, denied, failed to connect). */
  fail(result: Exclude<FlowResult, 'ok'>, reason: string, client?: Socket): void {
    if (client !== undefined && !client.destroyed) client.resetAndDestroy();
    this.#finish(result, reason, 0, 0);
  }

  /** Destroys both sides now (drain deadline passed). */
  destroy(): void {
    for (const side of this.#sides) if (!side.destroyed) side.destroy();
  }

  /** True once the flow was destroyed or finished: a pending upstream must then be dropped. */
  get gone(): boolean {
    return this.#finished || this.#sides.some((s) => s.destroyed);
  }

  #piped(stats: PipeStats): void {
    const series = this.#series;
    if (series !== undefined) {
      series.closed.inc();
      series.received.inc(stats.bytesAtoB);
      series.sent.inc(stats.bytesBtoA);
    }
    const reason = stats.error === undefined ? undefined : errorMessage(stats.error);
    this.#finish(reason === undefined ? 'ok' : 'error', reason, stats.bytesAtoB, stats.bytesBtoA);
  }

  #finish(result: FlowResult, reason: string | undefined, received: number, sent: number): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#sides = [];
    this.flows.delete(this);
    this.#untrack();
    const sink = this.ctx.accessLog;
    if (sink === undefined) return;
    const l = this.labels;
    const entry: AccessLogEntry = {
      direction: l.direction,
      pod: this.info.pod,
      sourcePrincipal: l.sourcePrincipal,
      destinationPrincipal: l.destinationPrincipal,
      sourceWorkload: l.sourceWorkload,
      destinationWorkload: l.destinationWorkload,
      destinationService: l.destinationService,
      sourceAddress: this.info.sourceAddress,
      destinationAddress: this.info.destinationAddress,
      transport: this.transport,
      bytesReceived: received,
      bytesSent: sent,
      durationMs: Date.now() - this.started,
      result,
      ...(reason === undefined ? {} : { reason }),
      ...(this.retries === 0 ? {} : { retries: this.retries }),
    };
    try {
      sink(entry);
    } catch (err) {
      this.ctx.log.error('access log sink failed', { error: errorMessage(err) });
    }
  }
}

/** The open flows of one pod, for drain. */
export class FlowSet {
  readonly #flows = new Set<Flow>();
  #idle: (() => void) | undefined;

  /** Number of open flows. */
  get size(): number {
    return this.#flows.size;
  }

  /** Registers a new flow. */
  add(flow: Flow): void {
    this.#flows.add(flow);
  }

  /** Forgets a finished flow. */
  delete(flow: Flow): void {
    this.#flows.delete(flow);
    if (this.#flows.size === 0) this.#idle?.();
  }

  /** Waits until every flow has finished or `deadlineMs` passed, then destroys what is left. */
  async drain(deadlineMs: number): Promise<void> {
    if (this.#flows.size > 0 && deadlineMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#idle = undefined;
    }
    for (const flow of [...this.#flows]) flow.destroy();
  }
}

/** `ip:port` of an address pair (`[ip]:port` for IPv6); `unknown` when missing. */
export function addressOf(ip: string | undefined, port: number | undefined): string {
  if (ip === undefined || port === undefined) return UNKNOWN;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
