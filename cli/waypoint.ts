/**
 * `waymesh waypoint apply|list|delete`: create a waypoint Gateway (server-side apply) and
 * optionally point its namespace at it, list waypoints with who uses them, and delete one
 * together with the `waymesh.io/use-waypoint` labels that name it.
 */
import { MeshError } from '../common/errors.ts';
import type { KubeRest } from '../controller/kube/rest.ts';
import { NAMES } from '../controller/translate/world.ts';
import { flag, parseArgs, parseDuration } from './args.ts';
import {
  conditionOf,
  kubeContext,
  ResourcePaths,
  serverSideApply,
  waitUntil,
  type Condition,
} from './kube-ops.ts';
import { displayName } from './manifest.ts';
import type { Command, CommandIO } from './main.ts';
import {
  formatConditions,
  renderWaypointList,
  usersOf,
  waypointGateway,
  type GatewayView,
  type LabelledView,
} from './waypoint-view.ts';

const USAGE = `Usage (every verb takes --kubeconfig FILE; -n defaults to the context's namespace):
  waymesh waypoint apply [-n NS] [--name waypoint] [--enroll-namespace] [--wait] [--timeout 60s]
      create or update waypoint Gateway NAME (class waymesh-waypoint, HBONE on 15008);
      --enroll-namespace labels NS waymesh.io/use-waypoint=NAME; --wait waits for Programmed
  waymesh waypoint list [-n NS | -A]
      waypoints with their Programmed status, address and the namespaces/services using them
  waymesh waypoint delete NAME [-n NS]
      delete the Gateway and the waymesh.io/use-waypoint=NAME labels in NS that point at it`;

const ALIASES = { n: 'namespace', A: 'all-namespaces' } as const;
const GATEWAYS = '/apis/gateway.networking.k8s.io/v1';

interface RawLabelled {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
}

function labelled(kind: LabelledView['kind'], items: readonly RawLabelled[] | undefined): LabelledView[] {
  return (items ?? []).map((i) => ({
    kind,
    name: i.metadata?.name ?? '',
    namespace: kind === 'Namespace' ? (i.metadata?.name ?? '') : (i.metadata?.namespace ?? ''),
    labels: i.metadata?.labels ?? {},
  }));
}

/** Namespaces and Services (in `namespace`, or all when undefined) carrying a use-waypoint label. */
async function waypointUsers(rest: KubeRest, namespace: string | undefined): Promise<LabelledView[]> {
  const sel = `?labelSelector=${encodeURIComponent(NAMES.useWaypointLabel)}`;
  const nsList = (await rest.list(`/api/v1/namespaces${sel}`)) as { items?: RawLabelled[] };
  const svcPath = namespace === undefined ? '/api/v1/services' : `/api/v1/namespaces/${namespace}/services`;
  const svcList = (await rest.list(`${svcPath}${sel}`)) as { items?: RawLabelled[] };
  return [...labelled('Namespace', nsList.items), ...labelled('Service', svcList.items)];
}

/** Checks a waypoint name (it becomes a Service name, so a DNS-1035 label). */
function validName(name: string): string {
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name))
    throw new MeshError('CLI_USAGE', `waypoint name ${JSON.stringify(name)} is not a DNS-1035 label`, {
      hint: 'the waypoint Service takes this name: lowercase letters, digits and -, starting with a letter',
    });
  return name;
}

async function apply(argv: readonly string[], io: CommandIO): Promise<number> {
  const spec = {
    kubeconfig: 'string',
    namespace: 'string',
    name: 'string',
    'enroll-namespace': 'boolean',
    wait: 'boolean',
    timeout: 'string',
  } as const;
  const a = parseArgs(argv, spec, ALIASES);
  const name = validName(flag(a, 'name') ?? 'waypoint');
  if (a.positionals.length > 0)
    throw new MeshError('CLI_USAGE', `unexpected argument ${a.positionals[0] ?? ''} (use --name)`);
  const timeoutMs = parseDuration(flag(a, 'timeout') ?? '60s') * 1000;
  const ctx = kubeContext(flag(a, 'kubeconfig'));
  const ns = flag(a, 'namespace') ?? ctx.namespace;
  const gw = waypointGateway(ns, name);
  io.out(`${displayName(gw)} ${await serverSideApply(ctx.rest, new ResourcePaths(ctx.rest), gw)}`);
  if (a.flags.has('enroll-namespace')) {
    await ctx.rest.mergePatch(`/api/v1/namespaces/${ns}`, {
      metadata: { labels: { [NAMES.useWaypointLabel]: name, [NAMES.useWaypointNamespaceLabel]: null } },
    });
    io.out(`namespace/${ns} labeled ${NAMES.useWaypointLabel}=${name}`);
  }
  if (a.flags.has('wait')) {
    const path = `${GATEWAYS}/namespaces/${ns}/gateways/${name}`;
    let last: unknown;
    await waitUntil(
      `waypoint ${ns}/${name} to be Programmed`,
      async () => {
        last = await ctx.rest.find(path);
        return conditionOf(last, 'Programmed')?.status === 'True' ? true : undefined;
      },
      {
        timeoutMs,
        lastState: () =>
          Promise.resolve(
            `conditions of gateway ${ns}/${name}:\n${formatConditions((last as { status?: { conditions?: Condition[] } } | undefined)?.status?.conditions ?? [])}`,
          ),
      },
    );
    io.out(`waypoint ${ns}/${name} is Programmed`);
  }
  return 0;
}

async function list(argv: readonly string[], io: CommandIO): Promise<number> {
  const a = parseArgs(
    argv,
    { kubeconfig: 'string', namespace: 'string', 'all-namespaces': 'boolean' },
    ALIASES,
  );
  if (a.positionals.length > 0)
    throw new MeshError('CLI_USAGE', `unexpected argument ${a.positionals[0] ?? ''}`);
  const all = a.flags.has('all-namespaces');
  if (all && a.flags.has('namespace')) throw new MeshError('CLI_USAGE', '-n and -A are exclusive');
  const ctx = kubeContext(flag(a, 'kubeconfig'));
  const ns = all ? undefined : (flag(a, 'namespace') ?? ctx.namespace);
  const raw = (await ctx.rest.list(
    ns === undefined ? `${GATEWAYS}/gateways` : `${GATEWAYS}/namespaces/${ns}/gateways`,
  )) as {
    items?: {
      metadata?: { name?: string; namespace?: string };
      spec?: { gatewayClassName?: string };
      status?: { conditions?: Condition[]; addresses?: { value?: string }[] };
    }[];
  };
  const gateways: GatewayView[] = (raw.items ?? []).map((g) => ({
    namespace: g.metadata?.namespace ?? '',
    name: g.metadata?.name ?? '',
    className: g.spec?.gatewayClassName ?? '',
    conditions: g.status?.conditions ?? [],
    addresses: (g.status?.addresses ?? []).map((x) => x.value ?? '').filter((v) => v !== ''),
  }));
  // Users in any namespace may point at a waypoint in `ns` (use-waypoint-namespace).
  for (const line of renderWaypointList(gateways, await waypointUsers(ctx.rest, undefined))) io.out(line);
  return 0;
}

async function remove(argv: readonly string[], io: CommandIO): Promise<number> {
  const a = parseArgs(argv, { kubeconfig: 'string', namespace: 'string' }, ALIASES);
  const [first, extra] = a.positionals;
  if (first === undefined) throw new MeshError('CLI_USAGE', 'missing waypoint NAME');
  if (extra !== undefined) throw new MeshError('CLI_USAGE', `unexpected argument ${extra}`);
  const name = validName(first);
  const ctx = kubeContext(flag(a, 'kubeconfig'));
  const ns = flag(a, 'namespace') ?? ctx.namespace;
  const gw = waypointGateway(ns, name);
  if (!(await ctx.rest.delete(`${GATEWAYS}/namespaces/${ns}/gateways/${name}`)))
    throw new MeshError('WAYPOINT_NOT_FOUND', `no Gateway ${ns}/${name}`, {
      hint: 'see `waymesh waypoint list -A`',
    });
  io.out(`${displayName(gw)} deleted`);
  const unlabel = {
    metadata: { labels: { [NAMES.useWaypointLabel]: null, [NAMES.useWaypointNamespaceLabel]: null } },
  };
  for (const u of usersOf(await waypointUsers(ctx.rest, ns), ns, name)) {
    if (u.kind === 'Namespace') {
      if (u.name !== ns) continue; // only labels in NS are ours to change
      await ctx.rest.mergePatch(`/api/v1/namespaces/${u.name}`, unlabel);
      io.out(`namespace/${u.name} unlabeled`);
    } else {
      await ctx.rest.mergePatch(`/api/v1/namespaces/${u.namespace}/services/${u.name}`, unlabel);
      io.out(`service/${u.name} unlabeled`);
    }
  }
  return 0;
}

/** The `waypoint` verb group. */
export const waypointCommand: Command = {
  name: 'waypoint',
  usage: USAGE,
  async run(argv, io) {
    const [verb, ...rest] = argv;
    switch (verb) {
      case 'apply':
        return apply(rest, io);
      case 'list':
        return list(rest, io);
      case 'delete':
        return remove(rest, io);
      default:
        throw new MeshError(
          'CLI_USAGE',
          verb === undefined ? 'missing subcommand (apply, list, delete)' : `unknown subcommand ${verb}`,
        );
    }
  },
};
