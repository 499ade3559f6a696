/**
 * kube-proxy's iptables mode as a pure function: services and their endpoints in, the
 * `iptables-restore` text for the `nat` and `filter` tables out. Only chains prefixed `WML-` are
 * declared, so {@link applyProxyRules} can replace them atomically with `--noflush`.
 *
 * Layout (as kube-proxy's): `PREROUTING`/`OUTPUT` → `WML-SERVICES` → per service port
 * `WML-SVC-<hash>` → (random, `-m statistic`) per endpoint `WML-SEP-<hash>` → `DNAT`. Traffic from
 * outside the pod network and hairpin traffic (an endpoint reaching its own service) is marked by
 * `WML-MARK-MASQ` and masqueraded in `WML-POSTROUTING`. Service ports without endpoints are
 * rejected in the filter table, so clients fail fast instead of timing out.
 * https://github.com/kubernetes/kubernetes/blob/master/pkg/proxy/iptables/proxier.go
 */
import { createHash } from 'node:crypto';
import { CLUSTER_CIDR } from '../net/plan.ts';

/** One endpoint of a service port. */
export interface ProxyEndpoint {
  readonly ip: string;
  readonly port: number;
}

/** One port of a service with its ready endpoints. */
export interface ProxyServicePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
  readonly endpoints: readonly ProxyEndpoint[];
}

/** A ClusterIP service as kube-proxy sees it. */
export interface ProxyService {
  readonly namespace: string;
  readonly name: string;
  readonly clusterIP: string;
  readonly ports: readonly ProxyServicePort[];
}

/** Options for {@link buildProxyRules}. */
export interface ProxyRuleOptions {
  /** Sources outside this CIDR are masqueraded (kube-proxy's `--cluster-cidr`). */
  readonly clusterCidr?: string;
}

/** The mark bit that asks `WML-POSTROUTING` to masquerade (kube-proxy's 0x4000). */
export const MASQ_MARK = '0x4000';
/** Every chain the proxy owns starts with this. */
export const CHAIN_PREFIX = 'WML-';
/** The built-in chains that jump into ours, per table: `[table, chain, rule spec]`. */
export const PROXY_JUMPS: readonly (readonly [table: 'nat' | 'filter', chain: string, spec: string])[] = [
  ['nat', 'PREROUTING', '-m comment --comment "waymesh service portals" -j WML-SERVICES'],
  ['nat', 'OUTPUT', '-m comment --comment "waymesh service portals" -j WML-SERVICES'],
  ['nat', 'POSTROUTING', '-m comment --comment "waymesh postrouting rules" -j WML-POSTROUTING'],
  [
    'filter',
    'FORWARD',
    '-m conntrack --ctstate NEW -m comment --comment "waymesh service portals" -j WML-SERVICES',
  ],
  [
    'filter',
    'OUTPUT',
    '-m conntrack --ctstate NEW -m comment --comment "waymesh service portals" -j WML-SERVICES',
  ],
];

/** `WML-SVC-…`/`WML-SEP-…` name: 16 uppercase hex digits of SHA-256 over `parts` (≤ 28 characters). */
function chainName(kind: 'SVC' | 'SEP', parts: readonly string[]): string {
  const digest = createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16).toUpperCase();
  return `${CHAIN_PREFIX}${kind}-${digest}`;
}

function comment(text: string): string {
  // Names are DNS labels and ports numbers, so a double-quoted comment cannot be broken out of.
  return `-m comment --comment "${text.replace(/["\\]/g, '')}"`;
}

function proto(p: 'TCP' | 'UDP'): string {
  const lower = p.toLowerCase();
  return `-p ${lower} -m ${lower}`;
}

function compareServices(a: ProxyService, b: ProxyService): number {
  return `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`);
}

/**
 * The `iptables-restore` input for `services`: `*nat` and `*filter` sections that declare (and so
 * flush) every `WML-` chain they use, then fill them, plus one `-I` jump per {@link PROXY_JUMPS}
 * entry. Deterministic: services, ports and endpoints are sorted.
 */
export function buildProxyRules(services: readonly ProxyService[], options: ProxyRuleOptions = {}): string {
  const clusterCidr = options.clusterCidr ?? CLUSTER_CIDR;
  const natChains = ['WML-SERVICES', 'WML-POSTROUTING', 'WML-MARK-MASQ'];
  const nat: string[] = [
    `-A WML-POSTROUTING -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`,
    // Clear the mark so a packet that is re-routed is not masqueraded twice.
    `-A WML-POSTROUTING -j MARK --xor-mark ${MASQ_MARK}`,
    `-A WML-POSTROUTING ${comment('waymesh service traffic requiring SNAT')} -j MASQUERADE --random-fully`,
    `-A WML-MARK-MASQ -j MARK --or-mark ${MASQ_MARK}`,
  ];
  const filter: string[] = [];
  const svcRules: string[] = [];
  for (const svc of [...services].sort(compareServices)) {
    const ports = [...svc.ports].sort((a, b) => a.name.localeCompare(b.name) || a.port - b.port);
    for (const port of ports) {
      const id = `${svc.namespace}/${svc.name}:${port.name}`;
      const match = `-d ${svc.clusterIP}/32 ${proto(port.protocol)} --dport ${port.port}`;
      const endpoints = [...port.endpoints].sort((a, b) => a.ip.localeCompare(b.ip) || a.port - b.port);
      if (endpoints.length === 0) {
        filter.push(
          `-A WML-SERVICES ${comment(`${id} has no endpoints`)} ${match} -j REJECT --reject-with icmp-port-unreachable`,
        );
        continue;
      }
      const svcChain = chainName('SVC', [svc.namespace, svc.name, port.name, port.protocol]);
      natChains.push(svcChain);
      nat.push(`-A WML-SERVICES ${comment(`${id} cluster IP`)} ${match} -j ${svcChain}`);
      svcRules.push(
        `-A ${svcChain} ${comment(`${id} cluster IP`)} ! -s ${clusterCidr} ${match} -j WML-MARK-MASQ`,
      );
      endpoints.forEach((ep, i) => {
        const sepChain = chainName('SEP', [
          svc.namespace,
          svc.name,
          port.name,
          port.protocol,
          `${ep.ip}:${ep.port}`,
        ]);
        natChains.push(sepChain);
        const left = endpoints.length - i;
        // Endpoint i of n is taken with probability 1/(n-i), so each ends up with 1/n overall.
        const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '';
        svcRules.push(`-A ${svcChain} ${comment(`${id} -> ${ep.ip}:${ep.port}`)}${pick} -j ${sepChain}`);
        svcRules.push(`-A ${sepChain} ${comment(id)} -s ${ep.ip}/32 -j WML-MARK-MASQ`);
        svcRules.push(
          `-A ${sepChain} ${comment(id)} ${proto(port.protocol)} -j DNAT --to-destination ${ep.ip}:${ep.port}`,
        );
      });
    }
  }
  const jumps = (table: 'nat' | 'filter'): string[] =>
    PROXY_JUMPS.filter(([t]) => t === table).map(([, chain, spec]) => `-I ${chain} 1 ${spec}`);
  return [
    '*nat',
    ...natChains.map((c) => `:${c} - [0:0]`),
    ...jumps('nat'),
    ...nat,
    ...svcRules,
    'COMMIT',
    '*filter',
    ':WML-SERVICES - [0:0]',
    ...jumps('filter'),
    ...filter,
    'COMMIT',
    '',
  ].join('\n');
}
