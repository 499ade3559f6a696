/**
 * Parent resolution for GAMMA (GEP-1426): a parentRef of `group: ""`, `kind: Service` binds a
 * route to that Service's ports. Other parent kinds belong to other controllers and are ignored.
 */
import { REASON } from './status.ts';
import type { PortInfo, ServiceInfo } from './services.ts';
import { int, obj, str } from './read.ts';

/** What one parentRef means to us. */
export type ParentResolution =
  /** Not a Service: another controller's parent; no status entry is written for it. */
  | { readonly kind: 'ignored' }
  /** A Service parent we cannot bind (`Accepted=False`). */
  | { readonly kind: 'invalid'; readonly reason: string; readonly message: string }
  /** Bound to these Service ports. */
  | { readonly kind: 'bound'; readonly service: ServiceInfo; readonly ports: readonly number[] };

function describePort(port: number | undefined, section: string | undefined): string {
  const parts: string[] = [];
  if (port !== undefined) parts.push(`port ${port}`);
  if (section !== undefined) parts.push(`sectionName "${section}"`);
  return parts.join(' and ');
}

function selectPorts(ports: readonly PortInfo[], port: number | undefined, section: string | undefined) {
  // Without port and sectionName the route binds every port of the Service (GEP-1426).
  return ports.filter(
    (p) =>
      p.protocol === 'TCP' &&
      (port === undefined || p.port === port) &&
      (section === undefined || p.name === section),
  );
}

/**
 * Resolves one parentRef of a route in `routeNamespace`. Cross-namespace Service parents are
 * consumer routes and need no ReferenceGrant (GEP-1426).
 */
export function resolveParent(
  raw: unknown,
  routeNamespace: string,
  services: ReadonlyMap<string, ServiceInfo>,
): ParentResolution {
  const ref = obj(raw);
  if (ref === undefined) return { kind: 'ignored' };
  // CRD defaults: group gateway.networking.k8s.io, kind Gateway — a bare name is a Gateway.
  const group = str(ref['group']) ?? 'gateway.networking.k8s.io';
  const kind = str(ref['kind']) ?? 'Gateway';
  if (group !== '' || kind !== 'Service') return { kind: 'ignored' };
  const name = str(ref['name']);
  const namespace = str(ref['namespace']) ?? routeNamespace;
  if (name === undefined || name === '') return invalid('parentRef to a Service has no name');
  const service = services.get(`${namespace}/${name}`);
  if (service === undefined) return invalid(`Service ${namespace}/${name} does not exist`);
  if (service.type === 'ExternalName')
    return invalid(`Service ${namespace}/${name} is of type ExternalName, which cannot be a route parent`);
  if (service.headless)
    return invalid(
      `Service ${namespace}/${name} is headless (clusterIP: None), which cannot be a route parent`,
    );
  const port = ref['port'] === undefined ? undefined : (int(ref['port']) ?? -1);
  const section = str(ref['sectionName']);
  const ports = selectPorts(service.ports, port, section);
  if (ports.length === 0) {
    const what = describePort(port, section);
    return invalid(
      what === ''
        ? `Service ${namespace}/${name} has no TCP port`
        : `Service ${namespace}/${name} has no TCP port matching ${what}`,
    );
  }
  return { kind: 'bound', service, ports: ports.map((p) => p.port) };
}

function invalid(message: string): ParentResolution {
  return { kind: 'invalid', reason: REASON.noMatchingParent, message };
}
