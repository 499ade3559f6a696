/**
 * Endpoint choice: among the ready endpoints of a Service port, the one with the fewest
 * outstanding requests from this waypoint; ties broken by the injected random source. Counters
 * live across config swaps (keyed by `ip:port`) so a swap does not reset the load picture.
 */
import type { MeshService } from '../../common/ir/mesh.ts';
import type { ServiceKey } from '../../common/ir/source.ts';
import type { Random } from '../routing/types.ts';
import type { UpstreamEndpoint } from './types.ts';

/** Tracks outstanding requests per endpoint and picks the least loaded one. */
export class EndpointPicker {
  readonly #outstanding = new Map<string, number>();

  constructor(private readonly random: Random) {}

  /**
   * Picks an endpoint of `service`:`port` and counts a request against it (give it back with
   * {@link release}); undefined when the Service is unknown or has no ready endpoint.
   */
  pick(
    services: ReadonlyMap<ServiceKey, MeshService>,
    service: ServiceKey,
    port: number,
  ): UpstreamEndpoint | undefined {
    const svc = services.get(service);
    if (svc === undefined) return undefined;
    let best: UpstreamEndpoint | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    let ties = 0;
    for (const ep of svc.endpoints) {
      const targetPort = ep.ports[port];
      if (!ep.ready || targetPort === undefined) continue;
      const load = this.#outstanding.get(endpointKey({ ip: ep.ip, port: targetPort })) ?? 0;
      if (load < bestLoad) {
        bestLoad = load;
        ties = 1;
        best = { ip: ep.ip, port: targetPort, workloadUid: ep.workloadUid, service, servicePort: port };
      } else if (load === bestLoad) {
        // Reservoir sampling keeps each tied endpoint equally likely without a second pass.
        ties++;
        if (this.random() * ties < 1) {
          best = { ip: ep.ip, port: targetPort, workloadUid: ep.workloadUid, service, servicePort: port };
        }
      }
    }
    if (best !== undefined) {
      const key = endpointKey(best);
      this.#outstanding.set(key, (this.#outstanding.get(key) ?? 0) + 1);
    }
    return best;
  }

  /** Ends one outstanding request on `endpoint`. */
  release(endpoint: UpstreamEndpoint): void {
    const key = endpointKey(endpoint);
    const n = (this.#outstanding.get(key) ?? 1) - 1;
    if (n <= 0) this.#outstanding.delete(key);
    else this.#outstanding.set(key, n);
  }

  /** Outstanding requests per `ip:port` (for tests and the admin dump). */
  snapshot(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.#outstanding);
  }
}

/** `ip:port` of an endpoint (IPv6 bracketed), the key of pools and counters. */
export function endpointKey(endpoint: { readonly ip: string; readonly port: number }): string {
  return endpoint.ip.includes(':') ? `[${endpoint.ip}]:${endpoint.port}` : `${endpoint.ip}:${endpoint.port}`;
}
