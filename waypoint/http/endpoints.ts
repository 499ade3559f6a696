/**
 * Endpoint choice: among the ready endpoints of a Service port, the one with the fewest
 * outstanding requests from this waypoint; ties broken by the injected random source. Counters
 * live across config swaps (keyed by `ip:port`) so a swap does not reset the load picture.
 * Endpoints whose tunnel could not be opened are skipped for a while (passive health,
 * ../../common/endpoint-health.ts), unless every one is; a request failing over after such a
 * failure also avoids the endpoints it already tried (forward.ts).
 */
import { EndpointHealth } from '../../common/endpoint-health.ts';
import type { TunnelFailover } from '../../common/hbone/index.ts';
import type { MeshService } from '../../common/ir/mesh.ts';
import type { ServiceKey } from '../../common/ir/source.ts';
import type { Random } from '../routing/types.ts';
import type { UpstreamEndpoint } from './types.ts';

/** Endpoints a request or passthrough connection tries after the first one's tunnel failed to open. */
export const MAX_FAILOVERS = 2;

/** Tracks outstanding requests per endpoint and picks the least loaded one. */
export class EndpointPicker {
  readonly #outstanding = new Map<string, number>();
  /** The UpstreamEndpoint of a config endpoint for a Service port, made once per snapshot object. */
  readonly #made = new WeakMap<object, Map<number, UpstreamEndpoint>>();

  constructor(
    private readonly random: Random,
    private readonly health: EndpointHealth = new EndpointHealth(),
  ) {}

  /**
   * Picks an endpoint of `service`:`port` and counts a request against it (give it back with
   * {@link release}); undefined when the Service is unknown, has no ready endpoint, or has none
   * outside `avoid` (keys, see {@link endpointKey}).
   */
  pick(
    services: ReadonlyMap<ServiceKey, MeshService>,
    service: ServiceKey,
    port: number,
    avoid?: ReadonlySet<string>,
  ): UpstreamEndpoint | undefined {
    const svc = services.get(service);
    if (svc === undefined) return undefined;
    // The common case (nothing ejected, nothing to avoid) makes one pass with no lookups.
    const careful = avoid !== undefined || this.health.size > 0;
    let best = this.#choose(svc, service, port, careful, avoid);
    // Every candidate ejected: choose among them all again (but never one to avoid).
    if (best === undefined && careful && this.health.size > 0)
      best = this.#choose(svc, service, port, false, avoid);
    if (best !== undefined) {
      const key = endpointKey(best);
      this.#outstanding.set(key, (this.#outstanding.get(key) ?? 0) + 1);
    }
    return best;
  }

  /** The tunnel to `endpoint` could not be opened and the endpoint looks down: skip it for a while. */
  failed(endpoint: UpstreamEndpoint): void {
    this.health.failed(endpointKey(endpoint));
  }

  /**
   * The tunnel to `endpoint` could not be opened and `failover` (`tunnelFailover`) allows another
   * endpoint: ejects it when `failover` says so, adds its key to `tried`, and picks (and counts)
   * an endpoint not in `tried`. Undefined when `giveUp`, when {@link MAX_FAILOVERS} others were
   * tried already, or when none is left. The caller has released `endpoint`.
   */
  failover(
    services: ReadonlyMap<ServiceKey, MeshService>,
    service: ServiceKey,
    port: number,
    endpoint: UpstreamEndpoint,
    failover: TunnelFailover,
    tried: Set<string>,
    giveUp: boolean,
  ): UpstreamEndpoint | undefined {
    if (failover.eject) this.failed(endpoint);
    tried.add(endpointKey(endpoint));
    return giveUp || tried.size > MAX_FAILOVERS ? undefined : this.pick(services, service, port, tried);
  }

  /** `endpoint` answered: it is no longer skipped. */
  succeeded(endpoint: UpstreamEndpoint): void {
    if (this.health.size > 0) this.health.succeeded(endpointKey(endpoint));
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

  /**
   * The least loaded ready endpoint; with `healthy`, none the health skips. None in `avoid`
   * either way.
   */
  #choose(
    svc: MeshService,
    service: ServiceKey,
    port: number,
    healthy: boolean,
    avoid: ReadonlySet<string> | undefined,
  ): UpstreamEndpoint | undefined {
    let best: UpstreamEndpoint | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    let ties = 0;
    for (const ep of svc.endpoints) {
      const targetPort = ep.ports[port];
      if (!ep.ready || targetPort === undefined) continue;
      let byPort = this.#made.get(ep);
      if (byPort === undefined) {
        byPort = new Map();
        this.#made.set(ep, byPort);
      }
      let candidate = byPort.get(port);
      if (candidate === undefined || candidate.service !== service || candidate.port !== targetPort) {
        candidate = { ip: ep.ip, port: targetPort, workloadUid: ep.workloadUid, service, servicePort: port };
        byPort.set(port, candidate);
      }
      const key = endpointKey(candidate);
      if (avoid?.has(key) === true || (healthy && this.health.skipped(key))) continue;
      const load = this.#outstanding.get(key) ?? 0;
      if (load < bestLoad) {
        bestLoad = load;
        ties = 1;
        best = candidate;
      } else if (load === bestLoad) {
        // Reservoir sampling keeps each tied endpoint equally likely without a second pass.
        ties++;
        if (this.random() * ties < 1) best = candidate;
      }
    }
    return best;
  }
}

const KEYS = new WeakMap<object, string>();

/**
 * `ip:port` of an endpoint (IPv6 bracketed), the key of pools and counters; made once per
 * endpoint object (they are immutable), so the hot path looks up the same string each time.
 */
export function endpointKey(endpoint: { readonly ip: string; readonly port: number }): string {
  let key = KEYS.get(endpoint);
  if (key === undefined) {
    key = endpoint.ip.includes(':') ? `[${endpoint.ip}]:${endpoint.port}` : `${endpoint.ip}:${endpoint.port}`;
    KEYS.set(endpoint, key);
  }
  return key;
}
