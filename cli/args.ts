/**
 * Minimal, strict argument parsing for the `waymesh` command: `--flag value`, `--flag=value`,
 * boolean flags, positionals, and `--` to stop parsing. Unknown flags are an error, so a typo
 * never silently changes behaviour.
 */
import { MeshError } from '../common/errors.ts';

/** Declares the flags a verb accepts: `string` flags take a value, `boolean` ones do not. */
export type FlagSpec = Readonly<Record<string, 'string' | 'boolean'>>;

/** The parsed command line of one verb. */
export interface ParsedArgs {
  readonly flags: ReadonlyMap<string, string | true>;
  readonly positionals: readonly string[];
  /** Everything after a bare `--`. */
  readonly rest: readonly string[];
}

/** Parses `argv` against `spec`; throws `CLI_USAGE` with a one-line reason on bad input. */
export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  let rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const kind = spec[name];
    if (kind === undefined) throw new MeshError('CLI_USAGE', `unknown flag --${name}`);
    if (kind === 'boolean') {
      if (eq !== -1) throw new MeshError('CLI_USAGE', `flag --${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new MeshError('CLI_USAGE', `flag --${name} needs a value`);
    flags.set(name, value);
  }
  return { flags, positionals, rest };
}

/** The value of a string flag, or `undefined`. */
export function flag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** The value of a required string flag; throws `CLI_USAGE` when it is missing. */
export function requiredFlag(args: ParsedArgs, name: string): string {
  const v = flag(args, name);
  if (v === undefined) throw new MeshError('CLI_USAGE', `missing required flag --${name}`);
  return v;
}

/** Parses a duration such as `90s`, `30m`, `24h`, `7d` into seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (m === null)
    throw new MeshError('CLI_USAGE', `invalid duration ${JSON.stringify(text)} (use e.g. 90s, 30m, 24h, 7d)`);
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  if (n <= 0) throw new MeshError('CLI_USAGE', `duration ${text} must be positive`);
  return n * unit;
}
