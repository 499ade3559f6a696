/**
 * Applies, removes and inspects a pod's capture rules inside its network namespace: `nsenter
 * --net=<path>` runs `iptables-save` to read the current state and one `iptables-restore
 * --noflush` transaction (planned by `planRestore`) to change it, so a pod never sees half a rule
 * set. Idempotent: re-applying converges, each jump from a built-in chain exists exactly once.
 */
import { MeshError } from '../../common/errors.ts';
import { nodeExec, type Exec, type ExecResult } from './exec.ts';
import { compareRules, planRestore, type RulesState } from './plan.ts';
import type { CaptureRuleSet } from './rules.ts';

/** How long one iptables command may run before it is killed. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

/** Whose rules, and where: `pod` (`namespace/name`) only names it in errors. */
export interface CaptureTarget {
  readonly pod: string;
  /** `/var/run/netns/<name>` or `/proc/<pid>/ns/net`. */
  readonly nsPath: string;
}

/** What {@link IptablesExecutor.remove} found: rules deleted, none there, or the namespace gone. */
export type RemoveOutcome = 'removed' | 'absent' | 'gone';

/** The rules in a namespace compared with the wanted set, per family. */
export interface CaptureInspection {
  readonly ipv4: RulesState;
  readonly ipv6: RulesState;
  /** Any of our chains or jumps exists in either family. */
  readonly present: boolean;
  /** Both families hold exactly the wanted rules. */
  readonly current: boolean;
}

/** Options of {@link IptablesExecutor}. */
export interface IptablesExecutorOptions {
  readonly exec?: Exec;
  readonly timeoutMs?: number;
}

const FAMILIES = [
  { family: 4, save: 'iptables-save', restore: 'iptables-restore' },
  { family: 6, save: 'ip6tables-save', restore: 'ip6tables-restore' },
] as const;

type Family = (typeof FAMILIES)[number];

/** Runs the iptables tools inside pod namespaces (needs CAP_NET_ADMIN and CAP_SYS_ADMIN). */
export class IptablesExecutor {
  readonly #exec: Exec;
  readonly #timeoutMs: number;

  constructor(options: IptablesExecutorOptions = {}) {
    this.#exec = options.exec ?? nodeExec;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  }

  /** Installs `rules` (replacing any older version of ours); a family without rules is cleared. */
  async apply(target: CaptureTarget, rules: CaptureRuleSet): Promise<void> {
    for (const f of FAMILIES) {
      const wanted = wantedText(rules, f);
      const input = planRestore(wanted, await this.#save(target, f, wanted));
      if (input !== '') await this.#restore(target, f, input);
    }
  }

  /** Deletes our jumps and chains; a namespace that no longer exists is reported as `gone`. */
  async remove(target: CaptureTarget): Promise<RemoveOutcome> {
    let removed = false;
    try {
      for (const f of FAMILIES) {
        const input = planRestore('', await this.#save(target, f, ''));
        if (input === '') continue;
        await this.#restore(target, f, input);
        removed = true;
      }
    } catch (err) {
      if (err instanceof MeshError && err.code === 'CAPTURE_NETNS_GONE') return 'gone';
      throw err;
    }
    return removed ? 'removed' : 'absent';
  }

  /** Compares what is installed with `rules` (e.g. to re-adopt pods after an agent restart). */
  async inspect(target: CaptureTarget, rules: CaptureRuleSet): Promise<CaptureInspection> {
    const states: RulesState[] = [];
    for (const f of FAMILIES) {
      const wanted = wantedText(rules, f);
      states.push(compareRules(wanted, await this.#save(target, f, wanted)));
    }
    const [ipv4 = 'absent', ipv6 = 'absent'] = states;
    const ok = (s: RulesState, f: Family): boolean =>
      s === 'current' || (s === 'absent' && wantedText(rules, f) === '');
    return {
      ipv4,
      ipv6,
      present: ipv4 !== 'absent' || ipv6 !== 'absent',
      current: ok(ipv4, FAMILIES[0]) && ok(ipv6, FAMILIES[1]) && (ipv4 !== 'absent' || ipv6 !== 'absent'),
    };
  }

  async #save(target: CaptureTarget, f: Family, wanted: string): Promise<string> {
    let saved = '';
    for (const table of tablesOf(wanted)) {
      saved += (await this.#run(target, f.save, ['-t', table])).stdout;
    }
    return saved;
  }

  async #restore(target: CaptureTarget, f: Family, input: string): Promise<void> {
    await this.#run(target, f.restore, ['--noflush', '--wait'], input);
  }

  async #run(
    target: CaptureTarget,
    tool: string,
    args: readonly string[],
    input?: string,
  ): Promise<ExecResult> {
    const argv = [`--net=${target.nsPath}`, tool, ...args];
    const where = `pod ${target.pod} (${target.nsPath})`;
    let result: ExecResult;
    try {
      result = await this.#exec.run('nsenter', argv, { input, timeoutMs: this.#timeoutMs });
    } catch (err) {
      throw new MeshError('CAPTURE_COMMAND_FAILED', `${where}: cannot run nsenter ${tool}: ${String(err)}`, {
        hint: 'the node agent needs util-linux (nsenter) and iptables in its image',
        cause: err,
      });
    }
    if (result.timedOut) {
      throw new MeshError(
        'CAPTURE_IPTABLES_TIMEOUT',
        `${where}: ${tool} did not finish in ${this.#timeoutMs} ms`,
        {
          hint: 'another process may hold the xtables lock (/run/xtables.lock); check for stuck iptables commands',
        },
      );
    }
    if (result.exitCode === 0) return result;
    const stderr = result.stderr.trim();
    if (stderr.startsWith('nsenter:') && /No such file or directory|Invalid argument/.test(stderr)) {
      throw new MeshError('CAPTURE_NETNS_GONE', `${where}: the network namespace is gone: ${stderr}`, {
        hint: 'the pod sandbox was deleted or restarted; the agent resolves the namespace again on the next sync',
      });
    }
    throw new MeshError('CAPTURE_IPTABLES_FAILED', `${where}: ${tool} ${args.join(' ')} failed: ${stderr}`, {
      hint: tool.endsWith('-restore')
        ? 'nothing was changed (the restore is atomic); check that the iptables nat modules are available'
        : 'check that the agent has CAP_NET_ADMIN and CAP_SYS_ADMIN',
    });
  }
}

function wantedText(rules: CaptureRuleSet, f: Family): string {
  return (f.family === 4 ? rules.ipv4 : rules.ipv6) ?? '';
}

/** The tables to read: those the wanted rules use, and `nat`, where ours always lived. */
function tablesOf(wanted: string): string[] {
  const tables = new Set(['nat']);
  for (const line of wanted.split('\n')) if (line.startsWith('*')) tables.add(line.slice(1).trim());
  return [...tables].sort();
}
