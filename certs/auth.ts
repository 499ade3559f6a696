/**
 * Who may obtain which identity. The CA service asks an authenticator who the caller is and an
 * authorizer whether that caller may obtain the identity it requests; the controller plugs in
 * TokenReview and "pods on your node" rules. The simple implementations here serve the CLI,
 * component tests and single-process setups.
 */
import { MeshError } from '../common/errors.ts';
import type { WorkloadId } from '../common/spiffe.ts';

/** An authenticated caller of the CA. */
export interface CaCaller {
  /** Display name for logs, e.g. `system:serviceaccount:waymesh-system:node-agent`. */
  readonly name: string;
  /** The caller's own namespace and service account, when it is a Kubernetes workload. */
  readonly namespace?: string;
  readonly serviceAccount?: string;
}

/** What the caller presented. */
export interface CaCredentials {
  /** The bearer token from `authorization` metadata, if any. */
  readonly token: string | undefined;
  /** The caller's network address, for logs. */
  readonly peer: string;
}

/** Establishes who is calling; throws `CA_UNAUTHENTICATED` to refuse. */
export interface CaAuthenticator {
  authenticate(credentials: CaCredentials): Promise<CaCaller>;
}

/** A decision with the reason an operator will read. */
export type CaDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** Decides whether `caller` may obtain `identity` (`impersonated`: on behalf of a pod). */
export interface CaAuthorizer {
  authorize(caller: CaCaller, identity: WorkloadId, impersonated: boolean): Promise<CaDecision>;
}

/** Authenticates callers by a fixed token table (CLI, tests, single-process labs). */
export class StaticTokenAuthenticator implements CaAuthenticator {
  readonly #tokens: ReadonlyMap<string, CaCaller>;

  constructor(tokens: ReadonlyMap<string, CaCaller>) {
    this.#tokens = tokens;
  }

  authenticate(credentials: CaCredentials): Promise<CaCaller> {
    if (credentials.token === undefined) {
      return Promise.reject(
        new MeshError('CA_UNAUTHENTICATED', 'no bearer token in the request', {
          hint: 'send "authorization: Bearer <service-account token>" metadata',
        }),
      );
    }
    const caller = this.#tokens.get(credentials.token);
    if (caller === undefined)
      return Promise.reject(new MeshError('CA_UNAUTHENTICATED', 'the bearer token is not recognised'));
    return Promise.resolve(caller);
  }
}

/**
 * The baseline rule: a caller may obtain only its own workload identity, never on behalf of
 * someone else. Node agents need the controller's node-aware authorizer instead.
 */
export const ownIdentityAuthorizer: CaAuthorizer = {
  authorize(caller, identity, impersonated) {
    if (impersonated) {
      return Promise.resolve({
        allowed: false,
        reason: `${caller.name} may not request certificates on behalf of other workloads`,
      });
    }
    if (caller.namespace === identity.namespace && caller.serviceAccount === identity.serviceAccount) {
      return Promise.resolve({ allowed: true });
    }
    return Promise.resolve({
      allowed: false,
      reason: `${caller.name} may obtain only its own identity, not ns/${identity.namespace}/sa/${identity.serviceAccount}`,
    });
  },
};
