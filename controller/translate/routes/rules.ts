/**
 * One route's rules → compiled rules (matches, filters, backends, timeouts, retry), or the
 * reason each invalid rule is dropped. Compiled once per route, independent of its parents.
 */
import type {
  GrpcMatch,
  HttpMatch,
  InvalidBackend,
  ResolvedBackend,
  RetryPolicy,
  RouteFilter,
  Timeouts,
} from '../../../common/ir/index.ts';
import type { RefContext } from './backends.ts';
import { resolveBackend } from './backends.ts';
import { compileFilters } from './filters.ts';
import { grpcMatches, httpMatches } from './matches.ts';
import type { Result } from './read.ts';
import { durationMs, fail, int, list, obj, ok, str } from './read.ts';
import type { Problem } from './status.ts';
import { REASON } from './status.ts';

/** A rule that survived validation. */
export interface CompiledRule {
  readonly index: number;
  /** The rule's `name`, else its index. */
  readonly name: string;
  readonly matches: readonly (HttpMatch | GrpcMatch)[];
  readonly filters: readonly RouteFilter[];
  readonly backends: readonly (ResolvedBackend | InvalidBackend)[];
  readonly timeouts: Timeouts;
  readonly retry?: RetryPolicy;
  /** ResolvedRefs problems of this rule's backends and mirrors. */
  readonly problems: readonly Problem[];
}

/** Retry backoff when `retry.backoff` is unset (implementation-specific per the spec). */
export const DEFAULT_RETRY_BACKOFF_MS = 25;
/** Retry attempts when `retry.attempts` is unset (implementation-specific per the spec). */
export const DEFAULT_RETRY_ATTEMPTS = 1;

function unsupported<T>(message: string): Result<T> {
  return fail(REASON.unsupportedValue, message);
}

function duration(v: unknown, field: string): Result<number | undefined> {
  if (v === undefined) return ok(undefined);
  const ms = typeof v === 'string' ? durationMs(v) : undefined;
  return ms === undefined
    ? unsupported(`${field} ${JSON.stringify(v)} is not a Gateway API duration`)
    : ok(ms);
}

function timeouts(raw: unknown): Result<Timeouts> {
  const o = obj(raw) ?? {};
  const request = duration(o['request'], 'timeouts.request');
  if (!request.ok) return request;
  const backend = duration(o['backendRequest'], 'timeouts.backendRequest');
  if (!backend.ok) return backend;
  const r = request.value;
  const b = backend.value;
  if (r !== undefined && b !== undefined && r !== 0 && b > r)
    return unsupported('timeouts.backendRequest cannot be longer than timeouts.request');
  // A zero duration disables the timeout (GEP-1742), which the IR writes as absent.
  return ok({ ...(r ? { requestMs: r } : {}), ...(b ? { backendRequestMs: b } : {}) });
}

function retry(raw: unknown): Result<RetryPolicy | undefined> {
  if (raw === undefined) return ok(undefined);
  const o = obj(raw);
  if (o === undefined) return unsupported('retry is not an object');
  const attempts = o['attempts'] === undefined ? DEFAULT_RETRY_ATTEMPTS : int(o['attempts']);
  if (attempts === undefined || attempts < 0)
    return unsupported(`retry.attempts ${JSON.stringify(o['attempts'])} is not a non-negative integer`);
  const codes: number[] = [];
  for (const c of list(o['codes'])) {
    const code = int(c);
    if (code === undefined || code < 400 || code > 599)
      return unsupported(`retry code ${JSON.stringify(c)} is not an HTTP status 400..599`);
    if (!codes.includes(code)) codes.push(code);
  }
  const backoff = duration(o['backoff'], 'retry.backoff');
  if (!backoff.ok) return backoff;
  return ok({ attempts, codes, backoffMs: backoff.value ?? DEFAULT_RETRY_BACKOFF_MS });
}

function usesPrefixRewrite(filters: readonly RouteFilter[]): boolean {
  return filters.some(
    (f) => (f.type === 'RequestRedirect' || f.type === 'URLRewrite') && f.path?.type === 'ReplacePrefixMatch',
  );
}

/** Compiles rule `index` of a route; `ctx.problems` is ignored (each rule collects its own). */
export function compileRule(raw: unknown, index: number, ctx: RefContext): Result<CompiledRule> {
  const rule = obj(raw) ?? {};
  const own: RefContext = { ...ctx, problems: [] };
  const matches = ctx.routeKind === 'GRPCRoute' ? grpcMatches(rule['matches']) : httpMatches(rule['matches']);
  if (!matches.ok) return matches;
  const filters = compileFilters(rule['filters'], own);
  if (!filters.ok) return filters;
  const backends: (ResolvedBackend | InvalidBackend)[] = [];
  const allFilters = [...filters.value];
  for (const b of list(rule['backendRefs'])) {
    const bf = compileFilters(obj(b)?.['filters'], own);
    if (!bf.ok) return bf;
    allFilters.push(...bf.value);
    const backend = resolveBackend(b, own, bf.value);
    if (!backend.ok) return backend;
    backends.push(backend.value);
  }
  if (backends.length > 0 && filters.value.some((f) => f.type === 'RequestRedirect'))
    return fail(
      REASON.incompatibleFilters,
      'a RequestRedirect filter cannot be used together with backendRefs',
    );
  const onePrefix =
    matches.value.length === 1 &&
    matches.value[0]?.kind === 'http' &&
    matches.value[0].path?.type === 'PathPrefix';
  if (usesPrefixRewrite(allFilters) && !onePrefix)
    return unsupported('ReplacePrefixMatch needs exactly one match, with a PathPrefix path');
  const t = timeouts(rule['timeouts']);
  if (!t.ok) return t;
  const r = retry(rule['retry']);
  if (!r.ok) return r;
  const name = str(rule['name']);
  return ok({
    index,
    name: name === undefined || name === '' ? String(index) : name,
    matches: matches.value,
    filters: filters.value,
    backends,
    timeouts: t.value,
    ...(r.value === undefined ? {} : { retry: r.value }),
    problems: own.problems,
  });
}
