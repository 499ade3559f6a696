/**
 * The waypoint's tunnel handler (issue 6 §1): each HBONE CONNECT names a Service ClusterIP:port.
 * Unknown targets are refused 404, Services not bound to this waypoint 403; `tcp` ports are
 * passed through at L4 over HBONE to the endpoint the HTTP engine's picker chooses (the least
 * loaded, skipping ejected ones; another one, up to twice, when its tunnel cannot be opened:
 * `tunnelFailover`); every other port goes to the HTTP engine.
 */
import type { Duplex } from 'node:stream';
import { errorMessage, MeshError } from '../common/errors.ts';
import { formatAuthority, pipeTunnel, tunnelFailover, type HboneTunnel } from '../common/hbone/index.ts';
import type { MeshService } from '../common/ir/mesh.ts';
import type { ServiceKey } from '../common/ir/source.ts';
import type { Logger } from '../common/log.ts';
import { parseWorkloadId } from '../common/spiffe.ts';
import type { EndpointPicker } from './http/endpoints.ts';
import type { HttpEngine, TunnelContext, UpstreamConnector, UpstreamEndpoint } from './http/index.ts';
import type { WaypointConfig } from './program/config.ts';
import { plainDuplex } from './program/tunnel-stream.ts';

/** What the handler needs. */
export interface TunnelHandlerDeps {
  /** The current configuration; undefined before the first snapshot. */
  readonly config: () => WaypointConfig | undefined;
  readonly engine: HttpEngine;
  readonly connector: UpstreamConnector;
  /**
   * The HTTP engine's picker: a passthrough connection counts against its endpoint like a request
   * until it closes, and connect failures eject endpoints for both.
   */
  readonly picker: EndpointPicker;
  readonly logger: Logger;
  /** Counts refusals by status. */
  readonly onRefused?: (status: number) => void;
}

/** The namespace of a workload SPIFFE id, or undefined for other ids. */
export function namespaceOf(spiffeId: string): string | undefined {
  try {
    return parseWorkloadId(spiffeId).namespace;
  } catch {
    return undefined;
  }
}

/** The upstream of a passthrough connection, or why there is none. */
export type Passthrough =
  { readonly endpoint: UpstreamEndpoint; readonly upstream: Duplex } | { readonly refused: string };

/**
 * Opens the upstream of a passthrough connection to `service`:`port`: the picker's endpoint, or
 * another one when its tunnel cannot be opened and `tunnelFailover` says another may serve (the
 * same bound and ejection as a request's: `EndpointPicker.failover`). The chosen endpoint stays
 * counted until the caller releases it; a failed one is released here. Stops trying once
 * `gone()` (the client's tunnel went away).
 */
export async function openPassthrough(
  picker: EndpointPicker,
  services: ReadonlyMap<ServiceKey, MeshService>,
  service: ServiceKey,
  port: number,
  connect: (endpoint: UpstreamEndpoint) => Promise<Duplex>,
  gone: () => boolean,
): Promise<Passthrough> {
  const first = picker.pick(services, service, port);
  if (first === undefined) return { refused: `service ${service} port ${port} has no ready endpoint` };
  let endpoint: UpstreamEndpoint = first;
  const tried = new Set<string>();
  for (;;) {
    try {
      const upstream = await connect(endpoint);
      picker.succeeded(endpoint);
      return { endpoint, upstream };
    } catch (err) {
      picker.release(endpoint);
      const failover = tunnelFailover(err);
      const other =
        failover === undefined
          ? undefined
          : picker.failover(services, service, port, endpoint, failover, tried, gone());
      if (other === undefined) {
        const reason = err instanceof MeshError ? err.describe() : errorMessage(err);
        return { refused: `cannot reach ${endpoint.ip}:${endpoint.port} of ${service}: ${reason}` };
      }
      endpoint = other;
    }
  }
}

/** Builds the `onTunnel` callback of the waypoint's HBONE server. */
export function createTunnelHandler(deps: TunnelHandlerDeps): (tunnel: HboneTunnel) => Promise<void> {
  const refuse = (tunnel: HboneTunnel, status: number, reason: string): void => {
    deps.onRefused?.(status);
    deps.logger.info('tunnel refused', { status, reason, peer: tunnel.peerId });
    tunnel.refuse(status, reason);
  };
  return async (tunnel) => {
    const config = deps.config();
    if (config === undefined) return refuse(tunnel, 503, 'the waypoint has no configuration yet');
    const { host, port } = tunnel.authority;
    const entry = config.targets.get(formatAuthority(host, port));
    if (entry === undefined)
      return refuse(tunnel, 404, `no mesh service port at ${formatAuthority(host, port)}`);
    const svc = entry.service.key;
    if (!entry.bound) return refuse(tunnel, 403, `service ${svc} does not use this waypoint`);
    if (entry.port.appProtocol !== 'tcp') {
      const sourceNamespace = namespaceOf(tunnel.peerId);
      const ctx: TunnelContext = {
        sourceIdentity: tunnel.peerId,
        ...(sourceNamespace === undefined ? {} : { sourceNamespace }),
        target: { service: svc, port },
        protocol: entry.port.appProtocol,
      };
      deps.engine.serveTunnel(plainDuplex(tunnel.accept()), ctx);
      return;
    }
    const opened = await openPassthrough(
      deps.picker,
      config.engine.services,
      svc,
      port,
      (endpoint) => deps.connector.connect(endpoint, AbortSignal.timeout(10_000)),
      () => tunnel.settled,
    );
    if ('refused' in opened) return refuse(tunnel, 503, opened.refused);
    const { endpoint, upstream } = opened;
    if (tunnel.settled) {
      deps.picker.release(endpoint);
      upstream.destroy();
      return;
    }
    pipeTunnel(tunnel.accept(), upstream, (stats) => {
      deps.picker.release(endpoint);
      deps.logger.debug('l4 tunnel closed', {
        service: svc,
        endpoint: endpoint.ip,
        sent: stats.bytesAtoB,
        received: stats.bytesBtoA,
        error: stats.error?.message,
      });
    });
  };
}
