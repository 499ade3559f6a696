/**
 * In-pod capture for the pods of one node (issue 5 §1). `capture` opens the pod's listeners inside
 * its namespace, then installs the rules (so traffic is never redirected to a port nobody serves)
 * and annotates the pod; `release` removes the rules first (traffic is plain again), then closes the
 * listeners; `adopt` re-uses rules left by a previous agent without duplicating them. Operations on
 * one pod run one after another; pods are independent, and one pod's failure never touches another.
 */
import { errorMessage } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import { parseCaptureAnnotations } from './annotations.ts';
import {
  IptablesExecutor,
  type CaptureInspection,
  type CaptureTarget,
  type RemoveOutcome,
} from './iptables.ts';
import {
  nativeOpenListener,
  openCaptureFds,
  type CaptureHandler,
  type CapturePod,
  type OpenListener,
  type PodListeners,
} from './listeners.ts';
import { findPodNetns } from './netns.ts';
import { buildCaptureRules, type CaptureRuleSet } from './rules.ts';
import { PodQueues } from './queue.ts';

/** The pod annotation the agent sets once a pod is captured (DESIGN.md §2). */
export const REDIRECTION_ANNOTATION = 'waymesh.io/redirection';

/** The executor calls the manager uses (an {@link IptablesExecutor}, or a test double). */
export interface RulesExecutor {
  apply(target: CaptureTarget, rules: CaptureRuleSet): Promise<void>;
  remove(target: CaptureTarget): Promise<RemoveOutcome>;
  inspect(target: CaptureTarget, rules: CaptureRuleSet): Promise<CaptureInspection>;
}

/** Patches the redirection annotation; the agent wires it to the Kubernetes API. */
export interface CaptureAnnotator {
  /** Sets `waymesh.io/redirection: enabled` (skipped when the pod already carries it). */
  enabled(pod: CapturePod): Promise<void>;
  /** Removes the annotation after a release; not called when the pod's namespace is gone. */
  disabled(pod: CapturePod): Promise<void>;
}

/** Options of {@link CaptureManager}. */
export interface CaptureManagerOptions {
  readonly handler: CaptureHandler;
  readonly executor?: RulesExecutor;
  readonly findNetns?: (pod: CapturePod) => Promise<string>;
  readonly openListener?: OpenListener;
  readonly annotator?: CaptureAnnotator;
  /** Probe sources exempt from inbound capture (in the lab: the node's IP); default Istio's. */
  readonly probeSourceIps?: readonly string[];
  /** How many pods `adopt` works on at once. */
  readonly adoptConcurrency?: number;
  readonly log?: Logger;
}

/** The outcome of adopting one pod: rules found current, found stale (rewritten), or absent. */
export interface AdoptResult {
  readonly uid: string;
  readonly pod: string;
  readonly outcome: 'adopted' | 'repaired' | 'captured' | 'failed';
  readonly error?: string;
}

/** One captured pod, as the admin endpoint shows it. */
export interface CapturedPod {
  readonly uid: string;
  readonly pod: string;
  readonly nsPath: string;
}

interface Entry {
  pod: CapturePod;
  readonly nsPath: string;
  readonly listeners: PodListeners;
}

/** Captures and releases pods; see the file comment. */
export class CaptureManager {
  readonly #o: CaptureManagerOptions;
  readonly #executor: RulesExecutor;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  readonly #queues = new PodQueues();

  constructor(options: CaptureManagerOptions) {
    this.#o = options;
    this.#executor = options.executor ?? new IptablesExecutor();
    this.#log = (options.log ?? silentLogger).child({ component: 'capture' });
  }

  /** Captures `pod`, or re-applies its rules when it is already captured (e.g. annotations changed). */
  capture(pod: CapturePod): Promise<void> {
    return this.#queues
      .run(pod.uid, () => this.#capture(pod))
      .catch((err: unknown) => {
        this.#log.error('capturing pod failed', { pod: podName(pod), error: errorMessage(err) });
        throw err;
      });
  }

  /**
   * Releases a pod: rules removed, listeners closed, annotation removed. `pod` lets a pod this
   * agent never captured (rules left by a previous agent) be cleaned up too. False when there was
   * nothing to release.
   */
  release(podUid: string, pod?: CapturePod): Promise<boolean> {
    return this.#queues
      .run(podUid, () => this.#release(podUid, pod))
      .catch((err: unknown) => {
        this.#log.error('releasing pod failed', { uid: podUid, error: errorMessage(err) });
        throw err;
      });
  }

  /** Captures every pod of `pods` at agent start, re-using rules already there; never rejects. */
  async adopt(pods: readonly CapturePod[]): Promise<AdoptResult[]> {
    const results: AdoptResult[] = [];
    const todo = [...pods];
    const worker = async (): Promise<void> => {
      for (let pod = todo.shift(); pod !== undefined; pod = todo.shift()) {
        const p = pod;
        results.push(await this.#queues.run(p.uid, () => this.#adopt(p)));
      }
    };
    const n = Math.max(1, Math.min(this.#o.adoptConcurrency ?? 4, pods.length));
    await Promise.all(Array.from({ length: n }, worker));
    return results.sort((a, b) => a.pod.localeCompare(b.pod));
  }

  /** The pods captured now, sorted. */
  captured(): CapturedPod[] {
    return [...this.#entries.entries()]
      .map(([uid, e]) => ({ uid, pod: podName(e.pod), nsPath: e.nsPath }))
      .sort((a, b) => a.pod.localeCompare(b.pod));
  }

  /**
   * Waits (up to `deadlineMs`) for running operations, then closes every listener. Rules stay in
   * place so the next agent re-adopts the pods (their traffic waits for it, as in Istio ambient).
   */
  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    await this.#queues.drain(options.deadlineMs ?? 5_000);
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(entries.map((e) => this.#closeListeners(e)));
  }

  async #capture(pod: CapturePod): Promise<void> {
    const rules = this.#rules(pod);
    const nsPath = await this.#findNetns(pod);
    let entry = this.#entries.get(pod.uid);
    if (entry !== undefined && entry.nsPath !== nsPath) {
      // A new sandbox (same pod uid): the old listeners belong to a namespace no longer used.
      this.#entries.delete(pod.uid);
      await this.#closeListeners(entry);
      entry = undefined;
    }
    const target = { pod: podName(pod), nsPath };
    if (entry === undefined) {
      const fds = openCaptureFds(this.#o.openListener ?? nativeOpenListener, pod, nsPath);
      const listeners = await this.#o.handler.serve(pod, nsPath, fds);
      try {
        await this.#executor.apply(target, rules);
      } catch (err) {
        await listeners.close().catch(() => undefined);
        throw err;
      }
      this.#entries.set(pod.uid, { pod, nsPath, listeners });
      this.#log.info('pod captured', { pod: target.pod, netns: nsPath });
    } else {
      await this.#executor.apply(target, rules);
      entry.pod = pod;
    }
    if (pod.annotations?.[REDIRECTION_ANNOTATION] !== 'enabled' && this.#o.annotator !== undefined) {
      await this.#o.annotator.enabled(pod);
    }
  }

  async #adopt(pod: CapturePod): Promise<AdoptResult> {
    const base = { uid: pod.uid, pod: podName(pod) };
    try {
      const found = await this.#executor.inspect(
        { pod: base.pod, nsPath: await this.#findNetns(pod) },
        this.#rules(pod),
      );
      await this.#capture(pod);
      const outcome = found.current ? 'adopted' : found.present ? 'repaired' : 'captured';
      this.#log.info('pod adopted', { pod: base.pod, outcome });
      return { ...base, outcome };
    } catch (err) {
      this.#log.error('adopting pod failed', { pod: base.pod, error: errorMessage(err) });
      return { ...base, outcome: 'failed', error: errorMessage(err) };
    }
  }

  async #release(podUid: string, given: CapturePod | undefined): Promise<boolean> {
    const entry = this.#entries.get(podUid);
    const pod = entry?.pod ?? given;
    if (pod === undefined) return false;
    let outcome: RemoveOutcome = 'gone';
    const nsPath = entry?.nsPath ?? (await this.#findNetns(pod).catch(() => undefined));
    if (nsPath !== undefined) outcome = await this.#executor.remove({ pod: podName(pod), nsPath });
    if (outcome === 'gone' && nsPath?.startsWith('/proc/') === true) {
      // The process we found the namespace through exited; another of the pod may still hold it.
      const fresh = await this.#findNetns(pod).catch(() => undefined);
      if (fresh !== undefined) outcome = await this.#executor.remove({ pod: podName(pod), nsPath: fresh });
    }
    if (entry !== undefined) {
      this.#entries.delete(podUid);
      await this.#closeListeners(entry);
    }
    this.#log.info('pod released', { pod: podName(pod), rules: outcome });
    if (outcome !== 'gone' && this.#o.annotator !== undefined) await this.#o.annotator.disabled(pod);
    return entry !== undefined || outcome === 'removed';
  }

  #rules(pod: CapturePod): CaptureRuleSet {
    const exclusions = parseCaptureAnnotations(pod.annotations, podName(pod));
    return buildCaptureRules({ podIps: pod.ips, probeSourceIps: this.#o.probeSourceIps, ...exclusions });
  }

  #findNetns(pod: CapturePod): Promise<string> {
    return this.#o.findNetns === undefined ? findPodNetns(pod) : this.#o.findNetns(pod);
  }

  async #closeListeners(entry: Entry): Promise<void> {
    try {
      await entry.listeners.close();
    } catch (err) {
      this.#log.warn('closing pod listeners failed', { pod: podName(entry.pod), error: errorMessage(err) });
    }
  }
}

function podName(pod: CapturePod): string {
  return `${pod.namespace}/${pod.name}`;
}
