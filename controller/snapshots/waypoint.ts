/**
 * A waypoint's slice of the mesh: the Services bound to it, their route tables, the Services
 * those routes send or mirror to, its policies and the rate limits of its Services and routes.
 */
import type {
  AuthorizationPolicy,
  MeshService,
  RateLimit,
  RouteEntry,
  RouteFilter,
  RouteTable,
  WaypointSnapshot,
} from '../../common/ir/index.ts';
import { sourceId } from '../../common/ir/index.ts';
import type { CanonicalMemo } from './canonical.ts';
import { contentVersion } from './canonical.ts';

/** Inputs shared by every waypoint snapshot of one build, already sorted and deduplicated. */
export interface WaypointContext {
  readonly trustDomain: string;
  /** Services sorted by key. */
  readonly services: readonly MeshService[];
  /** Tables sorted by service and port. */
  readonly tables: readonly RouteTable[];
  /** Policies sorted by id. */
  readonly policies: readonly AuthorizationPolicy[];
  /** Rate limits sorted by id. */
  readonly rateLimits: readonly RateLimit[];
  readonly memo: CanonicalMemo;
}

/** Every entry of a table: producer routes and all consumer routes. */
function entriesOf(table: RouteTable): RouteEntry[] {
  return [...table.producer, ...Object.values(table.consumers).flat()];
}

/** The Services a list of filters mirrors to. */
function mirrorTargets(filters: readonly RouteFilter[]): string[] {
  return filters.flatMap((f) => (f.type === 'RequestMirror' ? [f.backend.service] : []));
}

/** The Services an entry sends or mirrors requests to (rule filters and per-backend filters). */
function referencedServices(entry: RouteEntry): string[] {
  const out = mirrorTargets(entry.filters);
  for (const b of entry.backends) {
    if (b.kind !== 'service') continue;
    out.push(b.service, ...mirrorTargets(b.filters));
  }
  return out;
}

/**
 * True when the waypoint enforces `p`: L7 policies scoped to it, to a Service bound to it, or
 * namespace-wide in a namespace where it serves a Service; and L4 policies aimed at the
 * waypoint itself, which no node agent could enforce for it.
 */
function enforces(
  p: AuthorizationPolicy,
  self: { readonly namespace: string; readonly name: string },
  bound: ReadonlySet<string>,
  boundNamespaces: ReadonlySet<string>,
): boolean {
  switch (p.scope.kind) {
    case 'waypoint':
      return p.scope.namespace === self.namespace && p.scope.name === self.name;
    case 'service':
      return p.layer === 'L7' && bound.has(p.scope.service);
    case 'namespace':
      return p.layer === 'L7' && boundNamespaces.has(p.scope.namespace);
  }
}

/** Builds the snapshot of waypoint `namespace/name`. */
export function buildWaypointSnapshot(
  waypoint: { readonly namespace: string; readonly name: string },
  ctx: WaypointContext,
): WaypointSnapshot {
  const self = Object.freeze({ namespace: waypoint.namespace, name: waypoint.name });
  const bound = new Set(
    ctx.services
      .filter(
        (s) => s.waypoint?.gateway.namespace === self.namespace && s.waypoint.gateway.name === self.name,
      )
      .map((s) => s.key),
  );
  const boundNamespaces = new Set([...bound].map((k) => k.slice(0, k.indexOf('/'))));
  const routes = ctx.tables.filter((t) => bound.has(t.service));
  const wanted = new Set<string>(bound);
  const routeIds = new Set<string>();
  for (const table of routes) {
    for (const entry of entriesOf(table)) {
      routeIds.add(sourceId(entry.route));
      for (const key of referencedServices(entry)) wanted.add(key);
    }
  }
  // `ctx.services` is sorted, so filtering it keeps the order; unknown backend keys are skipped
  // (translate already marked such backends invalid).
  const services = ctx.services.filter((s) => wanted.has(s.key));
  const rateLimits = ctx.rateLimits.filter((r) =>
    r.target.kind === 'service' ? bound.has(r.target.service) : routeIds.has(sourceId(r.target.route)),
  );
  const body = {
    kind: 'waypoint' as const,
    trustDomain: ctx.trustDomain,
    waypoint: self,
    services: Object.freeze(services),
    routes: Object.freeze(routes),
    policies: Object.freeze(ctx.policies.filter((p) => enforces(p, self, bound, boundNamespaces))),
    rateLimits: Object.freeze(rateLimits),
  };
  return Object.freeze({ version: contentVersion(body, ctx.memo), ...body });
}
