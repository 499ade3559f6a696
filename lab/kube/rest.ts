/**
 * A small JSON REST client for the lab's own components (controllers, kubelets, supervisor).
 * Authentication and TLS come from a client-node KubeConfig (or the lab's own kubeconfig reader),
 * so it speaks to the API server exactly as kubectl and client-node do; errors carry the server's
 * `Status`.
 */
import { request, type RequestOptions } from 'node:https';
import { MeshError } from '../../common/errors.ts';

/** The patch content types the lab uses. */
export type PatchType = 'merge' | 'json' | 'strategic';

const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

/** A failed API call: `status` is the HTTP code, `reason` the Status reason. */
export class ApiCallError extends MeshError {
  readonly status: number;
  readonly reason: string;

  constructor(method: string, path: string, status: number, reason: string, message: string) {
    super(`API_${status}`, `${method} ${path}: ${status} ${reason}: ${message}`);
    this.status = status;
    this.reason = reason;
  }
}

/** True for an ApiCallError with one of `statuses`. */
export function isApiStatus(err: unknown, ...statuses: number[]): boolean {
  return err instanceof ApiCallError && statuses.includes(err.status);
}

/**
 * What LabApi needs of a kubeconfig: client-node's `KubeConfig` has it, and so has the lab's
 * light reader (`lab-kubeconfig.ts`).
 */
export interface ApiCredentials {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

/** JSON requests against the cluster of a kubeconfig. */
export class LabApi {
  readonly #kc: ApiCredentials;
  readonly #server: URL;
  readonly #userAgent: string;

  /**
   * `userAgent` names the client as Kubernetes components do (`kubelet/v1.31.0 …`): the API
   * server records writes under its prefix (`metadata.managedFields[].manager`) and logs it.
   */
  constructor(kc: ApiCredentials, userAgent = 'waymesh-lab/v1') {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new MeshError('KUBECONFIG_INVALID', 'the kubeconfig has no current cluster');
    this.#kc = kc;
    this.#server = new URL(cluster.server);
    this.#userAgent = userAgent;
  }

  /** Sends one request; resolves with the parsed JSON body (undefined for empty bodies). */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const opts: RequestOptions & { headers: Record<string, string> } = {
      method,
      hostname: this.#server.hostname,
      port: this.#server.port === '' ? 443 : Number(this.#server.port),
      path,
      headers: { accept: 'application/json', 'user-agent': this.#userAgent },
    };
    await this.#kc.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload !== undefined) {
      opts.headers['content-type'] = contentType;
      opts.headers['content-length'] = String(payload.length);
    }
    return new Promise<T>((resolve, reject) => {
      const req = request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolve((text === '' ? undefined : JSON.parse(text)) as T);
            return;
          }
          let reason = 'Unknown';
          let message = text.slice(0, 500);
          try {
            const s = JSON.parse(text) as { reason?: string; message?: string };
            reason = s.reason ?? reason;
            message = s.message ?? message;
          } catch {
            // not a Status body; keep the raw text
          }
          reject(new ApiCallError(method, path, status, reason, message));
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: timed out after 30 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** GET an object; undefined when it does not exist. */
  async get<T>(path: string): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', path);
    } catch (err) {
      if (isApiStatus(err, 404)) return undefined;
      throw err;
    }
  }

  /** POST a new object; resolves undefined when it already exists (409 AlreadyExists). */
  async createIfAbsent<T>(path: string, obj: unknown): Promise<T | undefined> {
    try {
      return await this.request<T>('POST', path, obj);
    } catch (err) {
      if (err instanceof ApiCallError && err.status === 409 && err.reason === 'AlreadyExists')
        return undefined;
      throw err;
    }
  }

  /** PATCH with the given patch type. */
  patch<T>(path: string, patch: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.request<T>('PATCH', path, patch, PATCH_CONTENT_TYPE[type]);
  }

  /** DELETE; resolves false when the object was already gone. */
  async delete(
    path: string,
    options?: { gracePeriodSeconds?: number; propagationPolicy?: string },
  ): Promise<boolean> {
    try {
      await this.request(
        'DELETE',
        path,
        options === undefined ? undefined : { kind: 'DeleteOptions', apiVersion: 'v1', ...options },
      );
      return true;
    } catch (err) {
      if (isApiStatus(err, 404)) return false;
      throw err;
    }
  }
}
