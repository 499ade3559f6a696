/**
 * A small JSON client for the Kubernetes REST API, used by the waypoint provisioner and the
 * leader elector. Effects go through the {@link KubeRestClient} interface so unit tests pass an
 * in-memory implementation; {@link HttpsKubeClient} speaks HTTPS with a bearer token.
 * (`controller/kube/` did not exist when this was written; fold into it once it does.)
 */
import { request } from 'node:https';
import { MeshError } from '../../common/errors.ts';

/** One API request: `path` is absolute (`/apis/apps/v1/namespaces/x/deployments/y`). */
export interface KubeRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  /** Defaults to `application/json`; PATCH uses `application/merge-patch+json`. */
  readonly contentType?: string;
}

/** The decoded answer; `body` is the parsed JSON (or undefined when empty/not JSON). */
export interface KubeResponse {
  readonly status: number;
  readonly body: unknown;
}

/** What the provisioner and the elector need from the API server. */
export interface KubeRestClient {
  request(req: KubeRequest): Promise<KubeResponse>;
}

/** A non-2xx answer from the API server, with its HTTP status and Kubernetes `reason`. */
export class KubeApiError extends MeshError {
  readonly status: number;
  readonly reason: string;

  constructor(req: KubeRequest, status: number, body: unknown) {
    const o = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const reason = typeof o['reason'] === 'string' ? o['reason'] : '';
    const message = typeof o['message'] === 'string' ? o['message'] : `HTTP ${status}`;
    super('KUBE_API_ERROR', `${req.method} ${req.path}: ${status} ${reason} ${message}`.trim(), {
      hint:
        status === 403
          ? 'does the controller ServiceAccount have RBAC for this resource?'
          : status === 409
            ? 'the object changed concurrently; the next reconcile retries'
            : '',
    });
    this.status = status;
    this.reason = reason;
  }
}

/** Sends `req` and returns the parsed body; non-2xx becomes {@link KubeApiError}. */
export async function kubeCall(client: KubeRestClient, req: KubeRequest): Promise<unknown> {
  const res = await client.request(req);
  if (res.status < 200 || res.status > 299) throw new KubeApiError(req, res.status, res.body);
  return res.body;
}

/** Like {@link kubeCall} for a GET, but a 404 yields `undefined`. */
export async function kubeGet(client: KubeRestClient, path: string): Promise<unknown> {
  const res = await client.request({ method: 'GET', path });
  if (res.status === 404) return undefined;
  if (res.status < 200 || res.status > 299)
    throw new KubeApiError({ method: 'GET', path }, res.status, res.body);
  return res.body;
}

/** Where a kind lives in the REST API (only the kinds this folder touches). */
const RESOURCES: Readonly<Record<string, { prefix: string; plural: string; namespaced: boolean }>> = {
  ServiceAccount: { prefix: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  Service: { prefix: '/api/v1', plural: 'services', namespaced: true },
  Deployment: { prefix: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  Gateway: { prefix: '/apis/gateway.networking.k8s.io/v1', plural: 'gateways', namespaced: true },
  GatewayClass: { prefix: '/apis/gateway.networking.k8s.io/v1', plural: 'gatewayclasses', namespaced: false },
  Lease: { prefix: '/apis/coordination.k8s.io/v1', plural: 'leases', namespaced: true },
};

/** The collection path of `kind` (in `namespace` when namespaced), or the object path with `name`. */
export function resourcePath(kind: string, namespace: string | undefined, name?: string): string {
  const r = RESOURCES[kind];
  if (r === undefined) throw new MeshError('KUBE_UNKNOWN_KIND', `no REST path known for kind ${kind}`);
  const ns = r.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? 'default')}` : '';
  const tail = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  return `${r.prefix}${ns}/${r.plural}${tail}`;
}

/** Options of {@link HttpsKubeClient}. */
export interface HttpsKubeClientOptions {
  /** `https://host:port` of the API server. */
  readonly server: string;
  readonly token: string;
  /** PEM of the CA that signed the API server's certificate. */
  readonly ca: string | Buffer;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number;
}

/** {@link KubeRestClient} over node:https with a bearer token. */
export class HttpsKubeClient implements KubeRestClient {
  readonly #opts: HttpsKubeClientOptions;
  readonly #url: URL;

  constructor(opts: HttpsKubeClientOptions) {
    this.#opts = opts;
    this.#url = new URL(opts.server);
  }

  /** Sends one request and parses the JSON answer. */
  request(req: KubeRequest): Promise<KubeResponse> {
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    const contentType =
      req.contentType ?? (req.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
    return new Promise((resolve, reject) => {
      const r = request(
        {
          host: this.#url.hostname,
          port: this.#url.port === '' ? 443 : Number(this.#url.port),
          path: req.path,
          method: req.method,
          ca: this.#opts.ca,
          timeout: this.#opts.timeoutMs ?? 10_000,
          headers: {
            accept: 'application/json',
            authorization: `Bearer ${this.#opts.token}`,
            ...(payload === undefined
              ? {}
              : { 'content-type': contentType, 'content-length': String(Buffer.byteLength(payload)) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = text === '' ? undefined : (JSON.parse(text) as unknown);
            } catch {
              body = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body });
          });
        },
      );
      r.on('timeout', () =>
        r.destroy(
          new MeshError('KUBE_TIMEOUT', `${req.method} ${req.path} timed out`, {
            hint: 'is the API server reachable from the controller?',
          }),
        ),
      );
      r.on('error', reject);
      r.end(payload);
    });
  }
}
