/**
 * The `waymesh` command. Each verb group lives in its own module and registers here; `main()`
 * returns the exit code so tests can drive it in-process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { errorMessage, isMeshError } from '../common/errors.ts';

/** A verb group: `run` gets the arguments after the group name and returns an exit code. */
export interface Command {
  readonly name: string;
  readonly usage: string;
  run(argv: readonly string[], io: CommandIO): Promise<number>;
}

/** Where a command writes; tests capture it. */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
}

/**
 * The verbs, each loaded only when it runs: some load client-node or gRPC, a second of start-up
 * that `waymesh lab exec` (run many times by tests and scripts) should not pay.
 */
const COMMANDS: readonly { name: string; summary: string; load: () => Promise<Command> }[] = [
  {
    name: 'certs',
    summary: 'create a CA, issue and inspect SPIFFE certificates',
    load: async () => (await import('./certs.ts')).certsCommand,
  },
  {
    name: 'lab',
    summary: 'run a Kubernetes-compatible cluster on this machine',
    load: async () => (await import('./lab.ts')).labCommand,
  },
  {
    name: 'status',
    summary: 'components, waypoints and each proxy’s config sync (ACK/NACK)',
    load: async () => (await import('./status.ts')).statusCommand,
  },
  {
    name: 'install',
    summary: 'install waymesh into the current cluster (server-side apply)',
    load: async () => (await import('./install.ts')).installCommand,
  },
  {
    name: 'uninstall',
    summary: 'remove waymesh and everything it created from the current cluster',
    load: async () => (await import('./install.ts')).uninstallCommand,
  },
  {
    name: 'waypoint',
    summary: 'create, list and delete waypoint Gateways',
    load: async () => (await import('./waypoint.ts')).waypointCommand,
  },
  {
    name: 'run',
    summary: 'run a component (controller, node-agent, waypoint) in this process',
    load: async () => (await import('./run.ts')).runCommand,
  },
  {
    name: 'x',
    summary: 'experimental verbs: `x explain` traces a request through the mesh',
    load: async () => (await import('./explain.ts')).xCommand,
  },
];

/** The package version, found by walking up from this module (works from sources and dist/). */
function version(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    const candidate = new URL('package.json', dir);
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'waymesh' && pkg.version !== undefined) return pkg.version;
    }
    if (dir.pathname === '/') return 'unknown';
  }
}

function help(): string {
  const lines = [
    'waymesh: a GAMMA-first, sidecar-less service mesh for Kubernetes',
    '',
    'Usage: waymesh <command> [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
    '',
    'Flags:',
    '  --help       show this help (or `waymesh <command> --help`)',
    '  --version    print the version',
  ];
  return lines.join('\n');
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: CommandIO): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(help());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    io.out(version());
    return 0;
  }
  const verb = COMMANDS.find((c) => c.name === first);
  if (verb === undefined) {
    io.err(`waymesh: unknown command ${JSON.stringify(first)}; run \`waymesh --help\``);
    return 2;
  }
  const cmd = await verb.load();
  // Flags after `--` belong to the command being run (e.g. `lab exec POD -- curl -h`).
  const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (own.includes('--help') || own.includes('-h')) {
    io.out(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    io.err(`waymesh ${cmd.name}: ${errorMessage(err)}`);
    return isMeshError(err, 'CLI_USAGE') ? 2 : 1;
  }
}

/** The process-facing standard IO. */
export const stdio: CommandIO = {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
};
