/**
 * A small JSON REST client for the controller's kube side. Authentication and TLS come from a
 * client-node KubeConfig (exactly as client-node itself talks to the API server); objects stay
 * in their wire form (timestamps are RFC 3339 strings), the same form watch events carry, so the
 * informer caches never mix deserialised and raw objects. Errors carry the server's `Status`.
 */
import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { MeshError } from '../../common/errors.ts';

/** A failed API call: `statusCode` is the HTTP code, `reason` the Status reason. */
export class KubeApiError extends MeshError {
  readonly statusCode: number;
  readonly reason: string;

  constructor(method: string, path: string, statusCode: number, reason: string, message: string) {
    super(`KUBE_API_${statusCode}`, `${method} ${path}: ${statusCode} ${reason}: ${message}`, {
      hint:
        statusCode === 403
          ? 'check the controller ClusterRole in manifests/install.yaml'
          : statusCode === 404
            ? 'is the CRD installed?'
            : '',
    });
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

/** True for a KubeApiError with one of `codes`. */
export function isKubeStatus(err: unknown, ...codes: number[]): boolean {
  return err instanceof KubeApiError && codes.includes(err.statusCode);
}

/** The calls the status writer needs; {@link KubeRest} implements it. */
export interface KubeClient {
  /** GET an object in wire form; undefined when it does not exist. */
  get(path: string): Promise<unknown>;
  /** PATCH with `application/merge-patch+json`; resolves with the patched object. */
  mergePatch(path: string, patch: unknown): Promise<unknown>;
}

const TIMEOUT_MS = 30_000;

/** JSON requests against the cluster of a KubeConfig. */
export class KubeRest implements KubeClient {
  readonly #kc: KubeConfig;
  readonly #server: URL;

  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new MeshError('KUBECONFIG_INVALID', 'the kubeconfig has no current cluster');
    this.#kc = kc;
    this.#server = new URL(cluster.server);
  }

  /** Sends one request; resolves with the parsed JSON body (undefined for an empty body). */
  async request(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<unknown> {
    const opts: RequestOptions & { headers: Record<string, string> } = {
      method,
      hostname: this.#server.hostname,
      port: this.#server.port === '' ? 443 : Number(this.#server.port),
      path,
      headers: { accept: 'application/json' },
    };
    await this.#kc.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload !== undefined) {
      opts.headers['content-type'] = contentType;
      opts.headers['content-length'] = String(payload.length);
    }
    return new Promise<unknown>((resolve, reject) => {
      const req = request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve(text === '' ? undefined : (JSON.parse(text) as unknown));
            } catch (err) {
              reject(
                new MeshError('KUBE_API_BAD_JSON', `${method} ${path}: unparsable response body`, {
                  cause: err,
                }),
              );
            }
            return;
          }
          let reason = 'Unknown';
          let message = text.slice(0, 500);
          try {
            const s = JSON.parse(text) as { reason?: unknown; message?: unknown };
            if (typeof s.reason === 'string') reason = s.reason;
            if (typeof s.message === 'string') message = s.message;
          } catch {
            // Not a Status body (e.g. a proxy's HTML error page): keep the raw text.
          }
          reject(new KubeApiError(method, path, status, reason, message));
        });
      });
      req.setTimeout(TIMEOUT_MS, () =>
        req.destroy(
          new MeshError('KUBE_API_TIMEOUT', `${method} ${path}: no answer within ${TIMEOUT_MS} ms`),
        ),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** GET an object; undefined when it does not exist (404). */
  async get(path: string): Promise<unknown> {
    try {
      return await this.request('GET', path);
    } catch (err) {
      if (isKubeStatus(err, 404)) return undefined;
      throw err;
    }
  }

  /** GET a list; 404 is an error here (the caller decides what a missing resource means). */
  list(path: string): Promise<unknown> {
    return this.request('GET', path);
  }

  /** POST a new object. */
  create(path: string, obj: unknown): Promise<unknown> {
    return this.request('POST', path, obj);
  }

  /** PATCH with a JSON merge patch (RFC 7386). */
  mergePatch(path: string, patch: unknown): Promise<unknown> {
    return this.request('PATCH', path, patch, 'application/merge-patch+json');
  }

  /** DELETE; resolves false when the object was already gone. */
  async delete(path: string): Promise<boolean> {
    try {
      await this.request('DELETE', path);
      return true;
    } catch (err) {
      if (isKubeStatus(err, 404)) return false;
      throw err;
    }
  }
}
