/**
 * The waypoint's tunnel handler (issue 6 §1): each HBONE CONNECT names a Service ClusterIP:port.
 * Unknown targets are refused 404, Services not bound to this waypoint 403; `tcp` ports are
 * passed through at L4 to a ready endpoint over HBONE (another one, up to twice, when its tunnel
 * cannot be opened: `tunnelFailover`); every other port goes to the HTTP engine.
 */
import { errorMessage, MeshError } from '../common/errors.ts';
import { formatAuthority, pipeTunnel, tunnelFailover, type HboneTunnel } from '../common/hbone/index.ts';
import type { Endpoint } from '../common/ir/mesh.ts';
import type { Logger } from '../common/log.ts';
import { parseWorkloadId } from '../common/spiffe.ts';
import { MAX_FAILOVERS } from './http/forward.ts';
import type { HttpEngine, TunnelContext, UpstreamConnector, UpstreamEndpoint } from './http/index.ts';
import type { TargetEntry, WaypointConfig } from './program/config.ts';
import { plainDuplex } from './program/tunnel-stream.ts';

/** What the handler needs. */
export interface TunnelHandlerDeps {
  /** The current configuration; undefined before the first snapshot. */
  readonly config: () => WaypointConfig | undefined;
  readonly engine: HttpEngine;
  readonly connector: UpstreamConnector;
  readonly random: () => number;
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

/**
 * Picks a ready endpoint of `entry` serving its port, uniformly, none whose IP is in `avoid`;
 * undefined when there is none.
 */
export function pickEndpoint(
  entry: TargetEntry,
  random: () => number,
  avoid?: ReadonlySet<string>,
): UpstreamEndpoint | undefined {
  const port = entry.port.port;
  const ready: Endpoint[] = [];
  for (const ep of entry.service.endpoints) {
    if (ep.ready && ep.ports[port] !== undefined && avoid?.has(ep.ip) !== true) ready.push(ep);
  }
  const ep = ready[Math.floor(random() * ready.length)];
  const target = ep?.ports[port];
  if (ep === undefined || target === undefined) return undefined;
  return {
    ip: ep.ip,
    port: target,
    workloadUid: ep.workloadUid,
    service: entry.service.key,
    servicePort: port,
  };
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
    let endpoint = pickEndpoint(entry, deps.random);
    if (endpoint === undefined)
      return refuse(tunnel, 503, `service ${svc} port ${port} has no ready endpoint`);
    let upstream;
    const tried = new Set<string>();
    for (;;) {
      try {
        upstream = await deps.connector.connect(endpoint, AbortSignal.timeout(10_000));
        break;
      } catch (err) {
        tried.add(endpoint.ip);
        const other =
          tried.size <= MAX_FAILOVERS && !tunnel.settled && tunnelFailover(err) !== undefined
            ? pickEndpoint(entry, deps.random, tried)
            : undefined;
        if (other === undefined) {
          const reason = err instanceof MeshError ? err.describe() : errorMessage(err);
          return refuse(tunnel, 503, `cannot reach ${endpoint.ip}:${endpoint.port} of ${svc}: ${reason}`);
        }
        endpoint = other;
      }
    }
    if (tunnel.settled) {
      upstream.destroy();
      return;
    }
    pipeTunnel(tunnel.accept(), upstream, (stats) =>
      deps.logger.debug('l4 tunnel closed', {
        service: svc,
        endpoint: endpoint.ip,
        sent: stats.bytesAtoB,
        received: stats.bytesBtoA,
        error: stats.error?.message,
      }),
    );
  };
}
