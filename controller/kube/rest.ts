/**
 * The controller's one JSON REST client for the Kubernetes API. A {@link KubeRest} is built
 * either from a client-node KubeConfig (authentication and TLS exactly as client-node applies
 * them) or from `{ server, token, caPem }` (bearer token, rotating projected tokens welcome).
 * Objects stay in their wire form (timestamps are RFC 3339 strings), the same form watch events
 * carry. Everything that writes goes through the one-method {@link KubeTransport} interface, so
 * tests can pass the in-memory double in `memory-client.ts`; non-2xx answers become
 * {@link KubeApiError}s carrying the HTTP status and the API `Status` reason.
 */
import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { MeshError } from '../../common/errors.ts';

/** A decoded JSON object from the API (read defensively: every field is untrusted). */
export type JsonObject = Readonly<Record<string, unknown>>;

/**
 * How the controller names itself to the API server, as Kubernetes components do
 * (`<name>/<version> (<platform>)`): audit logs show it, and the API server records the
 * controller's writes (status, provisioned waypoints) under the manager `waymesh-controller`.
 */
const USER_AGENT = `waymesh-controller/v1 (node ${process.version})`;

/** One API request: `path` is absolute (`/apis/apps/v1/namespaces/x/deployments/y`). */
export interface KubeRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  /** Defaults to `application/json`; PATCH defaults to `application/merge-patch+json`. */
  readonly contentType?: string;
}

/** The decoded answer; `body` is the parsed JSON (undefined when empty or not JSON). */
export interface KubeResponse {
  readonly status: number;
  readonly body: unknown;
  /** The raw body text, when the transport has it (used for error messages). */
  readonly text?: string;
}

/** The one call every client of the API server needs; {@link KubeRest} implements it. */
export interface KubeTransport {
  /** Sends `req`; resolves with any HTTP answer, rejects only when there is none. */
  request(req: KubeRequest): Promise<KubeResponse>;
}

/** The calls the status writer needs; {@link KubeRest} implements it. */
export interface KubeClient {
  /** GET an object in wire form; undefined when it does not exist. */
  find(path: string): Promise<unknown>;
  /** PATCH with `application/merge-patch+json`; resolves with the patched object. */
  mergePatch(path: string, patch: unknown): Promise<unknown>;
}

function hintFor(status: number): string {
  switch (status) {
    case 0:
      return 'is the API server reachable and its CA certificate the one configured?';
    case 403:
      return 'check the controller RBAC (ClusterRole) in manifests/install.yaml';
    case 404:
      return 'does the object exist, and is its CRD installed?';
    case 409:
      return 'the object changed concurrently; the next reconcile retries';
    default:
      return '';
  }
}

/**
 * A failed API call: `status` is the HTTP status (0 when there was no usable answer: unreachable,
 * timeout, oversized body), `reason` the API's `Status` reason.
 */
export class KubeApiError extends MeshError {
  readonly status: number;
  readonly reason: string;

  constructor(what: string, status: number, reason: string, message: string, cause?: unknown) {
    super('KUBE_API_ERROR', `${what}: ${status} ${reason}: ${message}`, {
      hint: hintFor(status),
      ...(cause === undefined ? {} : { cause }),
    });
    this.status = status;
    this.reason = reason;
  }
}

/** True for a {@link KubeApiError} with one of the HTTP `codes`. */
export function isKubeStatus(err: unknown, ...codes: number[]): err is KubeApiError {
  return err instanceof KubeApiError && codes.includes(err.status);
}

function asObject(v: unknown): JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : {};
}

/** The error for a non-2xx `res` to `req`. */
function apiError(req: KubeRequest, res: KubeResponse): KubeApiError {
  const o = asObject(res.body);
  const reason = typeof o['reason'] === 'string' ? o['reason'] : 'Unknown';
  const message =
    typeof o['message'] === 'string' ? o['message'] : (res.text ?? '').slice(0, 500) || `HTTP ${res.status}`;
  return new KubeApiError(`${req.method} ${req.path}`, res.status, reason, message);
}

/** Sends `req` and returns the parsed body; non-2xx becomes {@link KubeApiError}. */
export async function kubeCall(client: KubeTransport, req: KubeRequest): Promise<unknown> {
  const res = await client.request(req);
  if (res.status < 200 || res.status > 299) throw apiError(req, res);
  if (res.body === undefined && res.text !== undefined && res.text !== '') {
    throw new KubeApiError(
      `${req.method} ${req.path}`,
      res.status,
      'BadResponse',
      `HTTP ${res.status} with a body that is not JSON`,
    );
  }
  return res.body;
}

/** Like {@link kubeCall} for a GET, but a 404 yields `undefined`. */
export async function kubeGet(client: KubeTransport, path: string): Promise<unknown> {
  try {
    return await kubeCall(client, { method: 'GET', path });
  } catch (err) {
    if (isKubeStatus(err, 404)) return undefined;
    throw err;
  }
}

/** Where a kind lives in the REST API (only the kinds the controller writes). */
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

/** Bearer-token construction of {@link KubeRest}. */
export interface KubeRestOptions {
  /** Base URL of the API server, e.g. `https://10.96.0.1:443`. */
  readonly server: string;
  /** Supplies the bearer token for each request (projected tokens rotate). */
  readonly token: () => string | Promise<string>;
  /** PEM of the CA that signed the API server's certificate; the system roots when omitted. */
  readonly caPem?: string | Buffer;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number;
  /** Largest response body accepted (default 4 MiB: a Secret is at most 1 MiB). */
  readonly maxBodyBytes?: number;
}

type Auth =
  | { readonly kind: 'kubeconfig'; readonly kc: KubeConfig }
  | { readonly kind: 'token'; readonly opts: KubeRestOptions };

function isKubeConfig(v: KubeConfig | KubeRestOptions): v is KubeConfig {
  return typeof (v as Partial<KubeConfig>).getCurrentCluster === 'function';
}

/** JSON requests against one API server. */
export class KubeRest implements KubeTransport, KubeClient {
  readonly #auth: Auth;
  readonly #server: URL;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;

  constructor(source: KubeConfig | KubeRestOptions) {
    if (isKubeConfig(source)) {
      const cluster = source.getCurrentCluster();
      if (cluster === null)
        throw new MeshError('KUBECONFIG_INVALID', 'the kubeconfig has no current cluster');
      this.#auth = { kind: 'kubeconfig', kc: source };
      this.#server = new URL(cluster.server);
      this.#timeoutMs = 30_000;
      this.#maxBodyBytes = Number.POSITIVE_INFINITY;
    } else {
      this.#auth = { kind: 'token', opts: source };
      this.#server = new URL(source.server);
      if (this.#server.protocol !== 'https:')
        throw new MeshError('KUBE_CONFIG_INVALID', `API server URL must use https, got ${source.server}`);
      this.#timeoutMs = source.timeoutMs ?? 10_000;
      this.#maxBodyBytes = source.maxBodyBytes ?? 4 * 1024 * 1024;
    }
  }

  /** Sends one request; any HTTP answer resolves, no answer rejects with a status-0 error. */
  async request(req: KubeRequest): Promise<KubeResponse> {
    const what = `${req.method} ${req.path}`;
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    if (payload !== undefined) {
      headers['content-type'] =
        req.contentType ?? (req.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
      headers['content-length'] = String(payload.length);
    }
    const opts: RequestOptions & { headers: Record<string, string> } = {
      method: req.method,
      hostname: this.#server.hostname,
      port: this.#server.port === '' ? 443 : Number(this.#server.port),
      path: req.path,
      headers,
      timeout: this.#timeoutMs,
    };
    if (this.#auth.kind === 'kubeconfig') {
      await this.#auth.kc.applyToHTTPSOptions(opts);
    } else {
      headers['authorization'] = `Bearer ${await this.#auth.opts.token()}`;
      if (this.#auth.opts.caPem !== undefined) opts.ca = this.#auth.opts.caPem;
    }
    const max = this.#maxBodyBytes;
    return new Promise<KubeResponse>((resolve, reject) => {
      const r = request(opts, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) {
            r.destroy(new KubeApiError(what, 0, 'TooLarge', `response larger than ${max} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text === '' ? undefined : (JSON.parse(text) as unknown);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
      });
      r.on('timeout', () =>
        r.destroy(new KubeApiError(what, 0, 'Timeout', `no answer within ${this.#timeoutMs} ms`)),
      );
      r.on('error', (err) =>
        reject(
          err instanceof KubeApiError ? err : new KubeApiError(what, 0, 'Unreachable', err.message, err),
        ),
      );
      r.end(payload);
    });
  }

  /** Sends one request; resolves with the parsed body (undefined when empty), non-2xx rejects. */
  call(method: KubeRequest['method'], path: string, body?: unknown, contentType?: string): Promise<unknown> {
    return kubeCall(this, { method, path, body, ...(contentType === undefined ? {} : { contentType }) });
  }

  /** GET an object; a missing one (404) rejects like any other failure. */
  async get(path: string): Promise<JsonObject> {
    return asObject(await this.call('GET', path));
  }

  /** GET an object; undefined when it does not exist (404). */
  find(path: string): Promise<unknown> {
    return kubeGet(this, path);
  }

  /** GET a list; 404 is an error here (the caller decides what a missing resource means). */
  list(path: string): Promise<unknown> {
    return this.call('GET', path);
  }

  /** POST a new object; resolves with what the server stored. */
  create(path: string, obj: unknown): Promise<unknown> {
    return this.call('POST', path, obj);
  }

  /** POST `body` to `path` (create, or a review request); resolves with the answer as an object. */
  async post(path: string, body: JsonObject): Promise<JsonObject> {
    return asObject(await this.call('POST', path, body));
  }

  /** PATCH with a JSON merge patch (RFC 7386). */
  mergePatch(path: string, patch: unknown): Promise<unknown> {
    return this.call('PATCH', path, patch, 'application/merge-patch+json');
  }

  /** DELETE; resolves false when the object was already gone. */
  async delete(path: string): Promise<boolean> {
    try {
      await this.call('DELETE', path);
      return true;
    } catch (err) {
      if (isKubeStatus(err, 404)) return false;
      throw err;
    }
  }
}
