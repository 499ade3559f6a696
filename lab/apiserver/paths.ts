/**
 * URL → request target. Pure parsing of the Kubernetes REST path layout
 * (`/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}`, `/apis/{group}/{version}/…`).
 */
import { ApiError } from './types.ts';

/** A path addressing a resource, an object or a subresource. */
export interface ResourcePath {
  type: 'resource';
  group: string;
  version: string;
  namespace: string | undefined;
  resource: string;
  name: string | undefined;
  subresource: string | undefined;
}

/** Every path the server answers. */
export type ApiPath =
  | ResourcePath
  | { type: 'core-versions' }
  | { type: 'core-resources'; version: string }
  | { type: 'groups' }
  | { type: 'group'; group: string }
  | { type: 'group-resources'; group: string; version: string }
  | { type: 'version' }
  | { type: 'health'; check: 'healthz' | 'readyz' | 'livez' }
  | { type: 'openapi-v2' }
  | { type: 'openapi-v3' }
  | { type: 'openapi-v3-gv'; group: string; version: string }
  | { type: 'unknown'; path: string };

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

function resourcePath(group: string, version: string, rest: string[]): ApiPath {
  const seg = rest;
  const base = { type: 'resource' as const, group, version };
  if (seg.length === 0) return { type: 'unknown', path: '' };
  // `/namespaces/{ns}/{resource}/…` is namespaced, except `/namespaces/{name}/status|finalize`,
  // which is a subresource of the Namespace itself (as in the upstream router).
  if (
    seg[0] === 'namespaces' &&
    seg.length >= 3 &&
    !(seg.length === 3 && NAMESPACE_SUBRESOURCES.has(seg[2] ?? ''))
  ) {
    if (seg.length > 5) return { type: 'unknown', path: seg.join('/') };
    return { ...base, namespace: seg[1], resource: seg[2] ?? '', name: seg[3], subresource: seg[4] };
  }
  if (seg.length > 3) return { type: 'unknown', path: seg.join('/') };
  return { ...base, namespace: undefined, resource: seg[0] ?? '', name: seg[1], subresource: seg[2] };
}

/** Parses a request path (without query). Throws ApiError 400 on undecodable segments. */
export function parseApiPath(pathname: string): ApiPath {
  let seg: string[];
  try {
    seg = pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    throw new ApiError(400, 'BadRequest', `malformed path ${pathname}`);
  }
  const [a, b, c, ...rest] = seg;
  if (a === 'version' && seg.length === 1) return { type: 'version' };
  if ((a === 'healthz' || a === 'readyz' || a === 'livez') && seg.length <= 2)
    return { type: 'health', check: a };
  if (a === 'openapi') {
    if (b === 'v2' && seg.length === 2) return { type: 'openapi-v2' };
    if (b === 'v3' && seg.length === 2) return { type: 'openapi-v3' };
    if (b === 'v3' && c === 'api' && seg.length === 4)
      return { type: 'openapi-v3-gv', group: '', version: seg[3] ?? '' };
    if (b === 'v3' && c === 'apis' && seg.length === 5) {
      return { type: 'openapi-v3-gv', group: seg[3] ?? '', version: seg[4] ?? '' };
    }
  }
  if (a === 'api') {
    if (b === undefined) return { type: 'core-versions' };
    if (c === undefined) return { type: 'core-resources', version: b };
    return resourcePath('', b, [c, ...rest]);
  }
  if (a === 'apis') {
    if (b === undefined) return { type: 'groups' };
    if (c === undefined) return { type: 'group', group: b };
    if (rest.length === 0) return { type: 'group-resources', group: b, version: c };
    return resourcePath(b, c, rest);
  }
  return { type: 'unknown', path: pathname };
}
