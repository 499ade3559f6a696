/**
 * The lab's node network (DESIGN.md §8): a core namespace with bridge `br0` (10.100.0.1/24) and
 * one namespace per node joined to it by a veth pair (10.100.0.(10+i)/24), pod CIDR routes
 * 10.244.i.0/24 via each node in the core and in every other node, and IP forwarding on.
 *
 * Safety: every link is created inside lab namespaces (`ip -n <core> link add … peer … netns
 * <node>`); nothing is ever added to the caller's own namespace.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { MeshError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { silentLogger } from '../../common/log.ts';
import { NODE_DNS, renderResolvConf } from './etc-files.ts';
import { ip, sysctl } from './exec.ts';
import { NETNS_ETC_DIR, deleteNetns, ensureNetns, listLinks, listNetns, vethPairIntact } from './netns.ts';
import {
  CORE_BRIDGE,
  CORE_IP,
  INNER_IFNAME,
  MAX_NODES,
  NODE_NET_PREFIX,
  coreNetns,
  nodePlan,
  parseLabNetns,
  validateLabName,
  type LabNetnsKind,
  type NodePlan,
} from './plan.ts';

/** How long processes left in a namespace get between SIGTERM and SIGKILL on teardown. */
const TEARDOWN_GRACE_MS = 2_000;

/** What {@link LabNetwork.up} built. */
export interface LabTopology {
  readonly lab: string;
  readonly core: { readonly netns: string; readonly bridge: string; readonly ip: string };
  readonly nodes: readonly NodePlan[];
}

/** A namespace of a lab with its parsed kind. */
export interface LabNamespace {
  readonly name: string;
  readonly id: LabNetnsKind;
}

/** The namespaces that belong to lab `lab` (core, nodes, pods), sorted by name. */
export async function listLabNamespaces(lab: string): Promise<LabNamespace[]> {
  validateLabName(lab);
  const out: LabNamespace[] = [];
  for (const name of await listNetns()) {
    const id = parseLabNetns(lab, name);
    if (id !== undefined) out.push({ name, id });
  }
  return out;
}

/** Options for {@link LabNetwork}. */
export interface LabNetworkOptions {
  readonly lab: string;
  readonly nodes: number;
  readonly logger?: Logger;
}

/** Builds and tears down the node network of one lab. */
export class LabNetwork {
  readonly #lab: string;
  readonly #nodes: readonly NodePlan[];
  readonly #log: Logger;

  /** Validates the lab name and node count; touches nothing. */
  constructor(opts: LabNetworkOptions) {
    validateLabName(opts.lab);
    if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODES) {
      throw new MeshError('LAB_NODE_INVALID', `a lab has 1..${MAX_NODES} nodes, not ${opts.nodes}`);
    }
    this.#lab = opts.lab;
    this.#nodes = Array.from({ length: opts.nodes }, (_, i) => nodePlan(opts.lab, i + 1));
    this.#log = (opts.logger ?? silentLogger).child({ component: 'lab-net', lab: opts.lab });
  }

  /**
   * Builds the network, keeping pieces that are already right (idempotent). Leftovers of a crashed
   * run that do not fit are removed first: nodes beyond the node count and pod namespaces whose
   * veth is gone.
   */
  async up(): Promise<LabTopology> {
    await this.#removeMisfits();
    const core = coreNetns(this.#lab);
    await ensureNetns(core);
    if (!(await listLinks(core)).includes(CORE_BRIDGE)) {
      await ip('-n', core, 'link', 'add', CORE_BRIDGE, 'type', 'bridge');
    }
    await ip('-n', core, 'addr', 'replace', `${CORE_IP}/${NODE_NET_PREFIX}`, 'dev', CORE_BRIDGE);
    await ip('-n', core, 'link', 'set', CORE_BRIDGE, 'up');
    await sysctl(core, 'net.ipv4.ip_forward', '1');
    for (const node of this.#nodes) await this.#nodeUp(core, node);
    for (const node of this.#nodes) await this.#syncPodRoutes(node.netns, node.index);
    await this.#syncPodRoutes(core, 0);
    this.#log.info('lab network up', { nodes: this.#nodes.length });
    return { lab: this.#lab, core: { netns: core, bridge: CORE_BRIDGE, ip: CORE_IP }, nodes: this.#nodes };
  }

  /**
   * Removes every namespace of the lab (pods, nodes, core) with the processes still inside them,
   * and their `/etc/netns` directories. Idempotent.
   */
  async down(): Promise<void> {
    const all = await listLabNamespaces(this.#lab);
    const order = (ns: LabNamespace): number => (ns.id.kind === 'pod' ? 0 : ns.id.kind === 'node' ? 1 : 2);
    for (const stage of [0, 1, 2]) {
      await Promise.all(
        all
          .filter((ns) => order(ns) === stage)
          .map((ns) => deleteNetns(ns.name, TEARDOWN_GRACE_MS, this.#log)),
      );
    }
    await this.#removeOrphanEtcDirs(new Set());
    this.#log.info('lab network down', { namespaces: all.length });
  }

  async #removeMisfits(): Promise<void> {
    const existing = await listLabNamespaces(this.#lab);
    for (const ns of existing) {
      let reason: string | undefined;
      if (ns.id.kind === 'node' && ns.id.index > this.#nodes.length) reason = 'node beyond the node count';
      if (ns.id.kind === 'pod' && !(await listLinks(ns.name)).includes(INNER_IFNAME)) {
        reason = 'pod whose veth is gone';
      }
      if (reason === undefined) continue;
      this.#log.warn('removing leftover namespace', { netns: ns.name, reason });
      await deleteNetns(ns.name, TEARDOWN_GRACE_MS, this.#log);
    }
    const alive = new Set((await listLabNamespaces(this.#lab)).map((ns) => ns.name));
    await this.#removeOrphanEtcDirs(alive);
  }

  /** Removes `/etc/netns/<name>` of this lab's namespaces that are not in `keep`. */
  async #removeOrphanEtcDirs(keep: ReadonlySet<string>): Promise<void> {
    const entries = await readdir(NETNS_ETC_DIR).catch(() => [] as string[]);
    for (const name of entries) {
      if (parseLabNetns(this.#lab, name) !== undefined && !keep.has(name)) {
        await rm(`${NETNS_ETC_DIR}/${name}`, { recursive: true, force: true });
      }
    }
  }

  async #nodeUp(core: string, node: NodePlan): Promise<void> {
    await ensureNetns(node.netns);
    if (!(await vethPairIntact(core, node.coreVeth, node.netns, INNER_IFNAME))) {
      await ip('-n', core, 'link', 'del', node.coreVeth).catch(() => undefined);
      await ip('-n', node.netns, 'link', 'del', INNER_IFNAME).catch(() => undefined);
      // Both ends are born inside lab namespaces: the caller's namespace never holds either.
      await ip(
        '-n',
        core,
        'link',
        'add',
        node.coreVeth,
        'type',
        'veth',
        'peer',
        'name',
        INNER_IFNAME,
        'netns',
        node.netns,
      );
    }
    await ip('-n', core, 'link', 'set', node.coreVeth, 'master', CORE_BRIDGE, 'up');
    await ip('-n', node.netns, 'addr', 'replace', `${node.ip}/${NODE_NET_PREFIX}`, 'dev', INNER_IFNAME);
    await ip('-n', node.netns, 'link', 'set', INNER_IFNAME, 'up');
    await ip('-n', node.netns, 'route', 'replace', 'default', 'via', CORE_IP, 'dev', INNER_IFNAME);
    await sysctl(node.netns, 'net.ipv4.ip_forward', '1');
    await mkdir(`${NETNS_ETC_DIR}/${node.netns}`, { recursive: true });
    await writeFile(`${NETNS_ETC_DIR}/${node.netns}/resolv.conf`, renderResolvConf(NODE_DNS));
  }

  /**
   * Makes the 10.244.j.0/24 routes of `netns` exactly those of the other nodes (`self` is the
   * node's own index, 0 for the core); pod /32 routes and other routes are left alone.
   */
  async #syncPodRoutes(netns: string, self: number): Promise<void> {
    const want = new Map(this.#nodes.filter((n) => n.index !== self).map((n) => [n.podCidr, n.ip]));
    const { stdout } = await ip('-n', netns, '-o', 'route', 'show');
    for (const line of stdout.split('\n')) {
      const dest = line.trim().split(/\s+/)[0] ?? '';
      if (/^10\.244\.\d+\.0\/24$/.test(dest) && !want.has(dest)) {
        await ip('-n', netns, 'route', 'del', dest);
      }
    }
    for (const [cidr, via] of want) await ip('-n', netns, 'route', 'replace', cidr, 'via', via);
  }
}
