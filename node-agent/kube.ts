/**
 * The node agent's two Kubernetes API calls: read a Pod (its annotations carry the lab's netns
 * path and the capture exclusions) and merge-patch its `waymesh.io/redirection` annotation.
 * Authentication and TLS come from a client-node KubeConfig (in-cluster, or `--kubeconfig`);
 * objects are read defensively and narrowed once into {@link PodInfo}.
 */
import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

import { errorMessage, MeshError } from '../common/errors.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import type { CaptureAnnotator } from './capture/manager.ts';
import { REDIRECTION_ANNOTATION } from './capture/manager.ts';
import type { CapturePod } from './capture/listeners.ts';

/** What the agent needs of a Pod. */
export interface PodInfo {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** `status.podIPs` (else `status.podIP`); empty while the pod has none. */
  readonly ips: readonly string[];
}

/** The Pod calls of the agent; {@link KubePodApi} talks to the API server, tests pass a fake. */
export interface PodApi {
  /** The pod, or undefined when it does not exist (any other failure rejects). */
  get(namespace: string, name: string): Promise<PodInfo | undefined>;
  /** Sets (`true`) or removes (`false`) the redirection annotation; a missing pod is not an error. */
  setRedirection(namespace: string, name: string, enabled: boolean): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

function record(v: unknown): Readonly<Record<string, unknown>> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(record(v))) if (typeof s === 'string') out[k] = s;
  return out;
}

/** Narrows a Pod in wire form into {@link PodInfo}; undefined when it lacks uid, namespace or name. */
export function podInfoFrom(obj: unknown): PodInfo | undefined {
  const meta = record(record(obj)['metadata']);
  const status = record(record(obj)['status']);
  const { uid, namespace, name } = meta;
  if (typeof uid !== 'string' || typeof namespace !== 'string' || typeof name !== 'string') return undefined;
  const listed = Array.isArray(status['podIPs'])
    ? status['podIPs'].map((e) => record(e)['ip']).filter((ip): ip is string => typeof ip === 'string')
    : [];
  const single = typeof status['podIP'] === 'string' && status['podIP'] !== '' ? [status['podIP']] : [];
  return Object.freeze({
    uid,
    namespace,
    name,
    annotations: Object.freeze(strings(meta['annotations'])),
    ips: Object.freeze(listed.length > 0 ? listed : single),
  });
}

/**
 * How the agent names itself to the API server (`<name>/<version> (<platform>)`, as Kubernetes
 * components do): its pod annotations are recorded under the manager `waymesh-node-agent`.
 */
const USER_AGENT = `waymesh-node-agent/v1 (node ${process.version})`;

/** {@link PodApi} over HTTPS with a client-node KubeConfig. */
export class KubePodApi implements PodApi {
  readonly #kc: KubeConfig;
  readonly #server: URL;
  readonly #timeoutMs: number;

  constructor(kubeConfig: KubeConfig, options: { timeoutMs?: number } = {}) {
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) {
      throw new MeshError('KUBECONFIG_INVALID', 'the kubeconfig has no current cluster', {
        hint: 'run in a pod (in-cluster config) or pass --kubeconfig with a current context',
      });
    }
    this.#kc = kubeConfig;
    this.#server = new URL(cluster.server);
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  async get(namespace: string, name: string): Promise<PodInfo | undefined> {
    const res = await this.#call('GET', podPath(namespace, name));
    if (res.status === 404) return undefined;
    const pod = podInfoFrom(res.body);
    if (pod === undefined) throw this.#error('GET', podPath(namespace, name), res.status, 'not a Pod');
    return pod;
  }

  async setRedirection(namespace: string, name: string, enabled: boolean): Promise<void> {
    const patch = { metadata: { annotations: { [REDIRECTION_ANNOTATION]: enabled ? 'enabled' : null } } };
    // A 404 (pod already deleted) resolves: there is nothing left to annotate.
    await this.#call('PATCH', podPath(namespace, name), patch);
  }

  async #call(
    method: 'GET' | 'PATCH',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    if (payload !== undefined) {
      headers['content-type'] = 'application/merge-patch+json';
      headers['content-length'] = String(payload.length);
    }
    const opts: RequestOptions & { headers: Record<string, string> } = {
      method,
      hostname: this.#server.hostname,
      port: this.#server.port === '' ? 443 : Number(this.#server.port),
      path,
      headers,
      timeout: this.#timeoutMs,
    };
    await this.#kc.applyToHTTPSOptions(opts);
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(opts, (r) => {
        const chunks: Buffer[] = [];
        let size = 0;
        r.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) req.destroy(this.#error(method, path, 0, 'response too large'));
          else chunks.push(c);
        });
        r.on('error', reject);
        r.on('end', () =>
          resolve({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      });
      req.on('timeout', () =>
        req.destroy(this.#error(method, path, 0, `no answer within ${this.#timeoutMs} ms`)),
      );
      req.on('error', (err) =>
        reject(err instanceof MeshError ? err : this.#error(method, path, 0, err.message)),
      );
      req.end(payload);
    });
    let parsed: unknown;
    try {
      parsed = res.text === '' ? undefined : JSON.parse(res.text);
    } catch {
      parsed = undefined;
    }
    if (res.status === 404 || (res.status >= 200 && res.status < 300))
      return { status: res.status, body: parsed };
    const message = record(parsed)['message'];
    throw this.#error(
      method,
      path,
      res.status,
      typeof message === 'string' ? message : res.text.slice(0, 300),
    );
  }

  #error(method: string, path: string, status: number, why: string): MeshError {
    return new MeshError(
      'KUBE_API_ERROR',
      `${method} ${path}: ${status === 0 ? 'no answer' : status}: ${why}`,
      {
        hint:
          status === 403
            ? 'the node agent needs get and patch on pods (ClusterRole waymesh-node-agent)'
            : status === 0
              ? 'is the API server reachable from the node (hostNetwork)?'
              : '',
      },
    );
  }
}

function podPath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
}

/**
 * The capture manager's annotator over `pods`. A failed `enabled` patch rejects, so the capture
 * counts as failed and the agent's retry patches again (re-applying rules is idempotent); a
 * failed `disabled` patch is only logged, since the pod's traffic is already plain.
 */
export function podAnnotator(pods: PodApi, logger: Logger = silentLogger): CaptureAnnotator {
  const log = logger.child({ component: 'annotator' });
  return {
    enabled: (pod) => pods.setRedirection(pod.namespace, pod.name, true),
    disabled: async (pod: CapturePod) => {
      try {
        await pods.setRedirection(pod.namespace, pod.name, false);
      } catch (err) {
        log.warn('cannot remove the redirection annotation', {
          pod: `${pod.namespace}/${pod.name}`,
          error: errorMessage(err),
        });
      }
    },
  };
}
