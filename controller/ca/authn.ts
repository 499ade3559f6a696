/**
 * Authenticates CA callers by their service-account token: the controller asks the API server
 * with a `TokenReview` (authentication.k8s.io/v1) and keeps the bound pod and node the token
 * carries, which the authorizer needs to decide what a node agent may obtain.
 */
import { MeshError } from '../../common/errors.ts';
import type { CaAuthenticator, CaCaller, CaCredentials } from '../../certs/index.ts';
import type { JsonObject, KubeRest } from '../kube/rest.ts';

/** A CA caller known by a service-account token, with the pod/node the token is bound to. */
export interface KubeCaCaller extends CaCaller {
  /** The pod the token is bound to (`authentication.kubernetes.io/pod-name` / `pod-uid`). */
  readonly pod?: { readonly name: string; readonly uid: string };
  /** The node of the bound pod (`authentication.kubernetes.io/node-name`). */
  readonly nodeName?: string;
}

/** Options for {@link TokenReviewAuthenticator}. */
export interface TokenReviewOptions {
  readonly client: KubeRest;
  /** Audiences the token must carry; the API server's default audience when omitted. */
  readonly audiences?: readonly string[];
}

const SA_USER_RE = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;
const EXTRA = {
  podName: 'authentication.kubernetes.io/pod-name',
  podUid: 'authentication.kubernetes.io/pod-uid',
  nodeName: 'authentication.kubernetes.io/node-name',
} as const;

function asObject(v: unknown): JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : {};
}

/** The single value of a `status.user.extra` entry, or undefined when absent or ambiguous. */
function extraValue(extra: JsonObject, key: string): string | undefined {
  const v = extra[key];
  if (!Array.isArray(v) || v.length !== 1) return undefined;
  const first: unknown = v[0];
  return typeof first === 'string' && first !== '' ? first : undefined;
}

function unauthenticated(message: string, hint = ''): MeshError {
  return new MeshError('CA_UNAUTHENTICATED', message, { hint });
}

/**
 * Turns a TokenReview answer into a caller; throws `CA_UNAUTHENTICATED` when the token was
 * refused or does not stand for a service account. Pure, so it is tested on its own.
 */
export function callerFromTokenReview(review: JsonObject): KubeCaCaller {
  const status = asObject(review['status']);
  if (status['authenticated'] !== true) {
    const why =
      typeof status['error'] === 'string' && status['error'] !== '' ? status['error'] : 'no reason given';
    throw unauthenticated(
      `the API server refused the bearer token: ${why}`,
      'send a current service-account token',
    );
  }
  const user = asObject(status['user']);
  const username = typeof user['username'] === 'string' ? user['username'] : '';
  const m = SA_USER_RE.exec(username);
  const namespace = m?.[1];
  const serviceAccount = m?.[3];
  if (namespace === undefined || serviceAccount === undefined) {
    throw unauthenticated(
      `the bearer token authenticates ${JSON.stringify(username)}, which is not a service account`,
      'the CA serves workloads; use a service-account token',
    );
  }
  const extra = asObject(user['extra']);
  const podName = extraValue(extra, EXTRA.podName);
  const podUid = extraValue(extra, EXTRA.podUid);
  const nodeName = extraValue(extra, EXTRA.nodeName);
  return Object.freeze({
    name: username,
    namespace,
    serviceAccount,
    ...(podName !== undefined && podUid !== undefined
      ? { pod: Object.freeze({ name: podName, uid: podUid }) }
      : {}),
    ...(nodeName !== undefined ? { nodeName } : {}),
  });
}

/** Validates bearer tokens with TokenReview against the API server. */
export class TokenReviewAuthenticator implements CaAuthenticator {
  readonly #client: KubeRest;
  readonly #audiences: readonly string[] | undefined;

  constructor(opts: TokenReviewOptions) {
    this.#client = opts.client;
    this.#audiences = opts.audiences;
  }

  async authenticate(credentials: CaCredentials): Promise<KubeCaCaller> {
    if (credentials.token === undefined || credentials.token === '') {
      throw unauthenticated(
        'no bearer token in the request',
        'send "authorization: Bearer <service-account token>" metadata',
      );
    }
    const review = await this.#client.post('/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: {
        token: credentials.token,
        ...(this.#audiences === undefined ? {} : { audiences: [...this.#audiences] }),
      },
    });
    return callerFromTokenReview(review);
  }
}
