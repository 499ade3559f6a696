/**
 * Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
 * acquire when the Lease is absent, released or expired (renewTime + leaseDurationSeconds), renew
 * every retry period, give up leadership when no renew succeeded within the renew deadline, and
 * release on stop by clearing holderIdentity. Writes use optimistic concurrency (resourceVersion).
 * Only the leader writes status and provisions; every replica serves config and certificates.
 */
import { errorMessage, MeshError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { KubeApiError, kubeCall, kubeGet, resourcePath, type KubeTransport } from '../kube/rest.ts';

/** Time source and sleeping, injectable so unit tests run the loop on a fake clock. */
export interface LeaderClock {
  now(): Date;
  /** Resolves after `ms` or as soon as `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: LeaderClock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};

/** Options of {@link LeaderElector}; durations follow client-go's defaults for controllers. */
export interface LeaderElectorOptions {
  readonly client: KubeTransport;
  readonly identity: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly leaseDurationSeconds?: number;
  readonly renewDeadlineSeconds?: number;
  readonly retryPeriodSeconds?: number;
  readonly logger: Logger;
  readonly clock?: LeaderClock;
  /** Called when this replica becomes leader. */
  readonly onStartedLeading: () => void;
  /** Called when this replica stops being leader (lost renewal or stop()). */
  readonly onStoppedLeading: () => void;
}

/** The Lease spec fields we read and write. */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** Formats `d` as a Kubernetes MicroTime (`2006-01-02T15:04:05.000000Z`). */
export function formatMicroTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Parses a MicroTime or RFC 3339 time; undefined when absent or malformed. */
export function parseMicroTime(s: unknown): Date | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (m === null) return undefined;
  const frac = (m[2] ?? '').slice(0, 3).padEnd(3, '0');
  const t = Date.parse(`${m[1] ?? ''}.${frac}${m[3] ?? 'Z'}`);
  return Number.isNaN(t) ? undefined : new Date(t);
}

interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  spec?: LeaseSpec;
}

/** Runs the election loop between start() and stop(). */
export class LeaderElector {
  readonly #client: KubeTransport;
  readonly #identity: string;
  readonly #namespace: string;
  readonly #name: string;
  readonly #durationS: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  readonly #log: Logger;
  readonly #clock: LeaderClock;
  readonly #onStarted: () => void;
  readonly #onStopped: () => void;
  #leading = false;
  /** The last write made us holder (may run ahead of #leading when stop() races an acquire). */
  #mayHold = false;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.#client = opts.client;
    this.#identity = opts.identity;
    this.#namespace = opts.namespace ?? 'waymesh-system';
    this.#name = opts.name ?? 'waymesh-controller';
    this.#durationS = opts.leaseDurationSeconds ?? 15;
    const renewS = opts.renewDeadlineSeconds ?? 10;
    const retryS = opts.retryPeriodSeconds ?? 2;
    // client-go's validation: leaseDuration > renewDeadline > retryPeriod (× jitter 1.2).
    if (!(this.#durationS > renewS && renewS > retryS * 1.2 && retryS > 0) || opts.identity === '')
      throw new MeshError(
        'LEADER_BAD_CONFIG',
        `leader election needs an identity and leaseDuration (${this.#durationS}s) > renewDeadline (${renewS}s) > 1.2 × retryPeriod (${retryS}s)`,
      );
    this.#renewDeadlineMs = renewS * 1000;
    this.#retryMs = retryS * 1000;
    this.#log = opts.logger.child({ component: 'leader-election', identity: opts.identity });
    this.#clock = opts.clock ?? systemClock;
    this.#onStarted = opts.onStartedLeading;
    this.#onStopped = opts.onStoppedLeading;
  }

  /** True while this replica holds the Lease. */
  get isLeader(): boolean {
    return this.#leading;
  }

  /** Starts campaigning in the background; a second call is a no-op. */
  start(): void {
    if (this.#loop !== undefined) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(abort.signal);
  }

  /** Stops campaigning; a leader releases the Lease (best effort within `deadlineMs`). */
  async stop(opts: { deadlineMs?: number } = {}): Promise<void> {
    const loop = this.#loop;
    if (loop === undefined) return;
    this.#abort?.abort();
    await loop;
    this.#loop = undefined;
    if (!this.#mayHold) {
      this.#setLeading(false);
      return;
    }
    const deadline = opts.deadlineMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#release(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, deadline);
        }),
      ]);
    } catch (err) {
      this.#log.warn('could not release the Lease; it expires on its own', { error: errorMessage(err) });
    } finally {
      clearTimeout(timer);
      this.#mayHold = false;
      this.#setLeading(false);
    }
  }

  /**
   * One attempt to acquire or renew the Lease (client-go's tryAcquireOrRenew). True when this
   * replica holds the Lease afterwards. A write conflict or an unexpired foreign holder is false.
   */
  async tryAcquireOrRenew(): Promise<boolean> {
    const path = resourcePath('Lease', this.#namespace, this.#name);
    const now = this.#clock.now();
    const nowStr = formatMicroTime(now);
    const live = (await kubeGet(this.#client, path)) as LeaseObject | undefined;
    if (live === undefined) {
      const body: LeaseObject = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.#name, namespace: this.#namespace },
        spec: {
          holderIdentity: this.#identity,
          leaseDurationSeconds: this.#durationS,
          acquireTime: nowStr,
          renewTime: nowStr,
          leaseTransitions: 0,
        },
      };
      return this.#write({ method: 'POST', path: resourcePath('Lease', this.#namespace), body });
    }
    const spec = live.spec ?? {};
    const holder = typeof spec.holderIdentity === 'string' ? spec.holderIdentity : '';
    const iHold = holder === this.#identity;
    if (holder !== '' && !iHold) {
      const renewed = parseMicroTime(spec.renewTime) ?? parseMicroTime(spec.acquireTime);
      const duration =
        typeof spec.leaseDurationSeconds === 'number' && spec.leaseDurationSeconds > 0
          ? spec.leaseDurationSeconds
          : this.#durationS;
      if (renewed !== undefined && renewed.getTime() + duration * 1000 > now.getTime()) return false;
    }
    const transitions = typeof spec.leaseTransitions === 'number' ? spec.leaseTransitions : 0;
    const next: LeaseObject = {
      ...live,
      spec: {
        ...spec,
        holderIdentity: this.#identity,
        leaseDurationSeconds: this.#durationS,
        renewTime: nowStr,
        acquireTime: iHold && typeof spec.acquireTime === 'string' ? spec.acquireTime : nowStr,
        // A released Lease (holder '') taken over still counts as a transition, as in client-go.
        leaseTransitions: iHold ? transitions : transitions + 1,
      },
    };
    return this.#write({ method: 'PUT', path, body: next });
  }

  async #write(req: { method: 'POST' | 'PUT'; path: string; body: LeaseObject }): Promise<boolean> {
    try {
      await kubeCall(this.#client, req);
      return true;
    } catch (err) {
      // Another replica wrote first (optimistic concurrency): not ours this round.
      if (err instanceof KubeApiError && err.status === 409) return false;
      throw err;
    }
  }

  async #release(): Promise<void> {
    const path = resourcePath('Lease', this.#namespace, this.#name);
    const live = (await kubeGet(this.#client, path)) as LeaseObject | undefined;
    if (live?.spec?.holderIdentity !== this.#identity) return;
    const nowStr = formatMicroTime(this.#clock.now());
    // client-go's release: empty holder, 1 s duration, so a follower takes over at once.
    await kubeCall(this.#client, {
      method: 'PUT',
      path,
      body: {
        ...live,
        spec: {
          ...live.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: nowStr,
          acquireTime: nowStr,
        },
      },
    });
    this.#log.info('Lease released');
  }

  #setLeading(v: boolean): void {
    if (this.#leading === v) return;
    this.#leading = v;
    this.#log.info(v ? 'started leading' : 'stopped leading', { lease: `${this.#namespace}/${this.#name}` });
    try {
      if (v) this.#onStarted();
      else this.#onStopped();
    } catch (err) {
      this.#log.error('leadership callback failed', { error: errorMessage(err) });
    }
  }

  async #attempt(): Promise<boolean> {
    try {
      return await this.tryAcquireOrRenew();
    } catch (err) {
      this.#log.warn('Lease update failed', { error: errorMessage(err) });
      return false;
    }
  }

  async #run(signal: AbortSignal): Promise<void> {
    let lastRenew = 0;
    while (!signal.aborted) {
      const ok = await this.#attempt();
      if (ok) this.#mayHold = true;
      // stop() raced with this attempt: no callbacks now; stop() releases what we may hold.
      if (signal.aborted) return;
      const now = this.#clock.now().getTime();
      if (ok) {
        lastRenew = now;
        this.#setLeading(true);
      } else if (this.#leading && now - lastRenew >= this.#renewDeadlineMs) {
        this.#log.warn('failed to renew the Lease within the renew deadline', {
          renewDeadlineMs: this.#renewDeadlineMs,
        });
        this.#mayHold = false;
        this.#setLeading(false);
      }
      await this.#clock.sleep(this.#retryMs, signal);
    }
  }
}
