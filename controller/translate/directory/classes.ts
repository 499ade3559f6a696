/**
 * GatewayClasses (issue 4 §3): the controller owns `waymesh-waypoint` and accepts it; any other
 * class naming our controller is refused with a reason; classes of other controllers are untouched.
 */
import type { ObjectStatus } from '../../../common/ir/index.ts';
import { NAMES } from '../world.ts';
import type { World } from '../world.ts';
import { isFalse, isTrue } from './conditions.ts';
import { cmp } from './pods.ts';
import { meta, obj, str } from './read.ts';

/** What the GatewayClasses say about our waypoint class, and their statuses. */
export interface ClassResult {
  /**
   * True when Gateways of class `waymesh-waypoint` are ours: the class names our controller,
   * or it does not exist yet (the controller creates it).
   */
  readonly waypointClassIsOurs: boolean;
  readonly statuses: ObjectStatus[];
}

/** Reads the GatewayClasses. */
export function readClasses(world: World): ClassResult {
  let waypointClassIsOurs = true;
  const statuses: ObjectStatus[] = [];
  for (const raw of world.gatewayClasses) {
    const m = meta(raw);
    if (m === undefined) continue;
    const controller = str(obj(obj(raw)?.['spec'])?.['controllerName']);
    const ours = controller === NAMES.waypointControllerName;
    if (m.name === NAMES.waypointClass && !ours) waypointClassIsOurs = false;
    if (!ours) continue;
    const source = { group: 'gateway.networking.k8s.io', kind: 'GatewayClass', namespace: '', name: m.name };
    const accepted =
      m.name === NAMES.waypointClass
        ? isTrue(
            'Accepted',
            'Accepted',
            'waymesh provisions waypoints for Gateways of this class',
            m.generation,
          )
        : isFalse(
            'Accepted',
            'Unsupported',
            `waymesh serves only GatewayClass ${NAMES.waypointClass}; use that class for waypoints`,
            m.generation,
          );
    statuses.push({ kind: 'gatewayclass', source, conditions: [accepted] });
  }
  statuses.sort((a, b) => cmp(a.source.name, b.source.name));
  return { waypointClassIsOurs, statuses };
}
