/**
 * The node agent (issue 5 §1, §4, §5): applies each snapshot (frozen state swapped whole, or
 * rejected with the last good one kept), then reconciles: local `captured` workloads are
 * captured (after reading their Pod for netns and exclusion annotations), the others released,
 * the identities they use prefetched and the unused ones forgotten. The first reconcile adopts
 * what a previous agent captured, so a restart leaves traffic alone. Every effect is injected.
 */
import type { TrustBundle } from '../certs/bundle.ts';
import { errorMessage, MeshError } from '../common/errors.ts';
import type { NodeSnapshot, Workload } from '../common/ir/index.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import type { Registry } from '../common/metrics/index.ts';
import { REDIRECTION_ANNOTATION, type AdoptResult, type CapturedPod } from './capture/manager.ts';
import type { CapturePod } from './capture/listeners.ts';
import type { IdentityStatus } from './identity/index.ts';
import type { PodApi } from './kube.ts';
import type { ConfigSource } from './program/config-source.ts';
import {
  DEFAULT_OPS_ADDRESSES,
  registerConfigMetrics,
  startOpsServers,
  type ConfigMetrics,
  type OpsAddresses,
  type OpsServers,
} from './program/ops.ts';
import { capturePodOf, forEachLimited } from './program/pods.ts';
import {
  captureKey,
  identityChanges,
  planReconcile,
  unwantedLocalWorkloads,
  wantedWorkloads,
  type CapturedRecord,
} from './program/reconcile.ts';
import { buildNodeState, type NodeState } from './state/index.ts';

/** The capture manager calls the agent makes (a `CaptureManager`, or a test double). */
export interface CaptureControl {
  capture(pod: CapturePod): Promise<void>;
  release(podUid: string, pod?: CapturePod): Promise<boolean>;
  adopt(pods: readonly CapturePod[]): Promise<AdoptResult[]>;
  captured(): CapturedPod[];
  stop(options?: { deadlineMs?: number }): Promise<void>;
}

/** The identity manager calls the agent makes (an `IdentityManager`, or a test double). */
export interface IdentityControl {
  prefetch(spiffeId: string): void;
  forget(spiffeId: string): void;
  status(): IdentityStatus[];
  /** The trust bundle now in use (undefined before any root is known). */
  bundle(): TrustBundle | undefined;
  stop(): void;
}

/** The proxy handler's shutdown: stop accepting, let tunnels finish up to the deadline. */
export interface Drainable {
  drain(options: { deadlineMs: number }): Promise<void>;
}

/** Options of {@link NodeAgent}. */
export interface NodeAgentOptions {
  readonly node: string;
  readonly trustDomain: string;
  readonly config: ConfigSource;
  readonly capture: CaptureControl;
  readonly handler: Drainable;
  readonly identities: IdentityControl;
  readonly pods: PodApi;
  readonly registry: Registry;
  /** Where the ops servers listen (defaults: DESIGN.md §3); `false` starts none (unit tests). */
  readonly ops?: Partial<OpsAddresses> | false;
  readonly logger?: Logger;
  /** Retry of failed captures: first delay (default 1 s), doubling up to `maxMs` (default 30 s). */
  readonly retry?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Pods read and captured at once (default 8). */
  readonly concurrency?: number;
}

/** The empty state of `node`: what the proxy sees before the first snapshot. */
export function emptyNodeState(node: string, trustDomain: string): NodeState {
  return buildNodeState({
    kind: 'node',
    version: '',
    node,
    trustDomain,
    workloads: [],
    services: [],
    policies: [],
  });
}

/** The node agent; see the file comment. */
export class NodeAgent {
  readonly #o: NodeAgentOptions;
  readonly #log: Logger;
  readonly #metrics: ConfigMetrics;
  readonly #captured = new Map<string, CapturedRecord>();
  readonly #failures = new Map<string, string>();
  #identities = new Set<string>();
  #state: NodeState;
  #applied = false;
  #adopted = false;
  #ops: OpsServers | undefined;
  #dirty = false;
  #loop: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryAttempt = 0;
  #stopping = false;

  constructor(options: NodeAgentOptions) {
    this.#o = options;
    this.#log = (options.logger ?? silentLogger).child({ component: 'node-agent', node: options.node });
    this.#state = emptyNodeState(options.node, options.trustDomain);
    this.#metrics = registerConfigMetrics(options.registry, () =>
      this.#applied ? this.#state.version : undefined,
    );
  }

  /** The current state (empty before the first snapshot); read by the proxy per connection. */
  state(): NodeState {
    return this.#state;
  }

  /** The ops servers once started (tests read their ports). */
  get ops(): OpsServers | undefined {
    return this.#ops;
  }

  /** Ready once the first snapshot is applied and the pods of a previous agent were adopted. */
  readiness(): { ready: boolean; reason?: string } {
    if (!this.#applied) return { ready: false, reason: 'no snapshot applied yet' };
    if (!this.#adopted) return { ready: false, reason: 'adopting captured pods' };
    return { ready: true };
  }

  /** Starts the ops servers, then the config source; returns once both listen. */
  async start(): Promise<void> {
    if (this.#o.ops !== false) {
      this.#ops = await startOpsServers({
        addresses: { ...DEFAULT_OPS_ADDRESSES, ...this.#o.ops },
        registry: this.#o.registry,
        dump: () => this.configDump(),
        ready: () => this.readiness(),
        logger: this.#log,
      });
    }
    this.#o.config.start((s) => this.#apply(s));
    this.#log.info('node agent started');
  }

  /**
   * SIGTERM: stops the config source, waits for a running reconcile, drains the proxy up to the
   * deadline, closes listeners but keeps the capture rules (the next agent adopts them), stops
   * refreshing identities, then the ops servers.
   */
  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    const deadlineMs = options.deadlineMs ?? 10_000;
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    await this.#o.config.stop({ deadlineMs: Math.min(2_000, deadlineMs) });
    await withDeadline(this.#loop ?? Promise.resolve(), Math.min(2_000, deadlineMs));
    await this.#o.handler.drain({ deadlineMs });
    await this.#o.capture.stop({ deadlineMs: 1_000 });
    this.#o.identities.stop();
    await this.#ops?.stop({ deadlineMs: 500 });
    this.#log.info('node agent stopped');
  }

  /** What `/config_dump` shows: workloads, services, captured pods, identities and trusted roots (no keys). */
  configDump(): Readonly<Record<string, unknown>> {
    const s = this.#state;
    return {
      node: this.#o.node,
      version: this.#applied ? s.version : null,
      config: this.#o.config.status(),
      ready: this.readiness(),
      workloads: [...s.workloadsByUid.values()],
      services: [...s.servicesByKey.values()],
      captured: this.#o.capture.captured(),
      captureFailures: Object.fromEntries(this.#failures),
      identities: this.#o.identities.status(),
      trustBundle: this.#o.identities.bundle()?.describe() ?? [],
    };
  }

  #apply(snapshot: NodeSnapshot): void {
    let state: NodeState;
    try {
      if (snapshot.node !== this.#o.node) {
        throw new MeshError(
          'NODE_SNAPSHOT_INVALID',
          `snapshot is for node ${snapshot.node}, this agent runs on ${this.#o.node}`,
          {
            hint: 'check NODE_NAME (spec.nodeName) and the --node flag',
          },
        );
      }
      if (snapshot.trustDomain !== this.#o.trustDomain) {
        throw new MeshError(
          'NODE_SNAPSHOT_INVALID',
          `snapshot trust domain ${snapshot.trustDomain} is not ${this.#o.trustDomain}`,
          {
            hint: 'set WAYMESH_TRUST_DOMAIN the same on the controller and the node agents',
          },
        );
      }
      state = buildNodeState(snapshot);
    } catch (err) {
      this.#metrics.rejected.labels(snapshot.version).inc();
      throw err;
    }
    this.#state = state;
    this.#applied = true;
    this.#log.info('snapshot applied', { version: state.version, local: state.localWorkloads.size });
    this.#kick();
  }

  #kick(): void {
    this.#dirty = true;
    this.#loop ??= this.#run().finally(() => (this.#loop = undefined));
  }

  async #run(): Promise<void> {
    while (this.#dirty && !this.#stopping) {
      this.#dirty = false;
      try {
        await this.#reconcile(this.#state);
      } catch (err) {
        this.#log.error('reconcile failed', { error: errorMessage(err) });
        this.#failures.set('*', errorMessage(err));
      }
    }
    if (this.#failures.size > 0 && !this.#stopping) this.#scheduleRetry();
    else this.#retryAttempt = 0;
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined) return;
    const initial = this.#o.retry?.initialMs ?? 1_000;
    const delay = Math.min(this.#o.retry?.maxMs ?? 30_000, initial * 2 ** Math.min(this.#retryAttempt, 20));
    this.#retryAttempt++;
    this.#log.info('retrying failed captures', { inMs: delay, pods: [...this.#failures.keys()] });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#kick();
    }, delay);
  }

  async #reconcile(state: NodeState): Promise<void> {
    this.#failures.clear();
    const plan = planReconcile(state, this.#captured);
    const ids = identityChanges(this.#identities, plan.identities);
    for (const id of ids.prefetch) {
      try {
        this.#o.identities.prefetch(id);
      } catch (err) {
        this.#log.error('cannot fetch a workload certificate', { spiffeId: id, error: errorMessage(err) });
      }
    }
    for (const id of ids.forget) this.#o.identities.forget(id);
    this.#identities = new Set(plan.identities);
    if (!this.#adopted) {
      await this.#adoptPrevious(state);
      this.#adopted = true;
      return this.#reconcile(state);
    }
    const limit = this.#o.concurrency ?? 8;
    await forEachLimited(plan.release, limit, (uid) => this.#release(uid));
    await forEachLimited(plan.capture, limit, (w) => this.#capture(w));
  }

  /** First reconcile: adopt the wanted pods, release those a previous agent left captured. */
  async #adoptPrevious(state: NodeState): Promise<void> {
    const pods: CapturePod[] = [];
    const workloads = new Map<string, Workload>();
    await forEachLimited(wantedWorkloads(state), this.#o.concurrency ?? 8, async (w) => {
      const pod = await this.#readPod(w);
      if (pod !== undefined) {
        pods.push(pod);
        workloads.set(w.uid, w);
      }
    });
    for (const r of await this.#o.capture.adopt(pods)) {
      const w = workloads.get(r.uid);
      if (r.outcome === 'failed') this.#failures.set(r.pod, r.error ?? 'adoption failed');
      else if (w !== undefined)
        this.#captured.set(r.uid, { namespace: w.namespace, name: w.name, key: captureKey(w) });
    }
    await forEachLimited(unwantedLocalWorkloads(state), this.#o.concurrency ?? 8, async (w) => {
      const pod = await this.#readPod(w);
      if (pod?.annotations?.[REDIRECTION_ANNOTATION] === 'enabled') await this.#o.capture.release(w.uid, pod);
    });
    this.#log.info('adoption finished', { adopted: this.#captured.size, failed: this.#failures.size });
  }

  async #capture(w: Workload): Promise<void> {
    const pod = await this.#readPod(w);
    if (pod === undefined) return;
    try {
      await this.#o.capture.capture(pod);
      this.#captured.set(w.uid, { namespace: w.namespace, name: w.name, key: captureKey(w) });
    } catch (err) {
      this.#failures.set(`${w.namespace}/${w.name}`, errorMessage(err));
    }
  }

  async #release(uid: string): Promise<void> {
    const record = this.#captured.get(uid);
    try {
      await this.#o.capture.release(uid);
      this.#captured.delete(uid);
    } catch (err) {
      this.#failures.set(
        record === undefined ? uid : `${record.namespace}/${record.name}`,
        errorMessage(err),
      );
    }
  }

  /** The pod of `w` from the API; undefined (and logged) when it is gone or the read failed. */
  async #readPod(w: Workload): Promise<CapturePod | undefined> {
    const name = `${w.namespace}/${w.name}`;
    try {
      const pod = await this.#o.pods.get(w.namespace, w.name);
      // Gone, or a new pod with the same name: the next snapshot brings the truth.
      if (pod === undefined || pod.uid !== w.uid) return undefined;
      return capturePodOf(pod, w);
    } catch (err) {
      this.#failures.set(name, errorMessage(err));
      return undefined;
    }
  }
}

async function withDeadline(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
