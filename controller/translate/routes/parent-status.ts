/**
 * `status.parents[]` of one route: for each Service parentRef, `Accepted` and `ResolvedRefs`
 * (always), `PartiallyInvalid` when rules were dropped, and `waymesh.io/Enforced` when accepted.
 */
import type {
  Condition,
  ObjectStatus,
  RouteParentStatus,
  WaypointBinding,
} from '../../../common/ir/index.ts';
import type { ServiceKey } from '../../../common/ir/index.ts';
import type { RouteInput, ServiceParent } from './route.ts';
import { ENFORCED, REASON, condition, resolvedRefs } from './status.ts';

/** What status building needs from the attachment step. */
export interface StatusContext {
  /** The GRPCRoute (`namespace/name`) that won a Service port, by `<service>:<port>`. */
  readonly grpcWinners: ReadonlyMap<string, string>;
  waypointOf(service: ServiceKey): WaypointBinding | undefined;
}

function accepted(route: RouteInput, parent: ServiceParent, ctx: StatusContext): Condition[] {
  const gen = route.generation;
  const res = parent.resolution;
  if (res.kind === 'invalid') return [condition('Accepted', false, res.reason, res.message, gen)];
  const first = route.failures[0];
  if (first === undefined && route.rules.length === 0)
    return [condition('Accepted', false, REASON.unsupportedValue, 'the route has no rules', gen)];
  if (route.rules.length === 0 && first !== undefined) {
    const all = route.failures.map((f) => `rule ${f.index}: ${f.message}`).join('; ');
    return [condition('Accepted', false, first.reason, `every rule is invalid: ${all}`, gen)];
  }
  const svc = res.service;
  const lost = res.ports.flatMap((port) => {
    const winner = route.kind === 'HTTPRoute' ? ctx.grpcWinners.get(`${svc.key}:${port}`) : undefined;
    return winner === undefined ? [] : [`port ${port} (GRPCRoute ${winner})`];
  });
  const kept = res.ports.filter(
    (port) => !(route.kind === 'HTTPRoute' && ctx.grpcWinners.has(`${svc.key}:${port}`)),
  );
  if (kept.length === 0)
    return [
      condition(
        'Accepted',
        false,
        REASON.conflicted,
        `a GRPCRoute wins over HTTPRoutes on the same Service port (GEP-1426): Service ${svc.key} ${lost.join(', ')}`,
        gen,
      ),
    ];
  const consumer = route.source.namespace !== svc.namespace;
  const scope = consumer ? `; consumer route for clients in namespace ${route.source.namespace}` : '';
  const lostNote = lost.length === 0 ? '' : `; not on ${lost.join(', ')}: a GRPCRoute wins there`;
  const conditions = [
    condition(
      'Accepted',
      true,
      REASON.accepted,
      `Bound to Service ${svc.key} ${kept.length === 1 ? 'port' : 'ports'} ${kept.join(', ')}${scope}${lostNote}`,
      gen,
    ),
  ];
  const waypoint = ctx.waypointOf(svc.key);
  conditions.push(
    waypoint === undefined
      ? condition(
          ENFORCED,
          false,
          REASON.noWaypoint,
          `Service ${svc.key} has no waypoint, so this route is not enforced: label the Service or namespace ${svc.namespace} with waymesh.io/use-waypoint=<waypoint Gateway name>`,
          gen,
        )
      : condition(
          ENFORCED,
          true,
          REASON.waypointBound,
          `Enforced by waypoint ${waypoint.gateway.namespace}/${waypoint.gateway.name}`,
          gen,
        ),
  );
  return conditions;
}

function parentStatus(route: RouteInput, parent: ServiceParent, ctx: StatusContext): RouteParentStatus {
  const gen = route.generation;
  const [acc, ...rest] = accepted(route, parent, ctx);
  const conditions: Condition[] = acc === undefined ? [] : [acc];
  conditions.push(
    resolvedRefs(
      route.rules.flatMap((r) => r.problems),
      gen,
    ),
  );
  if (route.failures.length > 0 && route.rules.length > 0) {
    const dropped = route.failures.map((f) => `rule ${f.index}: ${f.message}`).join('; ');
    conditions.push(condition('PartiallyInvalid', true, REASON.unsupportedValue, `dropped ${dropped}`, gen));
  }
  conditions.push(...rest);
  return { parentRef: parent.ref, conditions };
}

/** The status of one route for its Service parents, in the order the parentRefs are written. */
export function routeStatus(route: RouteInput, ctx: StatusContext): ObjectStatus {
  return {
    kind: 'route',
    source: route.source,
    parents: route.parents.map((p) => parentStatus(route, p, ctx)),
  };
}
