/**
 * Compiled HTTPRoute / GRPCRoute matches. Every regular expression is compiled once, anchored
 * for a full match as the Gateway API asks; a pattern that does not compile raises a MeshError
 * at compile time (the router drops that entry and reports it), never at request time.
 */
import { MeshError } from '../../common/errors.ts';
import type { GrpcMatch, HttpMatch, NamedMatch, PathMatch } from '../../common/ir/routes.ts';
import { fieldBytes } from './field-bytes.ts';
import { hasSegmentPrefix, normalizePrefix } from './paths.ts';
import type { RequestView } from './request-view.ts';

/** Compiles `source` as a full-match JavaScript RegExp; throws a MeshError naming `what`. */
export function compileFullMatch(source: string, what: string): RegExp {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch (err) {
    throw new MeshError(
      'ROUTE_REGEX_INVALID',
      `${what} regular expression ${JSON.stringify(source)} does not compile: ${(err as Error).message}`,
      { hint: 'fix the pattern in the route; waymesh runs JavaScript RegExp syntax (RE2-compatible subset)' },
    );
  }
}

/** A string matcher: exact comparison or a precompiled full-match RegExp. */
class StringMatcher {
  constructor(
    private readonly exact: string | undefined,
    private readonly re: RegExp | undefined,
  ) {}

  static of(type: 'Exact' | 'RegularExpression', value: string, what: string): StringMatcher {
    return type === 'Exact'
      ? new StringMatcher(value, undefined)
      : new StringMatcher(undefined, compileFullMatch(value, what));
  }

  test(value: string | undefined): boolean {
    if (value === undefined) return false;
    return this.re === undefined ? value === this.exact : this.re.test(value);
  }
}

/**
 * A header or query-parameter matcher by name. An exact header value is compared as the bytes
 * the client sent (field-bytes.ts); query values are compared decoded.
 */
class NamedMatcher {
  readonly name: string;
  readonly value: StringMatcher;
  constructor(m: NamedMatch, what: 'header' | 'query param') {
    this.name = m.name;
    const value = what === 'header' && m.type === 'Exact' ? fieldBytes(m.value) : m.value;
    this.value = StringMatcher.of(m.type, value, `${what} ${m.name}`);
  }
}

function headersMatch(view: RequestView, headers: readonly NamedMatcher[]): boolean {
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i] as NamedMatcher;
    if (!h.value.test(view.req.header(h.name))) return false;
  }
  return true;
}

/** A compiled match: `test` answers whether the request in `view` matches. */
export interface Matcher {
  test(view: RequestView): boolean;
  /** The normalized PathPrefix (for ReplacePrefixMatch); `''` for "every path"; undefined otherwise. */
  readonly prefix: string | undefined;
}

const PATH_ANY = 0;
const PATH_EXACT = 1;
const PATH_PREFIX = 2;
const PATH_REGEX = 3;

class HttpMatcher implements Matcher {
  private readonly pathKind: number;
  private readonly pathValue: string;
  private readonly pathRe: RegExp | undefined;
  private readonly method: string | undefined;
  private readonly headers: readonly NamedMatcher[];
  private readonly query: readonly NamedMatcher[];
  readonly prefix: string | undefined;

  constructor(m: HttpMatch) {
    const path: PathMatch | undefined = m.path;
    this.pathKind =
      path === undefined
        ? PATH_ANY
        : path.type === 'Exact'
          ? PATH_EXACT
          : path.type === 'PathPrefix'
            ? PATH_PREFIX
            : PATH_REGEX;
    // An absent path behaves like the CRD default `PathPrefix /`.
    this.pathValue =
      path === undefined ? '' : path.type === 'PathPrefix' ? normalizePrefix(path.value) : path.value;
    this.pathRe = path?.type === 'RegularExpression' ? compileFullMatch(path.value, 'path') : undefined;
    this.prefix = this.pathKind === PATH_ANY || this.pathKind === PATH_PREFIX ? this.pathValue : undefined;
    this.method = m.method;
    this.headers = m.headers.map((h) => new NamedMatcher(h, 'header'));
    this.query = m.queryParams.map((q) => new NamedMatcher(q, 'query param'));
  }

  test(view: RequestView): boolean {
    const req = view.req;
    // The path first: it is the most selective part of most matches.
    const kind = this.pathKind;
    if (kind === PATH_PREFIX) {
      if (!hasSegmentPrefix(req.path, this.pathValue)) return false;
    } else if (kind === PATH_EXACT) {
      if (req.path !== this.pathValue) return false;
    } else if (kind === PATH_REGEX && !(this.pathRe as RegExp).test(req.path)) return false;
    if (this.method !== undefined && req.method !== this.method) return false;
    if (this.headers.length > 0 && !headersMatch(view, this.headers)) return false;
    const query = this.query;
    for (let i = 0; i < query.length; i++) {
      const q = query[i] as NamedMatcher;
      if (!q.value.test(view.queryParam(q.name))) return false;
    }
    return true;
  }
}

class GrpcMatcher implements Matcher {
  private readonly service: StringMatcher | undefined;
  private readonly method: StringMatcher | undefined;
  private readonly headers: readonly NamedMatcher[];
  readonly prefix = undefined;

  constructor(m: GrpcMatch) {
    const mm = m.method;
    this.service =
      mm?.service === undefined ? undefined : StringMatcher.of(mm.type, mm.service, 'gRPC service');
    this.method = mm?.method === undefined ? undefined : StringMatcher.of(mm.type, mm.method, 'gRPC method');
    this.headers = m.headers.map((h) => new NamedMatcher(h, 'header'));
  }

  test(view: RequestView): boolean {
    if (this.service !== undefined && !this.service.test(view.grpcService())) return false;
    if (this.method !== undefined && !this.method.test(view.grpcMethod())) return false;
    return headersMatch(view, this.headers);
  }
}

/** Compiles one IR match; throws a MeshError when a regular expression does not compile. */
export function compileMatch(m: HttpMatch | GrpcMatch): Matcher {
  return m.kind === 'http' ? new HttpMatcher(m) : new GrpcMatcher(m);
}
