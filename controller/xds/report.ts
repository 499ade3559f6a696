/**
 * Publishes what this replica's config server knows about its proxies (sent, ACKed, NACKed
 * versions) as the JSON annotation `waymesh.io/proxy-status` on the replica's own Pod, so
 * `waymesh status` can show every proxy's sync state with nothing but API access. Written at
 * most every `intervalMs`, and only when it changed; a failed write is retried next tick.
 */
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { isKubeStatus, kubeCall, type KubeTransport } from '../kube/rest.ts';
import type { ProxyStatus } from './state.ts';

/** The annotation key. */
export const PROXY_STATUS_ANNOTATION = 'waymesh.io/proxy-status';

/** Most proxies listed in the annotation (annotations share a 256 KiB budget); NACKing ones first. */
export const MAX_REPORTED_PROXIES = 500;

/** The annotation's JSON: one entry per proxy, plus totals when the list was cut. */
export interface ProxyStatusReport {
  readonly replica: string;
  readonly total: number;
  readonly proxies: readonly ProxyStatus[];
}

/** The report of `status` (pure): NACKing and unacknowledged proxies first when cut. */
export function buildReport(replica: string, status: readonly ProxyStatus[]): ProxyStatusReport {
  const rank = (p: ProxyStatus): number =>
    p.lastNack !== undefined && p.lastNack.version === p.lastSent ? 0 : p.lastAcked !== p.current ? 1 : 2;
  const proxies =
    status.length <= MAX_REPORTED_PROXIES
      ? [...status]
      : [...status].sort((a, b) => rank(a) - rank(b)).slice(0, MAX_REPORTED_PROXIES);
  return { replica, total: status.length, proxies };
}

/** Options of {@link ProxyStatusReporter}. */
export interface ProxyStatusReporterOptions {
  readonly client: KubeTransport;
  readonly namespace: string;
  readonly pod: string;
  readonly status: () => readonly ProxyStatus[];
  readonly logger: Logger;
  /** Default 2 s. */
  readonly intervalMs?: number;
}

/** Writes the annotation periodically; `stop()` ends it. */
export class ProxyStatusReporter {
  readonly #o: ProxyStatusReporterOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #written = '';
  #busy = false;
  #noPod = false;

  constructor(opts: ProxyStatusReporterOptions) {
    this.#o = opts;
    this.#log = opts.logger.child({ component: 'proxy-status' });
  }

  /** Starts the periodic writes. */
  start(): void {
    this.#timer = setInterval(() => void this.flush(), this.#o.intervalMs ?? 2_000).unref();
  }

  /** Writes the current report now when it changed (also used by tests). */
  async flush(): Promise<void> {
    if (this.#busy || this.#noPod) return;
    const text = JSON.stringify(buildReport(this.#o.pod, this.#o.status()));
    if (text === this.#written) return;
    this.#busy = true;
    try {
      await kubeCall(this.#o.client, {
        method: 'PATCH',
        path: `/api/v1/namespaces/${encodeURIComponent(this.#o.namespace)}/pods/${encodeURIComponent(this.#o.pod)}`,
        body: { metadata: { annotations: { [PROXY_STATUS_ANNOTATION]: text } } },
        contentType: 'application/merge-patch+json',
      });
      this.#written = text;
    } catch (err) {
      if (isKubeStatus(err, 404)) {
        // Run outside a pod (a developer's machine, tests): nothing to annotate.
        this.#noPod = true;
        this.#log.info('not running in a pod; proxy status is not published', { pod: this.#o.pod });
      } else {
        this.#log.warn('proxy status not published; retrying', { error: errorMessage(err) });
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Stops the periodic writes. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
