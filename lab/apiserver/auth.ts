/**
 * Authentication: the admin bearer token and service-account JWTs (ES256, claims shaped like
 * Kubernetes' bound tokens). Signing and verification are pure over the key; whether the bound
 * service account / pod still exists is checked by the caller-provided lookup.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomUUID,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { MeshError } from '../../common/errors.ts';

/** An authenticated caller. */
export interface UserInfo {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** The `kubernetes.io` private claim. */
export interface KubeClaim {
  namespace: string;
  serviceaccount: { name: string; uid: string };
  pod?: { name: string; uid: string };
  node?: { name: string; uid: string };
}

/** Claims of a service-account token. */
export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  'kubernetes.io': KubeClaim;
}

function b64url(buf: Buffer | string): string {
  return Buffer.from(buf).toString('base64url');
}

/** Signs and verifies service-account tokens with one EC P-256 key. */
export class TokenSigner {
  readonly #priv: KeyObject;
  readonly #pub: KeyObject;
  readonly issuer: string;
  /** Key id: SHA-256 of the public key DER, as kube-apiserver derives it. */
  readonly kid: string;

  constructor(privateKeyPem: string, issuer: string) {
    try {
      this.#priv = createPrivateKey(privateKeyPem);
    } catch (err) {
      throw new MeshError(
        'LAB_SIGNING_KEY_INVALID',
        'the service-account signing key is not a valid PEM private key',
        { cause: err },
      );
    }
    if (
      this.#priv.asymmetricKeyType !== 'ec' ||
      this.#priv.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
    ) {
      throw new MeshError(
        'LAB_SIGNING_KEY_INVALID',
        'the service-account signing key must be an EC P-256 key (ES256)',
      );
    }
    this.#pub = createPublicKey(this.#priv);
    this.issuer = issuer;
    this.kid = createHash('sha256')
      .update(this.#pub.export({ type: 'spki', format: 'der' }))
      .digest('base64url');
  }

  /** The public key as PEM (for OIDC-style discovery by other components). */
  publicKeyPem(): string {
    return this.#pub.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** Issues a token for `claim`, valid from `now` for `expirationSeconds`. */
  issue(
    claim: KubeClaim,
    audiences: string[],
    expirationSeconds: number,
    now: Date,
  ): { token: string; claims: TokenClaims } {
    const iat = Math.floor(now.getTime() / 1000);
    const claims: TokenClaims = {
      iss: this.issuer,
      sub: `system:serviceaccount:${claim.namespace}:${claim.serviceaccount.name}`,
      aud: audiences,
      exp: iat + expirationSeconds,
      iat,
      nbf: iat,
      jti: randomUUID(),
      'kubernetes.io': claim,
    };
    const head = b64url(JSON.stringify({ alg: 'ES256', kid: this.kid, typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    const sig = sign('sha256', Buffer.from(`${head}.${body}`), {
      key: this.#priv,
      dsaEncoding: 'ieee-p1363',
    });
    return { token: `${head}.${body}.${b64url(sig)}`, claims };
  }

  /** Verifies signature, issuer and time window; returns the claims or a reason it is invalid. */
  verify(token: string, now: Date): { claims: TokenClaims } | { error: string } {
    const parts = token.split('.');
    if (parts.length !== 3) return { error: 'not a JWT' };
    const [head = '', body = '', sig = ''] = parts;
    let header: { alg?: string };
    let claims: TokenClaims;
    try {
      header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg?: string };
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return { error: 'malformed JWT' };
    }
    if (header.alg !== 'ES256') return { error: `unsupported alg ${String(header.alg)}` };
    const ok = verify(
      'sha256',
      Buffer.from(`${head}.${body}`),
      { key: this.#pub, dsaEncoding: 'ieee-p1363' },
      Buffer.from(sig, 'base64url'),
    );
    if (!ok) return { error: 'invalid signature' };
    if (claims.iss !== this.issuer) return { error: `unknown issuer ${String(claims.iss)}` };
    const t = Math.floor(now.getTime() / 1000);
    if (typeof claims.exp !== 'number' || t >= claims.exp) return { error: 'token has expired' };
    if (typeof claims.nbf === 'number' && t + 60 < claims.nbf) return { error: 'token is not valid yet' };
    if (typeof claims['kubernetes.io']?.serviceaccount?.name !== 'string')
      return { error: 'missing kubernetes.io claim' };
    return { claims };
  }
}

/** The user a verified service-account token stands for (groups and extra as upstream). */
export function serviceAccountUser(claims: TokenClaims): UserInfo {
  const k = claims['kubernetes.io'];
  const extra: Record<string, string[]> = {
    'authentication.kubernetes.io/credential-id': [`JTI=${claims.jti}`],
  };
  if (k.pod !== undefined) {
    extra['authentication.kubernetes.io/pod-name'] = [k.pod.name];
    extra['authentication.kubernetes.io/pod-uid'] = [k.pod.uid];
  }
  if (k.node !== undefined) {
    extra['authentication.kubernetes.io/node-name'] = [k.node.name];
    extra['authentication.kubernetes.io/node-uid'] = [k.node.uid];
  }
  return {
    username: `system:serviceaccount:${k.namespace}:${k.serviceaccount.name}`,
    uid: k.serviceaccount.uid,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${k.namespace}`, 'system:authenticated'],
    extra,
  };
}

/** The admin user the kubeconfig token authenticates as. */
export const ADMIN_USER: UserInfo = {
  username: 'system:admin',
  uid: '',
  groups: ['system:masters', 'system:authenticated'],
  extra: {},
};

/** The bearer token of an `Authorization` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}
