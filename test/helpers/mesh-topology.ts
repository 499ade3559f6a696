/**
 * A reusable netns topology for node-agent and waypoint tests: one "router" namespace with IP
 * forwarding, and every pod (or external host) a namespace of its own linked to the router by a
 * veth pair, with a default route through it. Any pod reaches any other by IP, across "nodes"
 * (a node is only a label here: which agent serves the pod). Addresses come from
 * 10.250.<subnet>.0/24 (pod = .2, router = .1) via {@link NetnsLab}, so nothing leaves the
 * namespaces the lab created; `lab.cleanup()` removes everything.
 *
 * Addresses in 10.250.200.0/24 and above are never given to links: use them for Service VIPs
 * (see {@link vipAddress}); pods reach them through their default route.
 */
import net from 'node:net';
import { listenServerInNetns } from '../../node-agent/native/index.ts';
import type { NetnsLab, TestNetns } from './netns.ts';

/** One pod (or host outside the mesh) of the topology. */
export interface TopologyHost {
  readonly name: string;
  /** The node label (which agent serves it); `''` for hosts outside the mesh. */
  readonly node: string;
  readonly ns: TestNetns;
  /** Its IPv4 address on the link to the router. */
  readonly ip: string;
}

/** What to create. */
export interface HostSpec {
  readonly name: string;
  readonly node?: string;
}

/** A Service VIP from the range never used by links: `10.250.200.<n>` (n in 1..254). */
export function vipAddress(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 254) throw new Error(`VIP index ${n} must be in 1..254`);
  return `10.250.200.${n}`;
}

/** A router and hosts; see the file comment. */
export class MeshTopology {
  readonly #hosts = new Map<string, TopologyHost>();

  private constructor(readonly router: TestNetns) {}

  /** Creates the router and one namespace per host in `specs` (at most 199). */
  static async create(lab: NetnsLab, specs: readonly HostSpec[]): Promise<MeshTopology> {
    if (specs.length > 199) throw new Error('a mesh topology holds at most 199 hosts');
    const router = await lab.createNetns();
    await lab.exec(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    const topo = new MeshTopology(router);
    for (const spec of specs) await topo.add(lab, spec);
    return topo;
  }

  /** Adds one host linked to the router, with its default route through it. */
  async add(lab: NetnsLab, spec: HostSpec): Promise<TopologyHost> {
    if (this.#hosts.has(spec.name)) throw new Error(`host ${spec.name} already exists`);
    const ns = await lab.createNetns();
    const link = await lab.link(this.router, ns);
    if (link.subnet >= 200) throw new Error('subnets from 200 on are reserved for VIPs');
    await lab.exec(ns, 'ip', ['route', 'add', 'default', 'via', link.a.ipv4]);
    const host: TopologyHost = { name: spec.name, node: spec.node ?? '', ns, ip: link.b.ipv4 };
    this.#hosts.set(spec.name, host);
    return host;
  }

  /** The host called `name`; throws when there is none. */
  host(name: string): TopologyHost {
    const found = this.#hosts.get(name);
    if (found === undefined) throw new Error(`no host ${name} in the topology`);
    return found;
  }

  /** Every host, in creation order. */
  hosts(): TopologyHost[] {
    return [...this.#hosts.values()];
  }
}

/** A running echo server. */
export interface EchoServer {
  /** Stops listening and destroys open connections. */
  close(): Promise<void>;
}

/**
 * A TCP echo server listening on `host.ip:port` inside the host's namespace: everything read is
 * written back, and the peer's end is answered with an end once the echo is flushed (half-close).
 * With `greet`, the server first writes `peer <ip>:<port>\n` (the address it sees).
 */
export async function startEcho(
  host: TopologyHost,
  port: number,
  opts: { readonly greet?: boolean } = {},
): Promise<EchoServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (opts.greet === true) socket.write(`peer ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}\n`);
    socket.pipe(socket);
  });
  await listenServerInNetns(server, host.ns.path, { host: host.ip, port });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
