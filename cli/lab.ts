/**
 * `waymesh lab …`: a Kubernetes-compatible cluster on this machine (API server, nodes and pods
 * as network namespaces, DNS). Tests and docs drive the lab only through these verbs.
 */
import { MeshError } from '../common/errors.ts';
import { labDown, labExec, labKubeconfig, labLogs, labStatus, labUp } from '../lab/index.ts';
import { flag, parseArgs } from './args.ts';
import type { Command, CommandIO } from './main.ts';

const USAGE = `Usage (every verb takes --name NAME, default "lab"):
  waymesh lab up [--nodes N] [--dir DIR]     create the cluster (2 nodes) and print the kubeconfig path
  waymesh lab down                           stop everything and remove every namespace, link and file
  waymesh lab status                         nodes, pods (IP, node, phase), services (cluster IPs)
  waymesh lab kubeconfig                     print the kubeconfig path
  waymesh lab exec NAMESPACE/POD -- CMD ARGS run a host command in the pod's network namespace
  waymesh lab logs NAMESPACE/POD [--container NAME]
                                             print a container's output`;

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
    default:
      throw new MeshError(
        'CLI_USAGE',
        verb === undefined
          ? 'missing subcommand (up, down, status, kubeconfig, exec, logs)'
          : `unknown subcommand ${verb}`,
      );
  }
}

/** The `lab` verb group. */
export const labCommand: Command = {
  name: 'lab',
  summary: 'run a Kubernetes-compatible cluster on this machine',
  usage: USAGE,
  run: (argv, io) => run(argv[0], argv.slice(1), io),
};
