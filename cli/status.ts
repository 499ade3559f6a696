/**
 * `waymesh status`: the mesh's components and every proxy's config sync state, from the API
 * server alone (current kubeconfig). Controller replicas publish their proxies' ACK/NACK
 * state on their own Pods (annotation `waymesh.io/proxy-status`); this verb merges them.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { KubeRest } from '../controller/kube/rest.ts';
import { PROXY_STATUS_ANNOTATION, type ProxyStatusReport } from '../controller/xds/report.ts';
import type { ProxyStatus } from '../controller/xds/state.ts';
import { flag, parseArgs } from './args.ts';
import type { Command, CommandIO } from './main.ts';

const USAGE = `Usage: waymesh status [--kubeconfig FILE] [--namespace waymesh-system]
  Shows the controller replicas (and which one leads), node agents, waypoints, and for every
  proxy the snapshot version it was sent, the one it ACKed, and its last NACK.`;

/** A pod as this verb needs it. */
export interface PodView {
  readonly name: string;
  readonly node: string;
  readonly ready: boolean;
  readonly phase: string;
  readonly image: string;
  readonly annotations: Readonly<Record<string, string>>;
}

/** A waypoint Gateway as this verb needs it. */
export interface WaypointView {
  readonly namespace: string;
  readonly name: string;
  readonly programmed: string;
  readonly reason: string;
  readonly address: string;
}

/** Everything `waymesh status` prints. */
export interface StatusInput {
  readonly controllers: readonly PodView[];
  readonly leader: string;
  readonly agents: readonly PodView[];
  readonly waypoints: readonly WaypointView[];
}

const short = (v: string | undefined): string => (v === undefined || v === '' ? '-' : v.slice(0, 12));

function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '));
}

/** Merges the replicas' reports: a proxy connected to a replica (streams > 0) wins. */
export function mergeReports(pods: readonly PodView[]): {
  proxies: (ProxyStatus & { replica: string })[];
  cut: boolean;
} {
  const byKey = new Map<string, ProxyStatus & { replica: string }>();
  let cut = false;
  for (const pod of pods) {
    const text = pod.annotations[PROXY_STATUS_ANNOTATION];
    if (text === undefined) continue;
    let report: ProxyStatusReport;
    try {
      report = JSON.parse(text) as ProxyStatusReport;
    } catch {
      continue;
    }
    if (report.total > report.proxies.length) cut = true;
    for (const p of report.proxies) {
      const key = `${p.kind}/${p.name}`;
      const old = byKey.get(key);
      if (old === undefined || (old.streams === 0 && p.streams > 0))
        byKey.set(key, { ...p, replica: pod.name });
    }
  }
  return {
    proxies: [...byKey.values()].sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`)),
    cut,
  };
}

/** The text `waymesh status` prints (pure). */
export function renderStatus(input: StatusInput): string[] {
  const out: string[] = [];
  const ready = (pods: readonly PodView[]): string => `${pods.filter((p) => p.ready).length}/${pods.length}`;
  out.push(
    ...table([
      ['COMPONENT', 'READY', 'PODS'],
      [
        'controller',
        ready(input.controllers),
        input.controllers.map((p) => `${p.name}${p.name === input.leader ? ' (leader)' : ''}`).join(', ') ||
          'not installed',
      ],
      [
        'node-agent',
        ready(input.agents),
        input.agents.map((p) => `${p.name}@${p.node}`).join(', ') || 'not installed',
      ],
    ]),
  );
  const images = [...new Set([...input.controllers, ...input.agents].map((p) => p.image))].sort();
  if (images.length > 0) out.push(`images: ${images.join(', ')}`);
  out.push('');
  if (input.waypoints.length === 0) out.push('waypoints: none');
  else
    out.push(
      ...table([
        ['WAYPOINT', 'PROGRAMMED', 'ADDRESS', 'REASON'],
        ...input.waypoints.map((w) => [`${w.namespace}/${w.name}`, w.programmed, w.address || '-', w.reason]),
      ]),
    );
  out.push('');
  const { proxies, cut } = mergeReports(input.controllers);
  if (proxies.length === 0) out.push('proxies: none connected');
  else {
    out.push(
      ...table([
        ['PROXY', 'STREAMS', 'CURRENT', 'SENT', 'ACKED', 'SYNC', 'REPLICA'],
        ...proxies.map((p) => {
          const nacked = p.lastNack !== undefined && p.lastNack.version === p.lastSent;
          const sync = nacked
            ? 'NACK'
            : p.streams === 0
              ? 'DISCONNECTED'
              : p.lastAcked === p.current
                ? 'SYNCED'
                : 'STALE';
          return [
            `${p.kind}/${p.name}`,
            String(p.streams),
            short(p.current),
            short(p.lastSent),
            short(p.lastAcked),
            sync,
            p.replica,
          ];
        }),
      ]),
    );
    for (const p of proxies)
      if (p.lastNack !== undefined)
        out.push(`  ${p.kind}/${p.name} rejected ${short(p.lastNack.version)}: ${p.lastNack.error}`);
    if (cut)
      out.push('(some replicas list only their first proxies; NACKing and stale ones are always shown)');
  }
  return out;
}

interface RawPod {
  metadata?: { name?: string; annotations?: Record<string, string> };
  spec?: { nodeName?: string; containers?: { image?: string }[] };
  status?: { phase?: string; conditions?: { type?: string; status?: string }[] };
}

function podView(p: RawPod): PodView {
  return {
    name: p.metadata?.name ?? '',
    node: p.spec?.nodeName ?? '',
    phase: p.status?.phase ?? '',
    ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    image: p.spec?.containers?.[0]?.image ?? '',
    annotations: p.metadata?.annotations ?? {},
  };
}

async function gather(rest: KubeRest, ns: string): Promise<StatusInput> {
  const pods = async (selector: string): Promise<PodView[]> => {
    const list = (await rest.list(
      `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`,
    )) as { items?: RawPod[] };
    return (list.items ?? []).map(podView).sort((a, b) => a.name.localeCompare(b.name));
  };
  const lease = (await rest.find(
    `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/waymesh-controller`,
  )) as { spec?: { holderIdentity?: string } } | undefined;
  const gws = (await rest.find('/apis/gateway.networking.k8s.io/v1/gateways')) as
    | {
        items?: {
          metadata?: { namespace?: string; name?: string };
          spec?: { gatewayClassName?: string };
          status?: {
            addresses?: { value?: string }[];
            conditions?: { type?: string; status?: string; reason?: string }[];
          };
        }[];
      }
    | undefined;
  return {
    controllers: await pods('app.kubernetes.io/name=waymesh-controller'),
    leader: lease?.spec?.holderIdentity ?? '',
    agents: await pods('app.kubernetes.io/name=waymesh-node-agent'),
    waypoints: (gws?.items ?? [])
      .filter((g) => g.spec?.gatewayClassName === 'waymesh-waypoint')
      .map((g) => {
        const c = g.status?.conditions?.find((x) => x.type === 'Programmed');
        return {
          namespace: g.metadata?.namespace ?? '',
          name: g.metadata?.name ?? '',
          programmed: c?.status ?? 'Unknown',
          reason: c?.reason ?? '',
          address: g.status?.addresses?.[0]?.value ?? '',
        };
      })
      .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`)),
  };
}

/** The `status` verb. */
export const statusCommand: Command = {
  name: 'status',
  usage: USAGE,
  async run(argv: readonly string[], io: CommandIO): Promise<number> {
    const a = parseArgs(argv, { kubeconfig: 'string', namespace: 'string', help: 'boolean' });
    if (a.flags.has('help')) {
      io.out(USAGE);
      return 0;
    }
    const kc = new KubeConfig();
    const file = flag(a, 'kubeconfig');
    if (file === undefined) kc.loadFromDefault();
    else kc.loadFromFile(file);
    const input = await gather(new KubeRest(kc), flag(a, 'namespace') ?? 'waymesh-system');
    for (const line of renderStatus(input)) io.out(line);
    return 0;
  },
};
