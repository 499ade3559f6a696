/**
 * Applies kube-proxy-style rules in a network namespace: one `iptables-restore --noflush`
 * transaction planned by {@link planRestore} from the current `iptables-save`, so only `WML-`
 * chains and the jumps into them change, atomically. Idempotent.
 */
import { inNetns } from '../net/exec.ts';
import { planRestore } from './restore.ts';

async function save(netns: string | undefined): Promise<string> {
  const nat = await inNetns(netns, 'iptables-save', ['-t', 'nat']);
  const filter = await inNetns(netns, 'iptables-save', ['-t', 'filter']);
  return nat.stdout + filter.stdout;
}

async function restore(netns: string | undefined, input: string): Promise<void> {
  if (input === '') return;
  await inNetns(netns, 'iptables-restore', ['--noflush', '--wait'], { input });
}

/**
 * Replaces the proxy rules in `netns` (the caller's own namespace when undefined) with `rules`,
 * the output of {@link buildProxyRules}. Chains no longer used are deleted; each jump from a
 * built-in chain exists exactly once afterwards.
 */
export async function applyProxyRules(netns: string | undefined, rules: string): Promise<void> {
  await restore(netns, planRestore(rules, await save(netns)));
}

/** Removes every `WML-` chain and every jump into one from `netns`. Idempotent. */
export async function removeProxyRules(netns: string | undefined): Promise<void> {
  await restore(netns, planRestore('', await save(netns)));
}
