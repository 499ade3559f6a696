/**
 * A small JSON client for the Kubernetes API, enough for the CA's needs (Secrets, TokenReview):
 * one HTTPS request per call, bearer-token auth, API `Status` failures turned into
 * {@link KubeApiError}s that carry the HTTP status and the API's `reason`.
 */
import { request } from 'node:https';
import { MeshError } from '../../common/errors.ts';

/** A decoded JSON object from the API (read defensively: every field is untrusted). */
export type JsonObject = Readonly<Record<string, unknown>>;

/** Options for {@link KubeRestClient}. */
export interface KubeRestOptions {
  /** Base URL of the API server, e.g. `https://10.96.0.1:443`. */
  readonly server: string;
  /** Supplies the bearer token for each request (projected tokens rotate). */
  readonly token: () => string | Promise<string>;
  /** PEM of the CA that signed the API server's certificate; the system roots when omitted. */
  readonly caPem?: string;
  readonly timeoutMs?: number;
}

/** Largest response body accepted (a Secret is at most 1 MiB). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** A failed API call: `status` is the HTTP status (0 when no response), `reason` the API's reason. */
export class KubeApiError extends MeshError {
  readonly status: number;
  readonly reason: string;

  constructor(
    status: number,
    reason: string,
    message: string,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super('KUBE_API_ERROR', message, options);
    this.status = status;
    this.reason = reason;
  }
}

/** True when `err` is an API error with HTTP `status`. */
export function isKubeStatus(err: unknown, status: number): err is KubeApiError {
  return err instanceof KubeApiError && err.status === status;
}

function asObject(v: unknown): JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : {};
}

/** The JSON API client the CA uses; no retries (callers decide). */
export class KubeRestClient {
  readonly #opts: KubeRestOptions;
  readonly #base: URL;

  constructor(opts: KubeRestOptions) {
    this.#opts = opts;
    this.#base = new URL(opts.server);
    if (this.#base.protocol !== 'https:') {
      throw new MeshError('KUBE_CONFIG_INVALID', `API server URL must use https, got ${opts.server}`);
    }
  }

  /** GET `path`; resolves with the object or rejects with a {@link KubeApiError}. */
  get(path: string): Promise<JsonObject> {
    return this.request('GET', path);
  }

  /** POST `body` to `path` (create); resolves with what the server stored. */
  post(path: string, body: JsonObject): Promise<JsonObject> {
    return this.request('POST', path, body);
  }

  /** Sends one request; 2xx bodies resolve, anything else rejects with a {@link KubeApiError}. */
  async request(method: string, path: string, body?: JsonObject): Promise<JsonObject> {
    const token = await this.#opts.token();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const url = new URL(path, this.#base);
    const what = `${method} ${url.pathname}`;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ca: this.#opts.caPem,
          timeout: this.#opts.timeoutMs ?? 10_000,
          headers: {
            accept: 'application/json',
            authorization: `Bearer ${token}`,
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY_BYTES) {
              req.destroy(
                new KubeApiError(0, 'TooLarge', `${what}: response larger than ${MAX_BODY_BYTES} bytes`),
              );
              return;
            }
            chunks.push(c);
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new KubeApiError(0, 'Timeout', `${what}: no answer from the API server`)),
      );
      req.on('error', (err) =>
        reject(
          err instanceof KubeApiError
            ? err
            : new KubeApiError(0, 'Unreachable', `${what}: ${err.message}`, {
                hint: 'is the API server reachable and its CA certificate the one configured?',
                cause: err,
              }),
        ),
      );
      req.end(payload);
    });
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new KubeApiError(status, 'BadResponse', `${what}: HTTP ${status} with a body that is not JSON`);
    }
    const obj = asObject(parsed);
    if (status >= 200 && status < 300) return obj;
    const reason = typeof obj['reason'] === 'string' ? obj['reason'] : 'Unknown';
    const message = typeof obj['message'] === 'string' ? obj['message'] : text.slice(0, 200);
    throw new KubeApiError(status, reason, `${what}: HTTP ${status} ${reason}: ${message}`, {
      hint: status === 403 ? 'check the controller RBAC in manifests/install.yaml' : '',
    });
  }
}
