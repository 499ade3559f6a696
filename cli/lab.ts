/**
 * `waymesh lab …`: a Kubernetes-compatible cluster on this machine (API server, nodes and pods
 * as network namespaces, DNS). Tests and docs drive the lab only through these verbs.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { KubernetesListObject, V1Pod } from '@kubernetes/client-node';
import { errorMessage, MeshError } from '../common/errors.ts';
import { labApi, labDown, labExec, labKubeconfig, labLogs, labStatus, labUp } from '../lab/index.ts';
// Not the sink's index: that loads its gRPC server, and `lab exec` must start fast.
import type { SinkTrace } from '../lab/otlp/types.ts';
import { renderWaterfall } from '../lab/otlp/waterfall.ts';
import { flag, parseArgs, type ParsedArgs } from './args.ts';
import type { Command, CommandIO } from './main.ts';

const USAGE = `Usage (every verb takes --name NAME, default "lab"):
  waymesh lab up [--nodes N] [--dir DIR]     create the cluster (2 nodes) and print the kubeconfig path
  waymesh lab down                           stop everything and remove every namespace, link and file
  waymesh lab status                         nodes, pods (IP, node, phase), services (cluster IPs)
  waymesh lab kubeconfig                     print the kubeconfig path
  waymesh lab exec NAMESPACE/POD -- CMD ARGS run a host command in the pod's network namespace
  waymesh lab logs NAMESPACE/POD [--container NAME]
                                             print a container's output
  waymesh lab traces [--last N] [--trace ID] [--service S] [--json]
                                             waterfalls of the last N traces (5) held by the lab's
                                             OTLP sink (manifests/lab/addons.yaml)`;

const run$ = promisify(execFile);
/** Where manifests/lab/addons.yaml runs the trace sink, and its query port. */
const SINK_NAMESPACE = 'waymesh-system';
const SINK_SELECTOR = 'app.kubernetes.io/name=otlp-sink';
const SINK_QUERY_PORT = 16686;

/** The netns path of a running trace-sink pod of lab `name`. */
async function sinkNetns(name: string): Promise<string> {
  const api = await labApi(name);
  const pods = await api.request<KubernetesListObject<V1Pod>>(
    'GET',
    `/api/v1/namespaces/${SINK_NAMESPACE}/pods?labelSelector=${encodeURIComponent(SINK_SELECTOR)}`,
  );
  const running = pods.items.find(
    (p) => p.status?.phase === 'Running' && p.metadata?.deletionTimestamp === undefined,
  );
  const netns = running?.metadata?.annotations?.['lab.waymesh.io/netns'];
  if (netns === undefined) {
    throw new MeshError('LAB_NO_TRACE_SINK', `lab "${name}" has no running trace sink`, {
      hint: `deploy it with \`kubectl apply -f manifests/lab/addons.yaml\` (pods ${SINK_SELECTOR} in ${SINK_NAMESPACE})`,
    });
  }
  return netns;
}

/** `lab traces`: asks the sink (from inside its pod's netns) for traces and prints them. */
async function traces(a: ParsedArgs, io: CommandIO): Promise<number> {
  const name = nameOf(flag(a, 'name'));
  const params = new URLSearchParams({ last: flag(a, 'last') ?? '5' });
  const trace = flag(a, 'trace');
  const service = flag(a, 'service');
  if (trace !== undefined) params.set('trace', trace);
  if (service !== undefined) params.set('service', service);
  const url = `http://127.0.0.1:${SINK_QUERY_PORT}/api/traces?${params.toString()}`;
  // The host cannot reach pod addresses, so curl runs in the sink pod's network namespace.
  const argv = [
    '--net=' + (await sinkNetns(name)),
    'curl',
    '-sS',
    '--max-time',
    '10',
    '-w',
    '\n%{http_code}',
    url,
  ];
  let output: string;
  try {
    output = (await run$('nsenter', argv, { maxBuffer: 256 * 1024 * 1024 })).stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? '';
    throw new MeshError(
      'LAB_TRACES_QUERY',
      `cannot query the trace sink of lab "${name}": ${stderr || errorMessage(err)}`,
      {
        hint: `is it ready? \`kubectl -n ${SINK_NAMESPACE} get pods -l ${SINK_SELECTOR}\``,
      },
    );
  }
  const cut = output.lastIndexOf('\n');
  const status = output.slice(cut + 1);
  const body = output.slice(0, Math.max(0, cut)).trim();
  // The sink validates the query; its 400 answer is the operator's usage error, in its words.
  if (status === '400') throw new MeshError('CLI_USAGE', body);
  if (status !== '200')
    throw new MeshError(
      'LAB_TRACES_QUERY',
      `the trace sink of lab "${name}" answered HTTP ${status}: ${body}`,
    );
  const answer = JSON.parse(body) as { traces: SinkTrace[]; spans: number };
  if (answer.traces.length === 0 && trace !== undefined)
    throw new MeshError('TRACE_NOT_FOUND', `the trace sink of lab "${name}" holds no trace ${trace}`, {
      hint: 'it keeps the most recent 20,000 spans in memory; a restart of its pod forgets them',
    });
  if (a.flags.get('json') === true) {
    io.out(
      JSON.stringify(
        answer.traces.flatMap((t) => t.spans),
        null,
        2,
      ),
    );
    return 0;
  }
  if (answer.traces.length === 0) {
    io.err(`no matching traces (the sink holds ${answer.spans} spans)`);
    return 0;
  }
  io.out(answer.traces.map((t) => renderWaterfall(t)).join('\n\n'));
  return 0;
}

function nameOf(argsName: string | undefined): string {
  return argsName ?? 'lab';
}

async function run(verb: string | undefined, argv: readonly string[], io: CommandIO): Promise<number> {
  switch (verb) {
    case 'up': {
      const a = parseArgs(argv, { name: 'string', nodes: 'string', dir: 'string' });
      const nodes = Number(flag(a, 'nodes') ?? '2');
      const res = await labUp({ name: nameOf(flag(a, 'name')), nodes, dir: flag(a, 'dir') });
      io.out(res.kubeconfig);
      return 0;
    }
    case 'down': {
      const a = parseArgs(argv, { name: 'string' });
      const removed = await labDown(nameOf(flag(a, 'name')));
      io.err(removed.length === 0 ? 'nothing to remove' : `removed ${removed.join(', ')}`);
      return 0;
    }
    case 'status': {
      const a = parseArgs(argv, { name: 'string' });
      for (const line of await labStatus(nameOf(flag(a, 'name')))) io.out(line);
      return 0;
    }
    case 'kubeconfig': {
      const a = parseArgs(argv, { name: 'string' });
      io.out(await labKubeconfig(nameOf(flag(a, 'name'))));
      return 0;
    }
    case 'exec': {
      const a = parseArgs(argv, { name: 'string' });
      const target = a.positionals[0];
      if (target === undefined || a.positionals.length > 1)
        throw new MeshError('CLI_USAGE', 'usage: waymesh lab exec NAMESPACE/POD -- CMD ARGS…');
      return labExec(nameOf(flag(a, 'name')), target, a.rest);
    }
    case 'logs': {
      const a = parseArgs(argv, { name: 'string', container: 'string' });
      const target = a.positionals[0];
      if (target === undefined) throw new MeshError('CLI_USAGE', 'usage: waymesh lab logs NAMESPACE/POD');
      process.stdout.write(await labLogs(nameOf(flag(a, 'name')), target, flag(a, 'container')));
      return 0;
    }
    case 'traces':
      return traces(
        parseArgs(argv, {
          name: 'string',
          last: 'string',
          trace: 'string',
          service: 'string',
          json: 'boolean',
        }),
        io,
      );
    default:
      throw new MeshError(
        'CLI_USAGE',
        verb === undefined
          ? 'missing subcommand (up, down, status, kubeconfig, exec, logs, traces)'
          : `unknown subcommand ${verb}`,
      );
  }
}

/** The `lab` verb group. */
export const labCommand: Command = {
  name: 'lab',
  usage: USAGE,
  run: (argv, io) => run(argv[0], argv.slice(1), io),
};
