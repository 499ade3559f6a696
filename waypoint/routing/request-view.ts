/**
 * The per-request state the matchers share: the request plus lazily parsed parts (query
 * parameters, gRPC service/method), each computed at most once and only when an entry needs it.
 * A router owns one view and resets it per `decide()` call, which is synchronous.
 */
import type { RouteRequest } from './types.ts';

const EMPTY = '';

function decode(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    // A malformed escape is matched as written rather than failing the request.
    return s;
  }
}

/** Parses a raw query string; for a repeated name the first value wins (Gateway API "should"). */
export function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const hasValue = eq >= 0 && eq < end;
      const name = decode(query.slice(start, hasValue ? eq : end));
      if (!out.has(name)) out.set(name, hasValue ? decode(query.slice(eq + 1, end)) : EMPTY);
    }
    start = end + 1;
  }
  return out;
}

/** Reusable, reset-per-request view of a {@link RouteRequest} for the matchers. */
export class RequestView {
  req!: RouteRequest;
  private query: Map<string, string> | undefined;
  private grpcParsed = false;
  private grpcServiceValue: string | undefined;
  private grpcMethodValue: string | undefined;

  /** Points the view at a new request and forgets everything parsed for the previous one. */
  reset(req: RouteRequest): void {
    this.req = req;
    this.query = undefined;
    this.grpcParsed = false;
    this.grpcServiceValue = undefined;
    this.grpcMethodValue = undefined;
  }

  /** The first value of query parameter `name` (names compared exactly), parsing the query once. */
  queryParam(name: string): string | undefined {
    this.query ??= parseQuery(this.req.query);
    return this.query.get(name);
  }

  /** The gRPC service of a `/<service>/<method>` path; undefined when the path has another shape. */
  grpcService(): string | undefined {
    if (!this.grpcParsed) this.parseGrpc();
    return this.grpcServiceValue;
  }

  /** The gRPC method of a `/<service>/<method>` path; undefined when the path has another shape. */
  grpcMethod(): string | undefined {
    if (!this.grpcParsed) this.parseGrpc();
    return this.grpcMethodValue;
  }

  private parseGrpc(): void {
    this.grpcParsed = true;
    const path = this.req.path;
    const slash = path.indexOf('/', 1);
    if (path.charCodeAt(0) !== 47 || slash <= 1 || slash === path.length - 1) return;
    if (path.indexOf('/', slash + 1) >= 0) return;
    this.grpcServiceValue = path.slice(1, slash);
    this.grpcMethodValue = path.slice(slash + 1);
  }
}
