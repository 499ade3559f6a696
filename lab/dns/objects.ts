/**
 * Services and EndpointSlices as the API server returns them → the narrow input of
 * {@link buildZone}. Loose client-node objects are converted here, once, at the edge. Pure.
 */
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

import { buildZone, type Zone, type ZoneEndpoints, type ZoneService, type ZoneServicePort } from './zone.ts';

/** The label an EndpointSlice names its service with. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** A Service as the zone sees it, or `undefined` when it has no name, namespace or is ExternalName. */
export function zoneService(svc: V1Service): ZoneService | undefined {
  const { name, namespace } = svc.metadata ?? {};
  const spec = svc.spec;
  if (name === undefined || namespace === undefined || spec === undefined) return undefined;
  // ExternalName services have no addresses; the lab's zone does not serve CNAMEs for them.
  if (spec.type === 'ExternalName') return undefined;
  const ports: ZoneServicePort[] = (spec.ports ?? []).map((p) => ({
    ...(p.name === undefined || p.name === '' ? {} : { name: p.name }),
    port: p.port,
    protocol: p.protocol === 'UDP' ? 'UDP' : 'TCP',
  }));
  return { namespace, name, clusterIP: spec.clusterIP ?? '', ports };
}

/**
 * The addresses of one EndpointSlice, or `undefined` when it names no service or is not IPv4.
 * An endpoint counts as ready unless `conditions.ready` is false (the API's documented default).
 */
export function zoneEndpoints(slice: V1EndpointSlice): ZoneEndpoints | undefined {
  const namespace = slice.metadata?.namespace;
  const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  if (namespace === undefined || service === undefined || slice.addressType !== 'IPv4') return undefined;
  const addresses = (slice.endpoints ?? []).flatMap((ep) =>
    ep.addresses.map((ip) => ({
      ip,
      ready: ep.conditions?.ready !== false,
      ...(ep.hostname === undefined || ep.hostname === '' ? {} : { hostname: ep.hostname }),
    })),
  );
  return { namespace, service, addresses };
}

/** Builds the zone from everything the informers hold. */
export function zoneFromObjects(
  services: readonly V1Service[],
  slices: readonly V1EndpointSlice[],
  options: { domain?: string; serial?: number } = {},
): Zone {
  return buildZone({
    services: services.map(zoneService).filter((s) => s !== undefined),
    endpoints: slices.map(zoneEndpoints).filter((e) => e !== undefined),
    ...options,
  });
}
