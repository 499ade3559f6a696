/**
 * The kube-proxy part of a node: Services and EndpointSlices → iptables rules in the node's
 * network namespace (only ready endpoints), re-applied on every change.
 */
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { ProxyService } from '../proxy/rules.ts';

/** The proxy's view of the cluster (pure). */
export function proxyServices(
  services: readonly V1Service[],
  slices: readonly V1EndpointSlice[],
): ProxyService[] {
  const out: ProxyService[] = [];
  for (const svc of services) {
    const ip = svc.spec?.clusterIP;
    if (ip === undefined || ip === '' || ip === 'None') continue;
    const ns = svc.metadata?.namespace ?? '';
    const name = svc.metadata?.name ?? '';
    const mine = slices.filter(
      (s) => s.metadata?.namespace === ns && s.metadata.labels?.['kubernetes.io/service-name'] === name,
    );
    out.push({
      namespace: ns,
      name,
      clusterIP: ip,
      ports: (svc.spec?.ports ?? []).map((sp) => {
        const protocol = sp.protocol === 'UDP' ? 'UDP' : 'TCP';
        const endpoints: { ip: string; port: number }[] = [];
        for (const slice of mine) {
          const port = (slice.ports ?? []).find(
            (p) => (p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === protocol,
          )?.port;
          if (port === undefined) continue;
          for (const ep of slice.endpoints ?? []) {
            if (ep.conditions?.ready === false) continue;
            const addr = ep.addresses[0];
            if (addr !== undefined) endpoints.push({ ip: addr, port });
          }
        }
        endpoints.sort((a, b) => `${a.ip}:${a.port}`.localeCompare(`${b.ip}:${b.port}`));
        return { name: sp.name ?? '', port: sp.port, protocol, endpoints };
      }),
    });
  }
  return out.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}
