/**
 * `RequestRedirect` → the `Location` header, following the Gateway API's HTTPRequestRedirectFilter:
 * scheme defaults to the request's (waypoint traffic is plaintext `http` inside HBONE); hostname to
 * the request authority's host; the port to the scheme's well-known port when a scheme is set, else
 * to the "listener" port, which for a mesh route (GAMMA) is the Service port; ports 80 (http) and
 * 443 (https) are left out of the Location. The constant parts are built once per filter.
 */
import { MeshError } from '../../common/errors.ts';
import type { PathModifier, RouteFilter } from '../../common/ir/routes.ts';
import { hostOf, replacePrefix, withQuery } from './paths.ts';
import type { RouteRequest, RouteTarget } from './types.ts';

type RedirectFilter = Extract<RouteFilter, { type: 'RequestRedirect' }>;

const REQUEST_SCHEME = 'http';

function defaultPort(scheme: string): number {
  return scheme === 'https' ? 443 : 80;
}

function portPart(scheme: string, port: number): string {
  return port === defaultPort(scheme) ? '' : `:${port}`;
}

/** Where a path modifier takes the new path from; shared with URLRewrite. */
export class PathPlan {
  private constructor(
    private readonly full: string | undefined,
    private readonly prefix: string,
    private readonly replacement: string,
  ) {}

  /**
   * Compiles `mod` for an entry whose match has the normalized path prefix `prefix` (undefined
   * when the match is not a PathPrefix). ReplacePrefixMatch without one is refused: the spec
   * makes such a rule not Accepted, and the router drops the entry and reports it.
   */
  static of(mod: PathModifier, prefix: string | undefined, filter: string): PathPlan {
    if (mod.type === 'ReplaceFullPath') return new PathPlan(mod.value, '', '');
    if (prefix === undefined)
      throw new MeshError(
        'ROUTE_PREFIX_REWRITE_WITHOUT_PREFIX',
        `${filter} ReplacePrefixMatch needs a PathPrefix match, and this entry matches otherwise`,
        { hint: 'use ReplaceFullPath, or give the rule exactly one PathPrefix match' },
      );
    // Trailing slashes of the replacement are dropped; the rest of the path brings its own.
    let end = mod.value.length;
    while (end > 0 && mod.value.charCodeAt(end - 1) === 47) end--;
    return new PathPlan(undefined, prefix, mod.value.slice(0, end));
  }

  /** The new path for a request path that matched the entry. */
  apply(path: string): string {
    return this.full ?? replacePrefix(path, this.prefix, this.replacement);
  }
}

/** A compiled RequestRedirect filter. */
export class RedirectPlan {
  readonly status: 301 | 302 | 303 | 307 | 308;
  private readonly scheme: string;
  /** `scheme://host:port` when the host and port are both fixed; else `scheme://`. */
  private readonly head: string;
  private readonly fixedHost: boolean;
  private readonly hostname: string;
  /** `:port` (or `''`) when fixed by the filter; undefined when it follows the Service port. */
  private readonly fixedPort: string | undefined;
  private readonly path: PathPlan | undefined;

  constructor(f: RedirectFilter, prefix: string | undefined) {
    this.status = f.statusCode;
    this.scheme = f.scheme ?? REQUEST_SCHEME;
    this.fixedPort =
      f.port !== undefined ? portPart(this.scheme, f.port) : f.scheme !== undefined ? '' : undefined;
    this.fixedHost = f.hostname !== undefined;
    this.head =
      this.fixedHost && this.fixedPort !== undefined
        ? `${this.scheme}://${f.hostname}${this.fixedPort}`
        : `${this.scheme}://`;
    this.path = f.path === undefined ? undefined : PathPlan.of(f.path, prefix, 'RequestRedirect');
    this.hostname = f.hostname ?? '';
  }

  /** The Location for `req` sent to `target` (query kept as received). */
  location(target: RouteTarget, req: RouteRequest): string {
    const path = withQuery(this.path === undefined ? req.path : this.path.apply(req.path), req.query);
    if (this.fixedHost && this.fixedPort !== undefined) return this.head + path;
    const host = this.fixedHost ? this.hostname : requestHost(target, req);
    const port = this.fixedPort ?? portPart(this.scheme, target.port);
    return `${this.head}${host}${port}${path}`;
  }
}

/** The request's host; a request without authority falls back to the Service's DNS name. */
function requestHost(target: RouteTarget, req: RouteRequest): string {
  if (req.authority.length > 0) return hostOf(req.authority);
  const slash = target.service.indexOf('/');
  return `${target.service.slice(slash + 1)}.${target.service.slice(0, slash)}.svc`;
}
