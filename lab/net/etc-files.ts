/**
 * The `/etc/resolv.conf` and `/etc/hosts` a pod (or a node's hostNetwork pods) sees, rendered as
 * the kubelet renders them. Pure; the pod network writes them under `/etc/netns/<name>/` so that
 * `ip netns exec` mounts them over the host's files.
 */
import { MeshError } from '../../common/errors.ts';
import { CLUSTER_DNS_IP } from './plan.ts';

/** A pod's DNS settings (`dnsPolicy`/`dnsConfig` already resolved by the caller). */
export interface PodDnsConfig {
  readonly nameservers: readonly string[];
  readonly searches: readonly string[];
  /** `ndots:5`, `edns0`, … */
  readonly options: readonly string[];
}

/** DNS settings for a node namespace: cluster DNS first, as `ClusterFirstWithHostNet` expects. */
export const NODE_DNS: PodDnsConfig = Object.freeze({
  nameservers: [CLUSTER_DNS_IP],
  searches: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
  options: ['ndots:5'],
});

const TOKEN = /^[^\s#;]+$/;

function checkTokens(what: string, values: readonly string[]): void {
  for (const value of values) {
    if (!TOKEN.test(value)) {
      throw new MeshError('LAB_DNS_CONFIG_INVALID', `${what} entry ${JSON.stringify(value)} is invalid`, {
        hint: 'entries must be non-empty and free of whitespace, "#" and ";"',
      });
    }
  }
}

/** The resolv.conf text for `dns`; throws LAB_DNS_CONFIG_INVALID on values that would break the file. */
export function renderResolvConf(dns: PodDnsConfig): string {
  checkTokens('nameserver', dns.nameservers);
  checkTokens('search', dns.searches);
  checkTokens('option', dns.options);
  if (dns.nameservers.length === 0) {
    throw new MeshError('LAB_DNS_CONFIG_INVALID', 'a pod needs at least one nameserver');
  }
  const lines: string[] = [];
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(' ')}`);
  for (const ns of dns.nameservers) lines.push(`nameserver ${ns}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/** The kubelet-managed hosts file of a pod: loopback entries and the pod's own name. */
export function renderHosts(podIp: string, hostname: string): string {
  checkTokens('hosts', [podIp, hostname]);
  return [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    `${podIp}\t${hostname}`,
    '',
  ].join('\n');
}
