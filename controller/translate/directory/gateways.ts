/**
 * Waypoint Gateways (issue 4 §3, DESIGN.md §2): each Gateway of class `waymesh-waypoint` is
 * validated (exactly one listener `{name: mesh, port: 15008, protocol: HBONE}`), its status is
 * computed (`Accepted`, `Programmed`, `addresses`, listener status), and it becomes bindable once
 * accepted, with a ready replica and a provisioned Service that has a ClusterIP.
 */
import type { Condition, ObjectStatus } from '../../../common/ir/index.ts';
import { waypointParameterProblem } from '../../provision/objects.ts';
import { NAMES } from '../world.ts';
import type { World } from '../world.ts';
import { isFalse, isTrue } from './conditions.ts';
import type { Meta } from './read.ts';
import { list, meta, obj, str } from './read.ts';
import type { ServiceInfo } from './services.ts';

/** A waypoint Gateway as the directory sees it. */
export interface WaypointGateway {
  readonly meta: Meta;
  /** Accepted and Programmed: Services may bind to it. */
  readonly bindable: boolean;
  /** The provisioned Service's ClusterIPs (HBONE on 15008). */
  readonly addresses: readonly string[];
  readonly status: ObjectStatus;
}

interface ListenerCheck {
  readonly name: string | undefined;
  readonly problems: readonly { readonly reason: string; readonly message: string }[];
}

const EXPECTED = `{name: mesh, port: ${NAMES.hbonePort}, protocol: HBONE}`;

function checkListener(raw: unknown, i: number): ListenerCheck {
  const l = obj(raw);
  const name = str(l?.['name']);
  const problems: { reason: string; message: string }[] = [];
  const protocol = l?.['protocol'];
  if (protocol !== 'HBONE')
    problems.push({
      reason: 'UnsupportedProtocol',
      message: `protocol ${JSON.stringify(protocol ?? null)} is not supported: waypoints accept only HBONE`,
    });
  if (l?.['port'] !== NAMES.hbonePort)
    problems.push({
      reason: 'UnsupportedValue',
      message: `port ${JSON.stringify(l?.['port'] ?? null)} is not supported: waypoints listen on ${NAMES.hbonePort}`,
    });
  if (name !== 'mesh')
    problems.push({ reason: 'UnsupportedValue', message: `the waypoint listener must be named "mesh"` });
  if (l?.['tls'] !== undefined && l['tls'] !== null)
    problems.push({ reason: 'UnsupportedValue', message: 'tls must be unset: HBONE brings its own mTLS' });
  if (i > 0) problems.push({ reason: 'UnsupportedValue', message: 'a waypoint has exactly one listener' });
  return { name, problems };
}

function acceptedCondition(
  spec: Readonly<Record<string, unknown>> | undefined,
  checks: readonly ListenerCheck[],
  gen: number,
  parameterProblem: string | undefined,
): Condition {
  if (parameterProblem !== undefined) return isFalse('Accepted', 'InvalidParameters', parameterProblem, gen);
  if (obj(obj(spec?.['infrastructure'])?.['parametersRef']) !== undefined)
    return isFalse(
      'Accepted',
      'InvalidParameters',
      'waypoints take no parametersRef: set image and replicas with Gateway annotations or controller config',
      gen,
    );
  if (list(spec?.['addresses']).length > 0)
    return isFalse(
      'Accepted',
      'UnsupportedAddress',
      'spec.addresses is not supported: a waypoint is addressed by its provisioned Service',
      gen,
    );
  if (checks.length === 0)
    return isFalse('Accepted', 'ListenersNotValid', `a waypoint needs exactly one listener ${EXPECTED}`, gen);
  const bad = checks
    .map((c, i) => ({ ...c, i }))
    .filter((c) => c.problems.length > 0 || c.name === undefined);
  if (bad.length > 0) {
    const detail = bad
      .map(
        (c) => `listener ${c.name ?? `#${c.i}`}: ${c.problems.map((p) => p.message).join('; ') || 'no name'}`,
      )
      .join('; ');
    return isFalse(
      'Accepted',
      'ListenersNotValid',
      `a waypoint needs exactly one listener ${EXPECTED} (${detail})`,
      gen,
    );
  }
  return isTrue('Accepted', 'Accepted', 'waypoint Gateway accepted', gen);
}

function programmedCondition(
  accepted: boolean,
  key: string,
  ready: number,
  addresses: readonly string[],
  gen: number,
): Condition {
  if (!accepted) return isFalse('Programmed', 'Invalid', 'not programmed: the Gateway is not accepted', gen);
  if (ready <= 0)
    return isFalse(
      'Programmed',
      'Pending',
      `waiting for a ready replica of waypoint Deployment ${key} (ready replicas: ${ready}); until then its Services' traffic stays L4`,
      gen,
    );
  if (addresses.length === 0)
    return isFalse(
      'Programmed',
      'AddressNotAssigned',
      `waypoint Service ${key} has no ClusterIP yet, or a Service of that name exists that this Gateway does not own (rename the Gateway)`,
      gen,
    );
  return isTrue('Programmed', 'Programmed', 'waypoint is ready', gen);
}

function listenerStatuses(
  checks: readonly ListenerCheck[],
  programmed: Condition,
  gen: number,
): {
  name: string;
  attachedRoutes: number;
  conditions: Condition[];
}[] {
  const out: { name: string; attachedRoutes: number; conditions: Condition[] }[] = [];
  for (const c of checks) {
    // Status listeners are a map keyed by name: unnamed or repeated listeners get no entry.
    if (c.name === undefined || out.some((l) => l.name === c.name)) continue;
    const first = c.problems[0];
    const accepted =
      first === undefined
        ? isTrue('Accepted', 'Accepted', 'listener accepted', gen)
        : isFalse('Accepted', first.reason, c.problems.map((p) => p.message).join('; '), gen);
    const prog =
      first !== undefined
        ? isFalse('Programmed', 'Invalid', 'listener is not accepted', gen)
        : programmed.status === 'True'
          ? isTrue('Programmed', 'Programmed', 'listener is ready', gen)
          : isFalse('Programmed', 'Pending', programmed.message, gen);
    // GAMMA routes attach to Services, never to the waypoint's listener.
    out.push({
      name: c.name,
      attachedRoutes: 0,
      conditions: [accepted, prog, isTrue('ResolvedRefs', 'ResolvedRefs', 'no references to resolve', gen)],
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every Gateway of our waypoint class, by `namespace/name`, with its status. */
export function readWaypointGateways(
  world: World,
  services: ReadonlyMap<string, ServiceInfo>,
  classIsOurs: boolean,
): Map<string, WaypointGateway> {
  const out = new Map<string, WaypointGateway>();
  if (!classIsOurs) return out;
  // `namespace/name` of each Service → uid of the Gateway controlling it.
  const ownedByGateway = new Map<string, string>();
  for (const svc of world.services) {
    const sm = meta(svc);
    const refs = list(obj(obj(svc)?.['metadata'])?.['ownerReferences']);
    for (const r of refs) {
      const o = obj(r);
      if (
        sm !== undefined &&
        o?.['kind'] === 'Gateway' &&
        o['controller'] === true &&
        typeof o['uid'] === 'string'
      )
        ownedByGateway.set(`${sm.namespace}/${sm.name}`, o['uid']);
    }
  }
  for (const raw of world.gateways) {
    const m = meta(raw);
    const spec = obj(obj(raw)?.['spec']);
    if (m === undefined || m.namespace === '' || spec?.['gatewayClassName'] !== NAMES.waypointClass) continue;
    const key = `${m.namespace}/${m.name}`;
    if (out.has(key)) continue;
    const checks = list(spec['listeners']).map((l, i) => checkListener(l, i));
    const accepted = acceptedCondition(spec, checks, m.generation, waypointParameterProblem(raw));
    const readyValue = world.waypointReadyReplicas[key];
    const ready = typeof readyValue === 'number' && Number.isFinite(readyValue) ? readyValue : 0;
    // DESIGN.md: the provisioner names the waypoint's Service after its Gateway. A Service of that
    // name the Gateway does not control (a user's app Service) must never become the waypoint.
    const owned = ownedByGateway.get(key) === m.uid && m.uid !== '';
    const addresses = owned ? (services.get(key)?.clusterIPs ?? []) : [];
    const programmed = programmedCondition(accepted.status === 'True', key, ready, addresses, m.generation);
    out.set(key, {
      meta: m,
      bindable: programmed.status === 'True',
      addresses,
      status: {
        kind: 'gateway',
        source: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: m.namespace, name: m.name },
        conditions: [accepted, programmed],
        addresses,
        listeners: listenerStatuses(checks, programmed, m.generation),
      },
    });
  }
  return out;
}
