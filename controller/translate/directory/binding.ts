/**
 * Which waypoint a Service uses (issue 4 §2, DESIGN.md §2): the Service's
 * `waymesh.io/use-waypoint` label wins over its Namespace's, `waymesh.io/use-waypoint-namespace`
 * (read from the same object) names another namespace, and `none` opts out. A missing,
 * not-accepted or not-ready waypoint binds nothing: the Service's traffic stays L4.
 */
import type { WaypointBinding } from '../../../common/ir/index.ts';
import { workloadId } from '../../../common/spiffe.ts';
import { NAMES } from '../world.ts';
import type { WaypointGateway } from './gateways.ts';
import type { ServiceInfo } from './services.ts';

/** The waypoint label pair a Service asks for, or undefined when it asks for none. */
export function requestedWaypoint(
  svc: ServiceInfo,
  namespaceLabels: Readonly<Record<string, string>>,
): { readonly namespace: string; readonly name: string } | undefined {
  const own = svc.meta.labels[NAMES.useWaypointLabel];
  const from = own !== undefined && own !== '' ? svc.meta.labels : namespaceLabels;
  const name = from[NAMES.useWaypointLabel];
  if (name === undefined || name === '' || name === NAMES.dataplaneNone) return undefined;
  const ns = from[NAMES.useWaypointNamespaceLabel];
  return { namespace: ns !== undefined && ns !== '' ? ns : svc.meta.namespace, name };
}

/** The binding of one Service, or undefined (no label, opt-out, or waypoint not usable). */
export function bindService(
  svc: ServiceInfo,
  namespaceLabels: Readonly<Record<string, string>>,
  waypoints: ReadonlyMap<string, WaypointGateway>,
  trustDomain: string,
): WaypointBinding | undefined {
  // A waypoint's own Service never goes through a waypoint.
  if (waypoints.has(`${svc.meta.namespace}/${svc.meta.name}`)) return undefined;
  const want = requestedWaypoint(svc, namespaceLabels);
  if (want === undefined) return undefined;
  const wp = waypoints.get(`${want.namespace}/${want.name}`);
  if (wp === undefined || !wp.bindable) return undefined;
  let identity: string;
  try {
    // DESIGN.md: the waypoint's ServiceAccount is named after its Gateway.
    const id = workloadId(trustDomain, want.namespace, want.name);
    identity = `spiffe://${id.trustDomain}${id.path}`;
  } catch {
    return undefined;
  }
  return { gateway: { namespace: want.namespace, name: want.name }, addresses: wp.addresses, identity };
}
