/**
 * GAMMA route translation (issue 4 §4): HTTPRoutes and GRPCRoutes whose parentRefs name
 * Services → one RouteTable per Service port (entries in precedence order, producer and
 * consumer routes apart) plus each route's `status.parents[]`. Pure: no I/O, never throws on
 * user input; the waypoint a Service uses is injected.
 */
import type { ObjectStatus, RouteTable, ServiceKey, WaypointBinding } from '../../../common/ir/index.ts';
import { sourceId } from '../../../common/ir/index.ts';
import type { World } from '../world.ts';
import type { Ranked } from './precedence.ts';
import { sortByPrecedence } from './precedence.ts';
import type { RouteInput } from './route.ts';
import { readRoute } from './route.ts';
import { routeStatus } from './parent-status.ts';
import type { ServiceInfo } from './services.ts';
import { indexServices } from './services.ts';

/** What translateRoutes needs from other stages. */
export interface RoutesContext {
  /** The waypoint serving a Service, if any (computed by the mesh directory stage). */
  waypointOf(service: ServiceKey): WaypointBinding | undefined;
}

/** What translateRoutes produces. */
export interface RoutesResult {
  /** Sorted by service then port. */
  readonly tables: RouteTable[];
  /** Sorted by kind, namespace, name. */
  readonly statuses: ObjectStatus[];
}

interface Binding {
  readonly service: ServiceInfo;
  readonly port: number;
  readonly routes: RouteInput[];
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every (Service port → routes) binding of routes that have at least one valid rule. */
function bind(routes: readonly RouteInput[]): Binding[] {
  const bindings = new Map<string, Binding>();
  for (const route of routes) {
    if (route.rules.length === 0) continue;
    for (const parent of route.parents) {
      const res = parent.resolution;
      if (res.kind !== 'bound') continue;
      for (const port of res.ports) {
        const key = `${res.service.key}:${port}`;
        const b = bindings.get(key) ?? { service: res.service, port, routes: [] };
        bindings.set(key, b);
        // Two parentRefs of one route can land on the same port; it is pushed once, and since a
        // route's parents are visited together, an earlier push is the last entry.
        if (b.routes.at(-1) !== route) b.routes.push(route);
      }
    }
  }
  return [...bindings.values()].sort((a, b) => byText(a.service.key, b.service.key) || a.port - b.port);
}

function ranked(route: RouteInput): Ranked[] {
  const prefix = sourceId(route.source);
  return route.rules.flatMap((rule) =>
    rule.matches.map((match, j) => ({
      entry: {
        id: `${prefix}/rule/${rule.index}/match/${j}`,
        route: route.source,
        rule: rule.name,
        match,
        filters: rule.filters,
        backends: rule.backends,
        timeouts: rule.timeouts,
        ...(rule.retry === undefined ? {} : { retry: rule.retry }),
      },
      createdMs: route.createdMs,
      ruleIndex: rule.index,
      matchIndex: j,
    })),
  );
}

function table(b: Binding, protocol: 'http' | 'grpc'): RouteTable {
  const kind = protocol === 'grpc' ? 'GRPCRoute' : 'HTTPRoute';
  const producer: Ranked[] = [];
  const consumers = new Map<string, Ranked[]>();
  for (const route of b.routes) {
    if (route.kind !== kind) continue;
    const ns = route.source.namespace;
    if (ns === b.service.namespace) producer.push(...ranked(route));
    else {
      const list = consumers.get(ns);
      if (list === undefined) consumers.set(ns, ranked(route));
      else list.push(...ranked(route));
    }
  }
  // fromEntries defines own properties, so no namespace name can reach the prototype.
  const byNs = Object.fromEntries(
    [...consumers.keys()].sort(byText).map((ns) => [ns, sortByPrecedence(consumers.get(ns) ?? [])]),
  );
  return {
    service: b.service.key,
    port: b.port,
    protocol,
    producer: sortByPrecedence(producer),
    consumers: byNs,
  };
}

/** Translates every route of the World; see the module comment. */
export function translateRoutes(world: World, ctx: RoutesContext): RoutesResult {
  const services = indexServices(world.services);
  const routes: RouteInput[] = [];
  for (const [objs, kind] of [
    [world.httpRoutes, 'HTTPRoute'],
    [world.grpcRoutes, 'GRPCRoute'],
  ] as const) {
    for (const o of objs) {
      const r = readRoute(o, kind, services, world.referenceGrants);
      if (r !== undefined) routes.push(r);
    }
  }
  const bindings = bind(routes);
  const grpcWinners = new Map<string, string>();
  const tables: RouteTable[] = [];
  for (const b of bindings) {
    const grpc = b.routes
      .filter((r) => r.kind === 'GRPCRoute')
      .map((r) => `${r.source.namespace}/${r.source.name}`)
      .sort(byText);
    if (grpc[0] !== undefined) grpcWinners.set(`${b.service.key}:${b.port}`, grpc[0]);
    tables.push(table(b, grpc.length > 0 ? 'grpc' : 'http'));
  }
  const statuses = routes
    .map((r) => routeStatus(r, { grpcWinners, waypointOf: (s) => ctx.waypointOf(s) }))
    .sort(
      (a, b) =>
        byText(a.source.kind, b.source.kind) ||
        byText(a.source.namespace, b.source.namespace) ||
        byText(a.source.name, b.source.name),
    );
  return { tables, statuses };
}
