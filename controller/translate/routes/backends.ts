/**
 * backendRefs (and RequestMirror targets): Services only, with a port that exists, reachable
 * across namespaces only through a ReferenceGrant, and speaking a protocol the route can use.
 * An unresolvable backend keeps its weight as an InvalidBackend (the waypoint answers 500).
 */
import type { InvalidBackend, ResolvedBackend, RouteFilter, ServiceKey } from '../../../common/ir/index.ts';
import { serviceKey } from '../../../common/ir/index.ts';
import type { CustomObject } from '../world.ts';
import type { ServiceInfo } from './services.ts';
import type { Problem } from './status.ts';
import { REASON } from './status.ts';
import type { Result } from './read.ts';
import { fail, int, list, obj, ok, str } from './read.ts';

/** What resolving references of one route needs; `problems` collects ResolvedRefs failures. */
export interface RefContext {
  readonly routeKind: 'HTTPRoute' | 'GRPCRoute';
  readonly routeNamespace: string;
  readonly services: ReadonlyMap<string, ServiceInfo>;
  readonly grants: readonly CustomObject[];
  readonly problems: Problem[];
}

/** A resolved Service port. */
export interface Target {
  readonly service: ServiceKey;
  readonly port: number;
}

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** True when a ReferenceGrant in `namespace` lets this route kind/namespace refer to Service `name`. */
export function grantAllows(ctx: RefContext, namespace: string, name: string): boolean {
  return ctx.grants.some((g) => {
    if (g.metadata.namespace !== namespace) return false;
    const from = list(g.spec?.['from']).some((raw) => {
      const f = obj(raw);
      return (
        str(f?.['group']) === GATEWAY_GROUP &&
        str(f?.['kind']) === ctx.routeKind &&
        str(f?.['namespace']) === ctx.routeNamespace
      );
    });
    const to = list(g.spec?.['to']).some((raw) => {
      const t = obj(raw);
      const toName = str(t?.['name']);
      return (
        str(t?.['group']) === '' &&
        str(t?.['kind']) === 'Service' &&
        (toName === undefined || toName === '' || toName === name)
      );
    });
    return from && to;
  });
}

/** Resolves the Service port a backendRef-shaped object points at, or says why it cannot. */
export function resolveTarget(ref: Readonly<Record<string, unknown>>, ctx: RefContext): Result<Target> {
  const group = str(ref['group']) ?? '';
  const kind = str(ref['kind']) ?? 'Service';
  const name = str(ref['name']) ?? '';
  const namespace = str(ref['namespace']) ?? ctx.routeNamespace;
  const what = `backendRef ${namespace}/${name}`;
  if (group !== '' || kind !== 'Service')
    return fail(
      REASON.invalidKind,
      `${what} has kind ${group === '' ? kind : `${kind}.${group}`}; only core Services are supported`,
    );
  if (namespace !== ctx.routeNamespace && !grantAllows(ctx, namespace, name))
    return fail(
      REASON.refNotPermitted,
      `${what} is in another namespace and no ReferenceGrant in ${namespace} allows ${ctx.routeKind}s from ${ctx.routeNamespace}`,
    );
  const service = ctx.services.get(serviceKey(namespace, name));
  if (service === undefined)
    return fail(REASON.backendNotFound, `Service ${namespace}/${name} does not exist`);
  if (service.type === 'ExternalName')
    return fail(
      REASON.backendNotFound,
      `Service ${namespace}/${name} is of type ExternalName, a DNS alias with no endpoints the mesh can send to`,
    );
  const port = int(ref['port']);
  if (port === undefined) return fail(REASON.backendNotFound, `${what} needs a port`);
  const numbered = service.ports.filter((p) => p.port === port);
  if (numbered.length === 0)
    return fail(REASON.backendNotFound, `Service ${namespace}/${name} has no port ${port}`);
  const sp = numbered.find((p) => p.protocol === 'TCP');
  if (sp === undefined)
    return fail(
      REASON.unsupportedProtocol,
      `Service ${namespace}/${name} port ${port} is not TCP; the mesh carries only TCP`,
    );
  // An explicit `tcp` appProtocol cannot carry gRPC; HTTP over a `grpc` port is fine (HTTP/2).
  if (ctx.routeKind === 'GRPCRoute' && sp.appProtocol === 'tcp')
    return fail(
      REASON.unsupportedProtocol,
      `Service ${namespace}/${name} port ${port} has appProtocol tcp, which a GRPCRoute cannot use`,
    );
  return ok({ service: service.key, port });
}

/**
 * Resolves one backendRef with its already compiled per-backend `filters`. A bad weight fails
 * the rule (UnsupportedValue); a bad reference becomes an InvalidBackend plus a problem.
 */
export function resolveBackend(
  raw: unknown,
  ctx: RefContext,
  filters: readonly RouteFilter[],
): Result<ResolvedBackend | InvalidBackend> {
  const ref = obj(raw);
  if (ref === undefined) return fail(REASON.unsupportedValue, 'a backendRef is not an object');
  const weight = ref['weight'] === undefined ? 1 : int(ref['weight']);
  if (weight === undefined || weight < 0 || weight > 1_000_000)
    return fail(
      REASON.unsupportedValue,
      `backendRef weight ${JSON.stringify(ref['weight'])} is not 0..1000000`,
    );
  const target = resolveTarget(ref, ctx);
  if (!target.ok) {
    ctx.problems.push({ reason: target.reason, message: target.message });
    return ok({ kind: 'invalid', weight, reason: target.reason });
  }
  return ok({ kind: 'service', service: target.value.service, port: target.value.port, weight, filters });
}
