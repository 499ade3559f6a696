/**
 * Service-account tokens: the `serviceaccounts/<name>/token` subresource (TokenRequest),
 * TokenReview, and authentication of API requests by bearer token. A token is accepted only
 * while its service account (and bound pod) still exist with the uid it was issued for.
 */
import { timingSafeEqual } from 'node:crypto';
import { ADMIN_USER, bearerToken, serviceAccountUser, type KubeClaim, type UserInfo } from '../auth.ts';
import type { ServerContext } from '../context.ts';
import { notFound } from '../rules.ts';
import { ApiError, type Json, type JsonObject, type ResourceDef } from '../types.ts';

function obj(v: Json | undefined): JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Authenticates a bearer token against the admin token and live service accounts. */
export function authenticateToken(
  ctx: ServerContext,
  adminToken: string,
  token: string,
  audiences?: string[],
): { user: UserInfo; audiences: string[] } | { error: string } {
  if (safeEqual(token, adminToken)) return { user: ADMIN_USER, audiences: audiences ?? [ctx.signer.issuer] };
  const v = ctx.signer.verify(token, ctx.now());
  if ('error' in v) return v;
  const wanted = audiences === undefined || audiences.length === 0 ? [ctx.signer.issuer] : audiences;
  const matched = wanted.filter((a) => v.claims.aud.includes(a));
  if (matched.length === 0) return { error: 'token audiences is invalid for the target audiences' };
  const k = v.claims['kubernetes.io'];
  const sa = ctx.store.get('serviceaccounts', k.namespace, k.serviceaccount.name);
  if (sa === undefined || sa.metadata.uid !== k.serviceaccount.uid) {
    return { error: `service account ${k.namespace}/${k.serviceaccount.name} has been deleted` };
  }
  if (k.pod !== undefined) {
    const pod = ctx.store.get('pods', k.namespace, k.pod.name);
    if (pod === undefined || pod.metadata.uid !== k.pod.uid)
      return { error: `pod ${k.namespace}/${k.pod.name} has been deleted` };
  }
  return { user: serviceAccountUser(v.claims), audiences: matched };
}

/** Authenticates an HTTP `Authorization` header; 401 ApiError when absent or invalid. */
export function authenticateRequest(
  ctx: ServerContext,
  adminToken: string,
  header: string | undefined,
): UserInfo {
  const token = bearerToken(header);
  if (token === undefined) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
  const r = authenticateToken(ctx, adminToken, token);
  if ('error' in r) {
    ctx.log.debug('rejected bearer token', { reason: r.error });
    throw new ApiError(401, 'Unauthorized', 'Unauthorized');
  }
  return r.user;
}

/** POST serviceaccounts/<name>/token: issues a bound token. */
export function tokenRequest(
  ctx: ServerContext,
  saDef: ResourceDef,
  namespace: string,
  name: string,
  body: Json,
): JsonObject {
  const sa = ctx.store.get('serviceaccounts', namespace, name);
  if (sa === undefined) throw notFound(saDef, name);
  const spec = obj(obj(body)['spec']);
  const audiences =
    Array.isArray(spec['audiences']) && spec['audiences'].length > 0
      ? spec['audiences'].filter((a): a is string => typeof a === 'string')
      : [ctx.signer.issuer];
  const exp = typeof spec['expirationSeconds'] === 'number' ? spec['expirationSeconds'] : 3600;
  if (!Number.isInteger(exp) || exp < 600 || exp > 2 ** 32) {
    throw new ApiError(
      422,
      'Invalid',
      `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: Invalid value: ${exp}: may not specify a duration less than 10 minutes`,
      {
        name,
        group: 'authentication.k8s.io',
        kind: 'TokenRequest',
        causes: [
          {
            reason: 'FieldValueInvalid',
            message: 'may not specify a duration less than 10 minutes',
            field: 'spec.expirationSeconds',
          },
        ],
      },
    );
  }
  const claim: KubeClaim = { namespace, serviceaccount: { name, uid: sa.metadata.uid ?? '' } };
  const bound = obj(spec['boundObjectRef']);
  const bound2: JsonObject = {};
  if (Object.keys(bound).length > 0) {
    if (bound['kind'] !== 'Pod') {
      throw new ApiError(
        422,
        'Invalid',
        `TokenRequest "${name}" is invalid: spec.boundObjectRef.kind: Unsupported value: "${JSON.stringify(bound['kind'] ?? null)}": the lab binds tokens to Pods only`,
      );
    }
    const podName = typeof bound['name'] === 'string' ? bound['name'] : '';
    const pod = ctx.store.get('pods', namespace, podName);
    if (pod === undefined)
      throw new ApiError(404, 'NotFound', `pods "${podName}" not found`, { name: podName, kind: 'pods' });
    if (typeof bound['uid'] === 'string' && bound['uid'] !== '' && bound['uid'] !== pod.metadata.uid) {
      throw new ApiError(
        409,
        'Conflict',
        `the UID in the bound object reference (${bound['uid']}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
    }
    claim.pod = { name: podName, uid: pod.metadata.uid ?? '' };
    const nodeName = obj(pod['spec'] as Json)['nodeName'];
    if (typeof nodeName === 'string' && nodeName !== '') {
      const node = ctx.store.get('nodes', '', nodeName);
      claim.node = { name: nodeName, uid: node?.metadata.uid ?? '' };
    }
    Object.assign(bound2, { kind: 'Pod', apiVersion: 'v1', name: podName, uid: pod.metadata.uid ?? '' });
  }
  const { token, claims } = ctx.signer.issue(claim, audiences, exp, ctx.now());
  return {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { name, namespace, creationTimestamp: null },
    spec: {
      audiences,
      expirationSeconds: exp,
      boundObjectRef: Object.keys(bound2).length > 0 ? bound2 : null,
    },
    status: {
      token,
      expirationTimestamp: new Date(claims.exp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    },
  };
}

/** POST tokenreviews: answers whether a token authenticates, and as whom. */
export function tokenReview(ctx: ServerContext, adminToken: string, body: Json): JsonObject {
  const spec = obj(obj(body)['spec']);
  const token = typeof spec['token'] === 'string' ? spec['token'] : '';
  const audiences = Array.isArray(spec['audiences'])
    ? spec['audiences'].filter((a): a is string => typeof a === 'string')
    : [];
  const base = {
    kind: 'TokenReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec,
  };
  if (token === '') return { ...base, status: { authenticated: false, error: 'token is empty', user: {} } };
  const r = authenticateToken(ctx, adminToken, token, audiences);
  if ('error' in r) return { ...base, status: { authenticated: false, error: r.error, user: {} } };
  const user: JsonObject = { username: r.user.username, uid: r.user.uid, groups: r.user.groups };
  if (Object.keys(r.user.extra).length > 0) user['extra'] = r.user.extra;
  return { ...base, status: { authenticated: true, user, audiences: r.audiences } };
}
