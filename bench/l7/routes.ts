/**
 * The `l7` benchmark's route table, written once and rendered both as a waypoint snapshot
 * (`snapshot.ts`) and as nginx `location` blocks (`nginx.ts`) so both proxies do the same work:
 * ten path-prefix rules, one of them split by a header match, and one request-header filter on
 * the rule the load hits.
 */

/** A header the proxy sets on requests matching a rule (Gateway API `RequestHeaderModifier.set`). */
export interface BenchHeader {
  readonly name: string;
  readonly value: string;
}

/** One rule: a `PathPrefix` match, optionally with an exact header match, to one backend. */
export interface BenchRule {
  /** Rule name (Gateway API `rules[].name`), also the nginx comment. */
  readonly name: string;
  /** Segment-aware prefix: `/a` matches `/a` and `/a/b`, not `/ab`. */
  readonly pathPrefix: string;
  readonly header?: BenchHeader;
  /** `primary` or `canary`: two Services with the same endpoint, so both proxies keep two pools. */
  readonly backend: 'primary' | 'canary';
  readonly setHeader?: BenchHeader;
}

/** The path every measured request asks for; it matches the `items` rule. */
export const BENCH_PATH = '/api/v1/items/42';

/** The header the `items-canary` rule matches on (absent from the load, so it is evaluated and missed). */
export const CANARY_HEADER: BenchHeader = { name: 'x-bench-canary', value: 'yes' };

/** The ten rules, in the Gateway API precedence order the controller would emit. */
export const BENCH_RULES: readonly BenchRule[] = sortByPrecedence([
  { name: 'users', pathPrefix: '/api/v1/users', backend: 'primary' },
  { name: 'orders', pathPrefix: '/api/v1/orders', backend: 'primary' },
  { name: 'carts', pathPrefix: '/api/v1/carts', backend: 'primary' },
  { name: 'search', pathPrefix: '/api/v1/search', backend: 'primary' },
  { name: 'items-canary', pathPrefix: '/api/v1/items', header: CANARY_HEADER, backend: 'canary' },
  {
    name: 'items',
    pathPrefix: '/api/v1/items',
    backend: 'primary',
    setHeader: { name: 'x-bench-route', value: 'items' },
  },
  { name: 'admin', pathPrefix: '/admin', backend: 'primary' },
  { name: 'static', pathPrefix: '/static', backend: 'primary' },
  { name: 'health', pathPrefix: '/healthz', backend: 'primary' },
  { name: 'root', pathPrefix: '/', backend: 'primary' },
]);

/**
 * Gateway API precedence for these rules: the longer path prefix first, then more header
 * matches first; ties keep their given order (the sort is stable).
 */
export function sortByPrecedence(rules: readonly BenchRule[]): readonly BenchRule[] {
  return [...rules].sort(
    (a, b) =>
      b.pathPrefix.length - a.pathPrefix.length ||
      (b.header === undefined ? 0 : 1) - (a.header === undefined ? 0 : 1),
  );
}
