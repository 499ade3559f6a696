/**
 * translate(): the whole world → the IR and every status, in one pure pass (DESIGN.md §5).
 * The directory comes first because routes and policies ask it which waypoint serves a Service.
 */
import type {
  AuthorizationPolicy,
  MeshService,
  ObjectStatus,
  RateLimit,
  RouteTable,
  ServiceKey,
  Workload,
} from '../../common/ir/index.ts';
import { buildDirectory } from './directory/index.ts';
import { translatePolicies } from './policies/index.ts';
import { translateRoutes } from './routes/index.ts';
import type { World } from './world.ts';

/** The IR translate() produces. */
export interface MeshIR {
  readonly trustDomain: string;
  readonly workloads: readonly Workload[];
  readonly services: readonly MeshService[];
  readonly tables: readonly RouteTable[];
  readonly authorization: readonly AuthorizationPolicy[];
  readonly rateLimits: readonly RateLimit[];
  /** Waypoint Gateways of our class (`namespace/name`), whether bound to services or not. */
  readonly waypoints: readonly { readonly namespace: string; readonly name: string }[];
}

/** Translates `world`; never throws on bad user input (it becomes a status). */
export function translate(world: World): { ir: MeshIR; statuses: ObjectStatus[] } {
  const directory = buildDirectory(world);
  const ctx = { waypointOf: (key: ServiceKey) => directory.waypointOf(key) };
  const routes = translateRoutes(world, ctx);
  const policies = translatePolicies(world, ctx);
  const waypoints = world.gateways
    .filter((g) => g.spec?.['gatewayClassName'] === 'waymesh-waypoint' && g.metadata.name !== undefined)
    .map((g) => ({ namespace: g.metadata.namespace ?? 'default', name: g.metadata.name ?? '' }))
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  return {
    ir: {
      trustDomain: world.trustDomain,
      workloads: directory.workloads,
      services: directory.services,
      tables: routes.tables,
      authorization: policies.authorization,
      rateLimits: policies.rateLimits,
      waypoints,
    },
    statuses: [...directory.statuses, ...routes.statuses, ...policies.statuses],
  };
}
