/**
 * In-pod capture rules as a pure function (issue 5 §1): pod addresses and exemptions in, the exact
 * `iptables-restore` / `ip6tables-restore` input out. Everything lives in the `nat` table of the
 * pod's own network namespace, in chains prefixed `WAYMESH_` that the built-in chains jump to once,
 * so applying and removing never touch anyone else's rules.
 *
 * - OUTPUT: the app's TCP → REDIRECT to 15001, except the agent's own marked sockets, loopback,
 *   the pod's own addresses, TCP DNS (UDP never enters the chain) and excluded ports/CIDRs.
 * - PREROUTING: TCP arriving from outside → REDIRECT to 15006, except HBONE on 15008 (it lands
 *   on the agent's 15008 listener directly), the agent's own ports, kubelet probe sources and
 *   excluded ports.
 *
 * Rules are written exactly as `iptables-save` prints them back (`-d 10.1.2.3/32`,
 * `-p tcp -m tcp --dport 53`), so `inspect` compares them line for line.
 * Istio's equivalent: https://github.com/istio/istio/tree/master/cni/pkg/iptables
 */
import { MeshError } from '../../common/errors.ts';
import { canonicalIp, parseCidr } from './addr.ts';

/** Every chain we create starts with this; nothing else is ever touched. */
export const CHAIN_PREFIX = 'WAYMESH_';
/** Our chain for locally generated (app) traffic, jumped to from nat OUTPUT. */
export const OUTPUT_CHAIN = 'WAYMESH_OUTPUT';
/** Our chain for traffic arriving at the pod, jumped to from nat PREROUTING. */
export const PREROUTING_CHAIN = 'WAYMESH_PREROUTING';

/** `SO_MARK` the agent sets on its own sockets inside a pod, so capture lets them through. */
export const AGENT_MARK = 0x539;
/** The bits of the packet mark that {@link AGENT_MARK} is compared under. */
export const AGENT_MARK_MASK = 0xfff;

/** Outbound capture listener (DESIGN.md §3). */
export const OUTBOUND_CAPTURE_PORT = 15001;
/** Inbound plaintext capture listener (DESIGN.md §3). */
export const INBOUND_CAPTURE_PORT = 15006;
/** HBONE listener in the pod (DESIGN.md §3). */
export const HBONE_PORT = 15008;

/**
 * Probe sources exempt from inbound capture unless told otherwise: the addresses Istio SNATs
 * kubelet probes to. In the lab the kubelet probes from the node's IP, so pass that instead.
 */
export const DEFAULT_PROBE_SOURCE_IPS: readonly string[] = Object.freeze([
  '169.254.7.127',
  'fd16:9254:7127:1337:ffff:ffff:ffff:ffff',
]);

/** What the rules of one pod depend on. */
export interface CaptureOptions {
  /** The pod's addresses (one per family); an IPv6 address adds the ip6tables rule set. */
  readonly podIps: readonly string[];
  /** Sources whose inbound connections are never captured (kubelet probes); default {@link DEFAULT_PROBE_SOURCE_IPS}. */
  readonly probeSourceIps?: readonly string[];
  /** Inbound destination ports left alone (`waymesh.io/exclude-inbound-ports`). */
  readonly excludeInboundPorts?: readonly number[];
  /** Outbound destination ports left alone (`waymesh.io/exclude-outbound-ports`). */
  readonly excludeOutboundPorts?: readonly number[];
  /** Outbound destinations left alone (`waymesh.io/exclude-outbound-ip-ranges`). */
  readonly excludeOutboundCidrs?: readonly string[];
}

/** The restore input per family; `ipv6` only when the pod has an IPv6 address. */
export interface CaptureRuleSet {
  readonly ipv4: string;
  readonly ipv6?: string;
}

/** multiport takes at most 15 ports per rule. */
const MULTIPORT_MAX = 15;

/** Builds the rule sets for one pod; throws MeshError on malformed addresses or ports. */
export function buildCaptureRules(options: CaptureOptions): CaptureRuleSet {
  const pod = options.podIps.map(canonicalIp);
  if (pod.length === 0) {
    throw new MeshError('CAPTURE_NO_POD_IP', 'cannot build capture rules for a pod without an IP', {
      hint: 'capture a pod only once its status has a podIP',
    });
  }
  const probes = (options.probeSourceIps ?? DEFAULT_PROBE_SOURCE_IPS).map(parseCidr);
  const cidrs = (options.excludeOutboundCidrs ?? []).map(parseCidr);
  const inPorts = portList(options.excludeInboundPorts ?? [], 'excludeInboundPorts');
  const outPorts = portList(options.excludeOutboundPorts ?? [], 'excludeOutboundPorts');
  const family = (f: 4 | 6): string =>
    tableText({
      podIps: pod.filter((p) => p.family === f).map((p) => `${p.address}/${f === 4 ? 32 : 128}`),
      loopback: f === 4 ? '127.0.0.0/8' : '::1/128',
      probes: unique(probes.filter((c) => c.family === f).map((c) => c.text)),
      cidrs: unique(cidrs.filter((c) => c.family === f).map((c) => c.text)),
      inPorts,
      outPorts,
    });
  const ipv4 = family(4);
  return pod.some((p) => p.family === 6) ? { ipv4, ipv6: family(6) } : { ipv4 };
}

interface FamilyInput {
  readonly podIps: readonly string[];
  readonly loopback: string;
  readonly probes: readonly string[];
  readonly cidrs: readonly string[];
  readonly inPorts: readonly number[];
  readonly outPorts: readonly number[];
}

function tableText(f: FamilyInput): string {
  const out = `-A ${OUTPUT_CHAIN}`;
  const pre = `-A ${PREROUTING_CHAIN}`;
  const lines = [
    '*nat',
    `:${OUTPUT_CHAIN} - [0:0]`,
    `:${PREROUTING_CHAIN} - [0:0]`,
    `-A PREROUTING -p tcp -j ${PREROUTING_CHAIN}`,
    `-A OUTPUT -p tcp -j ${OUTPUT_CHAIN}`,
    `${out} -m mark --mark 0x${AGENT_MARK.toString(16)}/0x${AGENT_MARK_MASK.toString(16)} -j RETURN`,
    `${out} -o lo -j RETURN`,
    `${out} -d ${f.loopback} -j RETURN`,
    ...f.podIps.map((ip) => `${out} -d ${ip} -j RETURN`),
    `${out} -p tcp -m tcp --dport 53 -j RETURN`,
    ...portRules(out, f.outPorts),
    ...f.cidrs.map((cidr) => `${out} -d ${cidr} -j RETURN`),
    `${out} -p tcp -j REDIRECT --to-ports ${OUTBOUND_CAPTURE_PORT}`,
    `${pre} -i lo -j RETURN`,
    ...portRules(pre, [OUTBOUND_CAPTURE_PORT, INBOUND_CAPTURE_PORT, HBONE_PORT]),
    ...f.probes.map((cidr) => `${pre} -s ${cidr} -j RETURN`),
    ...portRules(pre, f.inPorts),
    `${pre} -p tcp -j REDIRECT --to-ports ${INBOUND_CAPTURE_PORT}`,
    'COMMIT',
  ];
  return lines.join('\n') + '\n';
}

function portRules(prefix: string, ports: readonly number[]): string[] {
  const rules: string[] = [];
  for (let i = 0; i < ports.length; i += MULTIPORT_MAX) {
    const chunk = ports.slice(i, i + MULTIPORT_MAX);
    rules.push(
      chunk.length === 1
        ? `${prefix} -p tcp -m tcp --dport ${chunk[0]} -j RETURN`
        : `${prefix} -p tcp -m multiport --dports ${chunk.join(',')} -j RETURN`,
    );
  }
  return rules;
}

function portList(ports: readonly number[], what: string): number[] {
  for (const port of ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new MeshError('CAPTURE_BAD_PORT', `${what}: ${port} is not a TCP port (1-65535)`);
    }
  }
  return [...new Set(ports)].sort((a, b) => a - b);
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
