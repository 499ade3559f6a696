/**
 * HTTPRoute and GRPCRoute matches → IR matches, applying the CRD defaults a route may arrive
 * without (path `PathPrefix /`, `Exact` string matches) and checking values the waypoint relies
 * on (regular expressions must compile as JavaScript RegExps).
 */
import type { GrpcMatch, HttpMatch, NamedMatch, PathMatch } from '../../../common/ir/index.ts';
import { HEADER_NAME } from './filters.ts';
import type { Result } from './read.ts';
import { compiles, fail, list, obj, ok, str } from './read.ts';
import { REASON } from './status.ts';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
const PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/;
const GRPC_SERVICE = /^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$/i;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;
/** The match a rule without `matches` gets (CRD default). */
const DEFAULT_PATH: PathMatch = { type: 'PathPrefix', value: '/' };

function unsupported<T>(message: string): Result<T> {
  return fail(REASON.unsupportedValue, message);
}

function path(raw: unknown): Result<PathMatch> {
  if (raw === undefined) return ok(DEFAULT_PATH);
  const o = obj(raw);
  const type = o?.['type'] ?? 'PathPrefix';
  const value = o?.['value'] ?? '/';
  if (typeof value !== 'string') return unsupported(`path value ${JSON.stringify(value)} is not a string`);
  if (type === 'RegularExpression')
    return compiles(value)
      ? ok({ type, value })
      : unsupported(`path regular expression ${JSON.stringify(value)} does not compile`);
  if (type !== 'Exact' && type !== 'PathPrefix')
    return unsupported(`path match type ${JSON.stringify(type)} is not supported`);
  // The CRD's CEL rules for Exact/PathPrefix, re-checked because objects may bypass validation.
  const bad =
    !value.startsWith('/') ||
    !PATH_CHARS.test(value) ||
    ['//', '/./', '/../', '%2f', '%2F', '#'].some((s) => value.includes(s)) ||
    value.endsWith('/..') ||
    value.endsWith('/.');
  return bad
    ? unsupported(`path ${JSON.stringify(value)} is not a valid absolute path for ${type}`)
    : ok({ type, value });
}

/** Header (lowercased, `caseInsensitive`) or query-param matches; the first of equal names wins. */
function named(raw: unknown, what: 'header' | 'query param'): Result<NamedMatch[]> {
  const out: NamedMatch[] = [];
  const seen = new Set<string>();
  for (const item of list(raw)) {
    const o = obj(item);
    const rawName = str(o?.['name']);
    const value = str(o?.['value']);
    const type = o?.['type'] ?? 'Exact';
    if (rawName === undefined || !HEADER_NAME.test(rawName) || value === undefined || value === '')
      return unsupported(`${what} match ${JSON.stringify(item)} needs a valid name and a non-empty value`);
    if (type !== 'Exact' && type !== 'RegularExpression')
      return unsupported(`${what} match type ${JSON.stringify(type)} is not supported`);
    if (type === 'RegularExpression' && !compiles(value))
      return unsupported(`${what} ${rawName} regular expression ${JSON.stringify(value)} does not compile`);
    const name = what === 'header' ? rawName.toLowerCase() : rawName;
    // Gateway API: with repeated names only the first entry counts.
    if (seen.has(name)) continue;
    seen.add(name);
    out.push({ name, type, value });
  }
  return ok(out);
}

function httpMatch(raw: unknown): Result<HttpMatch> {
  const o = obj(raw) ?? {};
  const p = path(o['path']);
  if (!p.ok) return p;
  const method = o['method'];
  if (method !== undefined && (typeof method !== 'string' || !METHODS.has(method)))
    return unsupported(`method ${JSON.stringify(method)} is not an HTTP method the Gateway API allows`);
  const headers = named(o['headers'], 'header');
  if (!headers.ok) return headers;
  const queryParams = named(o['queryParams'], 'query param');
  if (!queryParams.ok) return queryParams;
  return ok({
    kind: 'http',
    path: p.value,
    ...(method === undefined ? {} : { method }),
    headers: headers.value,
    queryParams: queryParams.value,
  });
}

function grpcMatch(raw: unknown): Result<GrpcMatch> {
  const o = obj(raw) ?? {};
  const headers = named(o['headers'], 'header');
  if (!headers.ok) return headers;
  if (o['method'] === undefined) return ok({ kind: 'grpc', headers: headers.value });
  const m = obj(o['method']);
  const type = m?.['type'] ?? 'Exact';
  const service = str(m?.['service']);
  const method = str(m?.['method']);
  if (type !== 'Exact' && type !== 'RegularExpression')
    return unsupported(`gRPC method match type ${JSON.stringify(type)} is not supported`);
  if (service === undefined && method === undefined)
    return unsupported('a gRPC method match needs a service, a method or both');
  for (const [what, v, re] of [
    ['service', service, GRPC_SERVICE],
    ['method', method, GRPC_METHOD],
  ] as const) {
    if (v === undefined) continue;
    const valid = type === 'Exact' ? re.test(v) : compiles(v);
    if (!valid) return unsupported(`gRPC ${what} ${JSON.stringify(v)} is not a valid ${type} value`);
  }
  return ok({
    kind: 'grpc',
    method: {
      type,
      ...(service === undefined ? {} : { service }),
      ...(method === undefined ? {} : { method }),
    },
    headers: headers.value,
  });
}

/** A rule's HTTP matches; none written means the default `PathPrefix /`. */
export function httpMatches(raw: unknown): Result<HttpMatch[]> {
  const items = raw === undefined ? [{}] : list(raw);
  const out: HttpMatch[] = [];
  for (const item of items.length === 0 ? [{}] : items) {
    const m = httpMatch(item);
    if (!m.ok) return m;
    out.push(m.value);
  }
  return ok(out);
}

/** A rule's gRPC matches; none written means every request. */
export function grpcMatches(raw: unknown): Result<GrpcMatch[]> {
  const items = list(raw);
  const out: GrpcMatch[] = [];
  for (const item of items.length === 0 ? [{}] : items) {
    const m = grpcMatch(item);
    if (!m.ok) return m;
    out.push(m.value);
  }
  return ok(out);
}
