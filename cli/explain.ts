/**
 * `waymesh x explain --from NS/POD URL`: reads what the controller reads from the API server,
 * runs the controller's translation and the proxies' own decision code over it, and prints which
 * waypoint, route, rule and backends the request would take, and why (issue 7 §3). `x` groups
 * experimental verbs; `explain` is its first.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { MeshError } from '../common/errors.ts';
import { KubeRest } from '../controller/kube/rest.ts';
import { parseArgs, flag, requiredFlag } from './args.ts';
import { renderExplanation } from './explain-render.ts';
import { parseRequest } from './explain-request.ts';
import { explain } from './explain-sim.ts';
import { readWorld } from './explain-world.ts';
import type { Command, CommandIO } from './main.ts';

const EXPLAIN_USAGE = `Usage: waymesh x explain --from NS/POD URL [--method M] [-H name:value]...
                         [--grpc package.Service/Method] [--kubeconfig FILE]
                         [--trust-domain cluster.local] [-o text|json]
  Shows the path a request from pod NS/POD to URL would take through the mesh: capture, the
  waypoint, L7 authorization, rate limits, the matching route rule, every weighted backend with
  its share, the endpoints they resolve to and the L4 verdict of their node agents, and the
  status the client would see when it fails. URL hosts: a Service name (in the pod's
  namespace), svc.ns, an FQDN, a ClusterIP or a pod IP; the port defaults to 80.`;

const X_USAGE = `Usage: waymesh x <verb> ...
Verbs:
  explain    show which waypoint, route, rule and backend a request would take, and why`;

/** Runs `x explain` with the arguments after `explain`. */
async function runExplain(argv: readonly string[], io: CommandIO): Promise<number> {
  // -H may repeat: collect it before the single-valued flags are parsed.
  const headers: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '-H' || a === '--header') {
      const v = argv[++i];
      if (v === undefined) throw new MeshError('CLI_USAGE', `flag ${a} needs a value`);
      headers.push(v);
    } else if (a.startsWith('--header=')) headers.push(a.slice('--header='.length));
    else rest.push(a);
  }
  const args = parseArgs(
    rest,
    {
      from: 'string',
      method: 'string',
      grpc: 'string',
      kubeconfig: 'string',
      'trust-domain': 'string',
      output: 'string',
    },
    { o: 'output', X: 'method' },
  );
  const [url, extra] = args.positionals;
  if (url === undefined) throw new MeshError('CLI_USAGE', 'missing URL (e.g. http://echo/v1)');
  if (extra !== undefined) throw new MeshError('CLI_USAGE', `unexpected argument ${JSON.stringify(extra)}`);
  const output = flag(args, 'output') ?? 'text';
  if (output !== 'text' && output !== 'json')
    throw new MeshError('CLI_USAGE', `--output ${JSON.stringify(output)}: use text or json`);
  const method = flag(args, 'method');
  const grpc = flag(args, 'grpc');
  const req = parseRequest({
    from: requiredFlag(args, 'from'),
    url,
    headers,
    ...(method === undefined ? {} : { method }),
    ...(grpc === undefined ? {} : { grpc }),
  });
  const kc = new KubeConfig();
  const file = flag(args, 'kubeconfig');
  if (file === undefined) kc.loadFromDefault();
  else kc.loadFromFile(file);
  const { world, missing } = await readWorld(new KubeRest(kc), flag(args, 'trust-domain') ?? 'cluster.local');
  const x = explain(world, req);
  if (output === 'json') io.out(JSON.stringify({ ...x, missingResources: missing }, null, 2));
  else {
    for (const line of renderExplanation(x)) io.out(line);
    if (missing.length > 0)
      io.out(`note: not served by the API server (CRD not installed): ${missing.join(', ')}`);
  }
  return 0;
}

/** The `x` verb group: `waymesh x explain …`. */
export const xCommand: Command = {
  name: 'x',
  usage: `${X_USAGE}\n\n${EXPLAIN_USAGE}`,
  async run(argv: readonly string[], io: CommandIO): Promise<number> {
    const [verb, ...rest] = argv;
    if (verb === 'explain') return runExplain(rest, io);
    if (verb === undefined) {
      io.out(X_USAGE);
      return 2;
    }
    throw new MeshError('CLI_USAGE', `unknown verb ${JSON.stringify(verb)}; run \`waymesh x --help\``);
  },
};
