/**
 * A pod's network, Calico-style: the pod namespace holds `eth0` with its /32 address and a
 * default route via the link-local gateway 169.254.1.1, which the node side of the veth answers by
 * proxy ARP. Every packet of a pod, even to a pod on the same node, is routed by the node (its L3
 * and conntrack), which is what kube-proxy rules and the node agent's capture rely on.
 *
 * The pod's `/etc/resolv.conf` and `/etc/hosts` live in `/etc/netns/<podns>/`, which
 * `ip netns exec` mounts over the host's files for every process started in the pod.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { MeshError } from '../../common/errors.ts';
import { renderHosts, renderResolvConf, type PodDnsConfig } from './etc-files.ts';
import { ip, sysctl } from './exec.ts';
import { NETNS_ETC_DIR, deleteNetns, ensureNetns, netnsExists, vethPairIntact } from './netns.ts';
import { INNER_IFNAME, POD_GATEWAY, nodeIndexOfPodIp, nodeNetns, podHostVeth, podNetns } from './plan.ts';

export { NodeIpam } from './ipam.ts';

/** How long processes still inside a deleted pod namespace get between SIGTERM and SIGKILL. */
const POD_TEARDOWN_GRACE_MS = 1_000;

/** Options for {@link createPodNetwork}. */
export interface PodNetworkOptions {
  readonly lab: string;
  readonly nodeIndex: number;
  readonly podUid: string;
  /** The pod's address, from the node's {@link NodeIpam}; must lie in the node's pod CIDR. */
  readonly ip: string;
  readonly hostname: string;
  readonly podName: string;
  readonly dns: PodDnsConfig;
}

/** A pod's network as created. */
export interface PodNetwork {
  readonly podUid: string;
  /** The pod's namespace (`wml-<lab>-p<tag>`). */
  readonly netns: string;
  /** The node's namespace, which routes the pod's traffic. */
  readonly nodeNetns: string;
  /** The node-side veth (`v<tag>`). */
  readonly hostVeth: string;
  readonly ip: string;
}

/**
 * Creates (or completes) the network of a pod: namespace, veth, address, routes, proxy ARP and the
 * resolv.conf/hosts files. Idempotent: pieces that are already right are kept, so running
 * containers keep their connections when a restarted kubelet calls it again.
 */
export async function createPodNetwork(opts: PodNetworkOptions): Promise<PodNetwork> {
  const node = nodeNetns(opts.lab, opts.nodeIndex);
  if (nodeIndexOfPodIp(opts.ip) !== opts.nodeIndex) {
    throw new MeshError(
      'LAB_POD_IP_INVALID',
      `pod address ${opts.ip} is outside node ${opts.nodeIndex}'s pod CIDR`,
      {
        hint: 'allocate pod addresses with the NodeIpam of the pod’s node',
      },
    );
  }
  if (!(await netnsExists(node))) {
    throw new MeshError('LAB_NODE_MISSING', `node namespace ${node} does not exist`, {
      hint: 'bring the lab network up (LabNetwork.up) before creating pods',
    });
  }
  // Render first: invalid DNS settings must fail before anything is created.
  const resolv = renderResolvConf(opts.dns);
  const hosts = renderHosts(opts.ip, opts.hostname);
  const pod = podNetns(opts.lab, opts.podUid);
  const veth = podHostVeth(opts.podUid);
  await ensureNetns(pod);
  if (!(await vethPairIntact(node, veth, pod, INNER_IFNAME))) {
    await ip('-n', node, 'link', 'del', veth).catch(() => undefined);
    await ip('-n', pod, 'link', 'del', INNER_IFNAME).catch(() => undefined);
    await ip('-n', node, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', INNER_IFNAME, 'netns', pod);
  }
  await ip('-n', node, 'link', 'set', veth, 'up');
  await ip('-n', pod, 'link', 'set', INNER_IFNAME, 'up');
  const addrs = await ipv4Addresses(pod, INNER_IFNAME);
  if (addrs.length !== 1 || addrs[0] !== `${opts.ip}/32`) {
    await ip('-n', pod, 'addr', 'flush', 'dev', INNER_IFNAME);
    await ip('-n', pod, 'addr', 'add', `${opts.ip}/32`, 'dev', INNER_IFNAME);
  }
  await ip('-n', pod, 'route', 'replace', POD_GATEWAY, 'dev', INNER_IFNAME, 'scope', 'link');
  await ip('-n', pod, 'route', 'replace', 'default', 'via', POD_GATEWAY, 'dev', INNER_IFNAME);
  await sysctl(node, `net.ipv4.conf.${veth}.proxy_arp`, '1');
  // The kernel delays proxy ARP answers by up to 0.8 s by default; Calico sets 0 for the same reason.
  await sysctl(node, `net.ipv4.neigh.${veth}.proxy_delay`, '0');
  await ip('-n', node, 'route', 'replace', `${opts.ip}/32`, 'dev', veth, 'scope', 'link');
  await mkdir(`${NETNS_ETC_DIR}/${pod}`, { recursive: true });
  await writeFile(`${NETNS_ETC_DIR}/${pod}/resolv.conf`, resolv);
  await writeFile(`${NETNS_ETC_DIR}/${pod}/hosts`, hosts);
  return { podUid: opts.podUid, netns: pod, nodeNetns: node, hostVeth: veth, ip: opts.ip };
}

/**
 * Removes a pod's namespace (which takes its veth pair and the node's route with it), any process
 * still inside, and its `/etc/netns` files. Idempotent.
 */
export async function deletePodNetwork(lab: string, podUid: string): Promise<void> {
  await deleteNetns(podNetns(lab, podUid), POD_TEARDOWN_GRACE_MS);
}

async function ipv4Addresses(netns: string, dev: string): Promise<string[]> {
  const { stdout } = await ip('-n', netns, '-o', '-4', 'addr', 'show', 'dev', dev);
  return [...stdout.matchAll(/\sinet\s+(\S+)/g)].map((m) => m[1] ?? '');
}
