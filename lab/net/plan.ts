/**
 * The lab's fixed address plan (DESIGN.md §8), as pure functions: namespace and interface names
 * and the addresses of the core bridge, the nodes and the pods, from a lab name, a node index and
 * a pod uid. Every lab has its own namespaces, so two labs reuse the same ranges safely.
 */
import { createHash } from 'node:crypto';
import { MeshError } from '../../common/errors.ts';

/** Lab names: short DNS-label-like strings, so every derived name stays short and unambiguous. */
export const LAB_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,14})$/;

/** Highest node index: node i owns 10.100.0.(10+i) and 10.244.i.0/24. */
export const MAX_NODES = 200;

/** The bridge in the core namespace, the lab's gateway and the API server's address. */
export const CORE_BRIDGE = 'br0';
/** Address of the core bridge (no prefix length). */
export const CORE_IP = '10.100.0.1';
/** Prefix length of the node network 10.100.0.0/24. */
export const NODE_NET_PREFIX = 24;
/** The pod network (every node's pod CIDR lies inside). */
export const CLUSTER_CIDR = '10.244.0.0/16';
/** The service network (kube-proxy rules DNAT these addresses). */
export const SERVICE_CIDR = '10.96.0.0/16';
/** ClusterIP of the cluster DNS service. */
export const CLUSTER_DNS_IP = '10.96.0.10';
/** The API server as seen from inside the lab. */
export const API_SERVER_ENDPOINT = { host: CORE_IP, port: 6443 } as const;
/** The link-local gateway every pod routes through (Calico-style point-to-point). */
export const POD_GATEWAY = '169.254.1.1';
/** A pod's interface, and a node's interface towards the core bridge. */
export const INNER_IFNAME = 'eth0';

/** Throws LAB_NAME_INVALID unless `lab` may name a lab. */
export function validateLabName(lab: string): void {
  if (!LAB_NAME_PATTERN.test(lab)) {
    throw new MeshError('LAB_NAME_INVALID', `lab name ${JSON.stringify(lab)} is invalid`, {
      hint: 'use 1–15 lowercase letters, digits or dashes, starting with a letter or digit',
    });
  }
}

/** Throws LAB_NODE_INVALID unless `index` is a node index (1..MAX_NODES). */
export function validateNodeIndex(index: number): void {
  if (!Number.isInteger(index) || index < 1 || index > MAX_NODES) {
    throw new MeshError('LAB_NODE_INVALID', `node index ${index} is outside 1..${MAX_NODES}`);
  }
}

/** The core namespace of lab `lab` (bridge, gateway, API server address). */
export function coreNetns(lab: string): string {
  validateLabName(lab);
  return `wml-${lab}-core`;
}

/** The namespace of node `index` of lab `lab`. */
export function nodeNetns(lab: string, index: number): string {
  validateLabName(lab);
  validateNodeIndex(index);
  return `wml-${lab}-node${index}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Eight hex digits naming a pod's namespace and host veth: the first eight of the uid when it is a
 * UUID (as the lab API server makes them, so `ip netns` output maps to `kubectl` at a glance),
 * else the first eight of its SHA-256.
 */
export function podTag(podUid: string): string {
  if (podUid === '') throw new MeshError('LAB_POD_UID_INVALID', 'pod uid is empty');
  if (UUID.test(podUid)) return podUid.slice(0, 8).toLowerCase();
  return createHash('sha256').update(podUid).digest('hex').slice(0, 8);
}

/** The namespace of the pod with uid `podUid`. */
export function podNetns(lab: string, podUid: string): string {
  validateLabName(lab);
  return `wml-${lab}-p${podTag(podUid)}`;
}

/** The node-side veth of a pod (≤ 15 characters). */
export function podHostVeth(podUid: string): string {
  return `v${podTag(podUid)}`;
}

/** The core-side veth of node `index` (on the bridge). */
export function nodeCoreVeth(index: number): string {
  validateNodeIndex(index);
  return `n${index}`;
}

/** Address of node `index` on the core bridge (no prefix length). */
export function nodeIp(index: number): string {
  validateNodeIndex(index);
  return `10.100.0.${10 + index}`;
}

/** Pod CIDR of node `index`. */
export function nodePodCidr(index: number): string {
  validateNodeIndex(index);
  return `10.244.${index}.0/24`;
}

/** The kind of a lab namespace, parsed from its name. */
export type LabNetnsKind = { kind: 'core' } | { kind: 'node'; index: number } | { kind: 'pod'; tag: string };

/**
 * Parses `name` as a namespace of lab `lab`; undefined when it belongs to nothing of that lab.
 * The suffixes have no dash, so lab `a` never claims the namespaces of lab `a-b`.
 */
export function parseLabNetns(lab: string, name: string): LabNetnsKind | undefined {
  const prefix = `wml-${lab}-`;
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  if (rest === 'core') return { kind: 'core' };
  const node = /^node([1-9][0-9]{0,2})$/.exec(rest);
  if (node?.[1] !== undefined) {
    const index = Number(node[1]);
    return index <= MAX_NODES ? { kind: 'node', index } : undefined;
  }
  const pod = /^p([0-9a-f]{8})$/.exec(rest);
  if (pod?.[1] !== undefined) return { kind: 'pod', tag: pod[1] };
  return undefined;
}

/** Node index whose pod CIDR holds `ip`, or undefined when `ip` is no pod address. */
export function nodeIndexOfPodIp(ip: string): number | undefined {
  const m = /^10\.244\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  const index = Number(m[1]);
  const host = Number(m[2]);
  if (index < 1 || index > MAX_NODES || host > 255) return undefined;
  return index;
}

/** Everything {@link coreNetns} … {@link nodePodCidr} say about one node. */
export interface NodePlan {
  readonly index: number;
  readonly netns: string;
  readonly ip: string;
  readonly coreVeth: string;
  readonly podCidr: string;
}

/** The plan of node `index` of lab `lab`. */
export function nodePlan(lab: string, index: number): NodePlan {
  return {
    index,
    netns: nodeNetns(lab, index),
    ip: nodeIp(index),
    coreVeth: nodeCoreVeth(index),
    podCidr: nodePodCidr(index),
  };
}
