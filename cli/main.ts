/**
 * The `waymesh` command. Each verb group lives in its own module and registers here; `main()`
 * returns the exit code so tests can drive it in-process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { errorMessage, isMeshError } from '../common/errors.ts';
import { certsCommand } from './certs.ts';
import { installCommand, uninstallCommand } from './install.ts';
import { labCommand } from './lab.ts';
import { runCommand } from './run.ts';
import { statusCommand } from './status.ts';
import { waypointCommand } from './waypoint.ts';
import { xCommand } from './explain.ts';

/** A verb group: `run` gets the arguments after the group name and returns an exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(argv: readonly string[], io: CommandIO): Promise<number>;
}

/** Where a command writes; tests capture it. */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
}

const COMMANDS: readonly Command[] = [
  certsCommand,
  labCommand,
  statusCommand,
  installCommand,
  uninstallCommand,
  waypointCommand,
  runCommand,
  xCommand,
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
  const cmd = COMMANDS.find((c) => c.name === first);
  if (cmd === undefined) {
    io.err(`waymesh: unknown command ${JSON.stringify(first)}; run \`waymesh --help\``);
    return 2;
  }
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
