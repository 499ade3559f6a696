/**
 * Resolution of GEP-713 `targetRefs` (LocalPolicyTargetReference: `{group, kind, name}` in the
 * policy's own namespace) against the world snapshot.
 */
import type { ServiceKey, SourceRef } from '../../../common/ir/index.ts';
import { serviceKey } from '../../../common/ir/index.ts';
import { NAMES, type CustomObject, type World } from '../world.ts';
import { obj, str } from './read.ts';
import { REASON, type AncestorRef, type Reason } from './status.ts';

/** The Gateway API group. */
export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** A target kind a policy may name. */
export type TargetKind = 'Service' | 'Gateway' | 'HTTPRoute';

/** A target that exists. */
export type Target =
  | { readonly kind: 'service'; readonly service: ServiceKey; readonly name: string }
  | { readonly kind: 'waypoint'; readonly namespace: string; readonly name: string }
  | { readonly kind: 'route'; readonly route: SourceRef; readonly parents: readonly ServiceKey[] };

/** One targetRef, resolved or with the reason it was not. */
export type ResolvedRef =
  | { readonly ok: true; readonly ancestorRef: AncestorRef; readonly target: Target }
  | {
      readonly ok: false;
      readonly ancestorRef: AncestorRef;
      readonly reason: Reason;
      readonly message: string;
    };

const GROUP_OF: Readonly<Record<TargetKind, string>> = {
  Service: '',
  Gateway: GATEWAY_GROUP,
  HTTPRoute: GATEWAY_GROUP,
};

function named(
  list: readonly CustomObject[] | readonly { metadata?: { namespace?: string; name?: string } }[],
  ns: string,
  name: string,
) {
  return list.find((o) => o.metadata?.namespace === ns && o.metadata?.name === name);
}

/** The Services an HTTPRoute attaches to (GAMMA parentRefs of `group: ""`, `kind: Service`). */
function serviceParents(route: CustomObject, ns: string): ServiceKey[] {
  const refs = Array.isArray(route.spec?.['parentRefs']) ? (route.spec['parentRefs'] as unknown[]) : [];
  const out: ServiceKey[] = [];
  for (const r of refs) {
    const ref = obj(r);
    if (ref === undefined || str(ref['group']) !== '' || str(ref['kind']) !== 'Service') continue;
    const name = str(ref['name']);
    if (name === undefined || name === '') continue;
    const key = serviceKey(str(ref['namespace']) ?? ns, name);
    if (!out.includes(key)) out.push(key);
  }
  return out.sort();
}

/**
 * Resolves each targetRef (duplicates dropped) to a Target, or to `Invalid` (malformed, or a
 * kind not in `kinds`) / `TargetNotFound` (no such object in the policy's namespace).
 */
export function resolveTargetRefs(
  world: World,
  ns: string,
  refs: readonly unknown[],
  kinds: readonly TargetKind[],
): ResolvedRef[] {
  const out: ResolvedRef[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of refs.entries()) {
    const field = `spec.targetRefs[${i}]`;
    const ref = obj(raw);
    const group = str(ref?.['group']) ?? '';
    const kind = str(ref?.['kind']) ?? '';
    const name = str(ref?.['name']) ?? '';
    const ancestorRef: AncestorRef = { group, kind, namespace: ns, name };
    const id = `${group}/${kind}/${name}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const fail = (reason: Reason, message: string): void => {
      out.push({ ok: false, ancestorRef, reason, message });
    };
    const allowed = kinds.find((k) => k === kind && GROUP_OF[k] === group);
    if (ref === undefined || name === '') {
      fail(REASON.invalid, `${field}: must be an object with group, kind and name`);
    } else if (allowed === undefined) {
      const expected = kinds.map((k) => `${k} (group "${GROUP_OF[k]}")`).join(', ');
      fail(
        REASON.invalid,
        `${field}: kind ${JSON.stringify(kind)} of group ${JSON.stringify(group)} is not supported; expected ${expected}`,
      );
    } else if (allowed === 'Service') {
      if (named(world.services, ns, name) === undefined)
        fail(REASON.targetNotFound, `Service ${ns}/${name} not found`);
      else
        out.push({ ok: true, ancestorRef, target: { kind: 'service', service: serviceKey(ns, name), name } });
    } else if (allowed === 'Gateway') {
      const gw = named(world.gateways, ns, name) as CustomObject | undefined;
      if (gw === undefined) fail(REASON.targetNotFound, `Gateway ${ns}/${name} not found`);
      else if (str(gw.spec?.['gatewayClassName']) !== NAMES.waypointClass)
        fail(
          REASON.invalid,
          `${field}: Gateway ${ns}/${name} is not a waypoint (gatewayClassName must be ${NAMES.waypointClass})`,
        );
      else out.push({ ok: true, ancestorRef, target: { kind: 'waypoint', namespace: ns, name } });
    } else {
      const route = named(world.httpRoutes, ns, name) as CustomObject | undefined;
      if (route === undefined) fail(REASON.targetNotFound, `HTTPRoute ${ns}/${name} not found`);
      else
        out.push({
          ok: true,
          ancestorRef,
          target: {
            kind: 'route',
            route: { group: GATEWAY_GROUP, kind: 'HTTPRoute', namespace: ns, name },
            parents: serviceParents(route, ns),
          },
        });
    }
  }
  return out;
}
