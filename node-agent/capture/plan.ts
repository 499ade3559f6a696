/**
 * Pure planning of one atomic `iptables-restore --noflush` transaction over our `WAYMESH_` chains:
 * given the wanted rules (from `buildCaptureRules`) and what `iptables-save` shows now, declare
 * (and so flush) our chains, delete every existing jump from a built-in chain into ours, add the
 * wanted rules and jumps, and delete chains of ours no longer wanted. Re-applying therefore
 * converges and never duplicates a jump; other owners' rules are never named.
 */
import { CHAIN_PREFIX } from './rules.ts';

/** Our part of one table, as `iptables-save` or the rule builder writes it. */
interface TableRules {
  /** Our chains with their rules (`-A WAYMESH_X ...` lines), in order. */
  readonly chains: Map<string, string[]>;
  /** `-A <built-in> ... -j WAYMESH_...` lines, in order. */
  readonly jumps: string[];
}

/** How the rules in a namespace compare with the wanted ones. */
export type RulesState = 'absent' | 'current' | 'stale';

/** Our chains and jumps per table in restore/save text; everything else is ignored. */
export function parseOurRules(text: string): Map<string, TableRules> {
  const tables = new Map<string, TableRules>();
  let current: TableRules | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith('*')) {
      current = { chains: new Map(), jumps: [] };
      tables.set(line.slice(1), current);
    } else if (current !== undefined && line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0] ?? '';
      if (chain.startsWith(CHAIN_PREFIX) && !current.chains.has(chain)) current.chains.set(chain, []);
    } else if (current !== undefined && line.startsWith('-A ')) {
      const chain = line.split(' ')[1] ?? '';
      if (chain.startsWith(CHAIN_PREFIX)) {
        const rules = current.chains.get(chain) ?? [];
        rules.push(line);
        current.chains.set(chain, rules);
      } else if (jumpTarget(line).startsWith(CHAIN_PREFIX)) {
        current.jumps.push(line);
      }
    }
  }
  return tables;
}

/**
 * The restore input turning `saved` (concatenated `iptables-save -t <table>` output) into
 * `wanted` (a rule set from `buildCaptureRules`, or '' to remove everything of ours). '' when
 * there is nothing to do.
 */
export function planRestore(wanted: string, saved: string): string {
  const want = parseOurRules(wanted);
  const have = parseOurRules(saved);
  const out: string[] = [];
  for (const table of [...new Set([...want.keys(), ...have.keys()])].sort()) {
    const w = want.get(table) ?? { chains: new Map<string, string[]>(), jumps: [] };
    const h = have.get(table) ?? { chains: new Map<string, string[]>(), jumps: [] };
    if (w.chains.size === 0 && w.jumps.length === 0 && h.chains.size === 0 && h.jumps.length === 0) continue;
    const stale = [...h.chains.keys()].filter((c) => !w.chains.has(c)).sort();
    out.push(`*${table}`);
    // Declaring a chain flushes it, so stale chains lose their jumps to each other before -X.
    for (const chain of [...w.chains.keys(), ...stale]) out.push(`:${chain} - [0:0]`);
    for (const jump of h.jumps) out.push(`-D ${jump.slice(3)}`);
    out.push(...w.jumps);
    for (const rules of w.chains.values()) out.push(...rules);
    for (const chain of stale) out.push(`-X ${chain}`);
    out.push('COMMIT');
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

/**
 * Compares `saved` with `wanted`: `absent` when nothing of ours is there, `current` when our
 * chains, their rules and the jumps (each exactly once) are exactly the wanted ones, else `stale`.
 */
export function compareRules(wanted: string, saved: string): RulesState {
  const want = parseOurRules(wanted);
  const have = parseOurRules(saved);
  const present = [...have.values()].some((t) => t.chains.size > 0 || t.jumps.length > 0);
  if (!present) return 'absent';
  for (const table of new Set([...want.keys(), ...have.keys()])) {
    const w = want.get(table);
    const h = have.get(table);
    if (!sameTable(w, h)) return 'stale';
  }
  return 'current';
}

function sameTable(w: TableRules | undefined, h: TableRules | undefined): boolean {
  const empty = (t: TableRules | undefined): boolean =>
    t === undefined || (t.chains.size === 0 && t.jumps.length === 0);
  if (w === undefined || h === undefined) return empty(w) && empty(h);
  if (w.chains.size !== h.chains.size) return false;
  for (const [chain, rules] of w.chains) {
    const saved = h.chains.get(chain);
    if (saved === undefined || !sameLines(rules, saved)) return false;
  }
  // iptables-save lists built-in chains in its own order: compare jumps as sets, each once.
  return sameLines([...w.jumps].sort(), [...h.jumps].sort());
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((line, i) => line === b[i]);
}

function jumpTarget(line: string): string {
  const at = line.lastIndexOf(' -j ');
  return at < 0 ? '' : (line.slice(at + 4).split(' ')[0] ?? '');
}
