/**
 * Route filters (rule-level and per-backend) → IR filters. Unknown types and `ExtensionRef`
 * are unsupported; `RequestRedirect` with `URLRewrite` or a repeated filter is incompatible.
 */
import type { HeaderEdits, PathModifier, RouteFilter } from '../../../common/ir/index.ts';
import { headerValue } from '../policies/validate.ts';
import type { RefContext } from './backends.ts';
import { resolveTarget } from './backends.ts';
import type { Result } from './read.ts';
import { fail, int, list, obj, ok, str } from './read.ts';
import { REASON } from './status.ts';

/** Header names as RFC 7230 tokens (the CRD's pattern). */
export const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const STATUS_CODES = [301, 302, 303, 307, 308] as const;
const HTTP_ONLY = new Set(['RequestRedirect', 'URLRewrite']);
const KNOWN = new Set([
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestRedirect',
  'URLRewrite',
  'RequestMirror',
]);

function unsupported<T>(message: string): Result<T> {
  return fail(REASON.unsupportedValue, message);
}

function headerEdits(raw: unknown, type: string): Result<HeaderEdits> {
  const o = obj(raw);
  if (o === undefined)
    return unsupported(`${type} filter has no ${type[0]?.toLowerCase()}${type.slice(1)} field`);
  const pairs = (field: 'set' | 'add'): Result<{ name: string; value: string }[]> => {
    const out: { name: string; value: string }[] = [];
    const seen = new Set<string>();
    for (const item of list(o[field])) {
      const name = str(obj(item)?.['name']);
      const value = str(obj(item)?.['value']);
      if (name === undefined || value === undefined || value === '' || !HEADER_NAME.test(name))
        return unsupported(
          `${type} ${field} entry ${JSON.stringify(item)} needs a valid header name and a non-empty value`,
        );
      // The CRD bounds the value's length only; a control character would split or corrupt the
      // message (the waypoint's HTTP/1.1 writer refuses it, so every request would fail).
      const checked = headerValue(value);
      if (typeof checked !== 'string')
        return unsupported(`${type} ${field} value of header ${name} ${checked.error}`);
      // Gateway API (HTTPHeader.name): of entries with equivalent (case-insensitive) names only
      // the first counts.
      const lower = name.toLowerCase();
      if (seen.has(lower)) continue;
      seen.add(lower);
      out.push({ name: lower, value });
    }
    return ok(out);
  };
  const set = pairs('set');
  if (!set.ok) return set;
  const add = pairs('add');
  if (!add.ok) return add;
  const remove = new Set<string>();
  for (const item of list(o['remove'])) {
    const name = str(item);
    if (name === undefined || !HEADER_NAME.test(name))
      return unsupported(`${type} remove entry ${JSON.stringify(item)} is not a header name`);
    remove.add(name.toLowerCase());
  }
  return ok({ set: set.value, add: add.value, remove: [...remove] });
}

function pathModifier(raw: unknown, type: string): Result<PathModifier | undefined> {
  if (raw === undefined) return ok(undefined);
  const o = obj(raw);
  const kind = str(o?.['type']);
  const full = str(o?.['replaceFullPath']);
  const prefix = str(o?.['replacePrefixMatch']);
  if (kind === 'ReplaceFullPath' && full !== undefined) return ok({ type: kind, value: full });
  if (kind === 'ReplacePrefixMatch' && prefix !== undefined) return ok({ type: kind, value: prefix });
  return unsupported(
    `${type} path ${JSON.stringify(raw)} must be ReplaceFullPath or ReplacePrefixMatch with its value`,
  );
}

function hostname(raw: unknown, type: string): Result<string | undefined> {
  if (raw === undefined) return ok(undefined);
  const h = str(raw);
  return h !== undefined && HOSTNAME.test(h)
    ? ok(h)
    : unsupported(`${type} hostname ${JSON.stringify(raw)} is invalid`);
}

function redirect(raw: unknown): Result<RouteFilter> {
  const o = obj(raw);
  if (o === undefined) return unsupported('RequestRedirect filter has no requestRedirect field');
  const scheme = o['scheme'];
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https')
    return unsupported(`RequestRedirect scheme ${JSON.stringify(scheme)} is not http or https`);
  const code = o['statusCode'] ?? 302;
  const statusCode = STATUS_CODES.find((c) => c === code);
  if (statusCode === undefined)
    return unsupported(
      `RequestRedirect statusCode ${JSON.stringify(code)} is not one of ${STATUS_CODES.join(', ')}`,
    );
  const port = o['port'] === undefined ? undefined : int(o['port']);
  if (o['port'] !== undefined && (port === undefined || port < 1 || port > 65535))
    return unsupported(`RequestRedirect port ${JSON.stringify(o['port'])} is not 1..65535`);
  const host = hostname(o['hostname'], 'RequestRedirect');
  if (!host.ok) return host;
  const path = pathModifier(o['path'], 'RequestRedirect');
  if (!path.ok) return path;
  return ok({
    type: 'RequestRedirect',
    ...(scheme === undefined ? {} : { scheme }),
    ...(host.value === undefined ? {} : { hostname: host.value }),
    ...(port === undefined ? {} : { port }),
    ...(path.value === undefined ? {} : { path: path.value }),
    statusCode,
  });
}

function rewrite(raw: unknown): Result<RouteFilter> {
  const o = obj(raw);
  if (o === undefined) return unsupported('URLRewrite filter has no urlRewrite field');
  const host = hostname(o['hostname'], 'URLRewrite');
  if (!host.ok) return host;
  const path = pathModifier(o['path'], 'URLRewrite');
  if (!path.ok) return path;
  return ok({
    type: 'URLRewrite',
    ...(host.value === undefined ? {} : { hostname: host.value }),
    ...(path.value === undefined ? {} : { path: path.value }),
  });
}

/** The mirrored share: `percent`/100, `numerator/denominator` (denominator 100 by default), or 1. */
function mirrorFraction(o: Readonly<Record<string, unknown>>): Result<number> {
  if (o['percent'] !== undefined && o['fraction'] !== undefined)
    return unsupported('RequestMirror may set percent or fraction, not both');
  if (o['percent'] !== undefined) {
    const p = int(o['percent']);
    return p !== undefined && p >= 0 && p <= 100
      ? ok(p / 100)
      : unsupported(`RequestMirror percent ${JSON.stringify(o['percent'])} is not 0..100`);
  }
  if (o['fraction'] !== undefined) {
    const f = obj(o['fraction']);
    const num = int(f?.['numerator']);
    const den = f?.['denominator'] === undefined ? 100 : int(f['denominator']);
    return num !== undefined && den !== undefined && num >= 0 && den >= 1 && num <= den
      ? ok(num / den)
      : unsupported(
          `RequestMirror fraction ${JSON.stringify(o['fraction'])} needs 0 <= numerator <= denominator`,
        );
  }
  return ok(1);
}

/** A mirror whose target does not resolve is dropped with a ResolvedRefs problem (undefined). */
function mirror(raw: unknown, ctx: RefContext): Result<RouteFilter | undefined> {
  const o = obj(raw);
  const ref = obj(o?.['backendRef']);
  if (o === undefined || ref === undefined) return unsupported('RequestMirror filter needs a backendRef');
  const fraction = mirrorFraction(o);
  if (!fraction.ok) return fraction;
  const target = resolveTarget(ref, ctx);
  if (!target.ok) {
    ctx.problems.push({ reason: target.reason, message: `RequestMirror: ${target.message}` });
    return ok(undefined);
  }
  const { service, port } = target.value;
  return ok({
    type: 'RequestMirror',
    backend: { kind: 'service', service, port, weight: 1, filters: [] },
    fraction: fraction.value,
  });
}

function one(raw: unknown, ctx: RefContext): Result<RouteFilter | undefined> {
  const f = obj(raw);
  const type = str(f?.['type']);
  if (f === undefined || type === undefined) return unsupported('a filter has no type');
  if (type === 'ExtensionRef') return unsupported('ExtensionRef filters are not supported by waymesh');
  if (!KNOWN.has(type) || (ctx.routeKind === 'GRPCRoute' && HTTP_ONLY.has(type)))
    return unsupported(`filter type ${type} is not supported on ${ctx.routeKind}s`);
  switch (type) {
    case 'RequestHeaderModifier': {
      const e = headerEdits(f['requestHeaderModifier'], type);
      return e.ok ? ok({ type, ...e.value }) : e;
    }
    case 'ResponseHeaderModifier': {
      const e = headerEdits(f['responseHeaderModifier'], type);
      return e.ok ? ok({ type, ...e.value }) : e;
    }
    case 'RequestRedirect':
      return redirect(f['requestRedirect']);
    case 'URLRewrite':
      return rewrite(f['urlRewrite']);
    default:
      return mirror(f['requestMirror'], ctx);
  }
}

/** Compiles a `filters` list; the first invalid filter fails it (and with it the rule). */
export function compileFilters(raw: unknown, ctx: RefContext): Result<RouteFilter[]> {
  const out: RouteFilter[] = [];
  const seen = new Set<string>();
  for (const item of list(raw)) {
    const r = one(item, ctx);
    if (!r.ok) return r;
    const type = str(obj(item)?.['type']) ?? '';
    if (type !== 'RequestMirror' && seen.has(type))
      return fail(REASON.incompatibleFilters, `filter ${type} is repeated; it may appear once per list`);
    seen.add(type);
    if (r.value !== undefined) out.push(r.value);
  }
  if (seen.has('RequestRedirect') && seen.has('URLRewrite'))
    return fail(
      REASON.incompatibleFilters,
      'RequestRedirect and URLRewrite cannot be combined in one filter list',
    );
  return ok(out);
}
