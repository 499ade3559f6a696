/**
 * Pure planning of one atomic `iptables-restore --noflush` transaction: the wanted `WML-` rules,
 * merged with what `iptables-save` shows today, so that our chains are flushed and refilled,
 * chains no longer wanted are deleted, and every jump from a built-in chain into ours exists
 * exactly once (existing jumps are deleted in the same transaction, then inserted again).
 * Rules of other owners are never named, so they are left exactly as they are.
 */
import { CHAIN_PREFIX } from './rules.ts';

interface TableState {
  /** `WML-` chains that exist (saved) or are declared (wanted). */
  readonly chains: Set<string>;
  /** Saved: `-A <built-in> … -j WML-…` lines. Wanted: every rule line, in order. */
  readonly lines: string[];
}

function parse(text: string, onlyJumps: boolean): Map<string, TableState> {
  const tables = new Map<string, TableState>();
  let current: TableState | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      current = { chains: new Set(), lines: [] };
      tables.set(line.slice(1), current);
      continue;
    }
    if (current === undefined || line === 'COMMIT') continue;
    if (line.startsWith(':')) {
      const chain = line.slice(1).split(/\s+/)[0] ?? '';
      if (chain.startsWith(CHAIN_PREFIX)) current.chains.add(chain);
      continue;
    }
    if (!onlyJumps) {
      current.lines.push(line);
      continue;
    }
    const m = /^-A (\S+) .*-j (\S+)/.exec(line);
    if (m?.[1] !== undefined && !m[1].startsWith(CHAIN_PREFIX) && m[2]?.startsWith(CHAIN_PREFIX) === true) {
      current.lines.push(line);
    }
  }
  return tables;
}

/**
 * The restore input that turns the `saved` state (full `iptables-save` output) into `wanted`
 * (output of {@link buildProxyRules}, or '' to remove everything of ours).
 */
export function planRestore(wanted: string, saved: string): string {
  const want = parse(wanted, false);
  const have = parse(saved, true);
  const names = [...new Set([...want.keys(), ...have.keys()])].sort();
  const out: string[] = [];
  for (const table of names) {
    const w = want.get(table) ?? { chains: new Set<string>(), lines: [] };
    const h = have.get(table) ?? { chains: new Set<string>(), lines: [] };
    if (w.chains.size === 0 && w.lines.length === 0 && h.chains.size === 0 && h.lines.length === 0) continue;
    const stale = [...h.chains].filter((c) => !w.chains.has(c)).sort();
    out.push(`*${table}`);
    // Declaring a chain flushes it, so stale chains lose their jumps to each other before -X.
    for (const chain of [...w.chains, ...stale]) out.push(`:${chain} - [0:0]`);
    for (const jump of h.lines) out.push(jump.replace(/^-A /, '-D '));
    out.push(...w.lines);
    for (const chain of stale) out.push(`-X ${chain}`);
    out.push('COMMIT');
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}
