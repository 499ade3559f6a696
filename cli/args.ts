/**
 * Minimal, strict argument parsing for the `waymesh` command: `--flag value`, `--flag=value`,
 * boolean flags, short aliases (`-n NS` for `--namespace NS`) when a verb declares them,
 * positionals, and `--` to stop parsing. Unknown flags are an error, so a typo never silently
 * changes behaviour.
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

/** Short aliases of a verb's flags: `{ n: 'namespace' }` makes `-n X` mean `--namespace X`. */
export type FlagAliases = Readonly<Record<string, string>>;

/**
 * Parses `argv` against `spec`; throws `CLI_USAGE` with a one-line reason on bad input. A
 * single-dash word is an alias when `aliases` declares it, an error when it looks like one
 * (`-x`), and a positional otherwise (e.g. `-` or `-1`).
 */
export function parseArgs(argv: readonly string[], spec: FlagSpec, aliases?: FlagAliases): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  let rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (aliases !== undefined && /^-[A-Za-z]$/.test(arg)) {
      const long = aliases[arg.slice(1)];
      if (long === undefined) throw new MeshError('CLI_USAGE', `unknown flag ${arg}`);
      i = take(argv, i, long, spec, flags);
      continue;
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

/** Records alias flag `name` found at `argv[i]` (its value, if any, follows); returns the last index used. */
function take(
  argv: readonly string[],
  i: number,
  name: string,
  spec: FlagSpec,
  flags: Map<string, string | true>,
): number {
  const kind = spec[name];
  if (kind === undefined) throw new MeshError('CLI_USAGE', `unknown flag --${name}`);
  if (kind === 'boolean') {
    flags.set(name, true);
    return i;
  }
  const value = argv[i + 1];
  if (value === undefined || value === '')
    throw new MeshError('CLI_USAGE', `flag ${argv[i] ?? ''} needs a value`);
  flags.set(name, value);
  return i + 1;
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
