/**
 * Network namespace housekeeping shared by the lab network and the pod network: listing, creating
 * (with loopback up), and removing a namespace together with its `/etc/netns/<name>/` files and
 * every process still inside it (SIGTERM, then SIGKILL).
 */
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../common/log.ts';
import { ip } from './exec.ts';

/** Where `ip netns exec` finds per-namespace replacements for files in /etc. */
export const NETNS_ETC_DIR = '/etc/netns';

/** Names of all named network namespaces (`ip netns list`). */
export async function listNetns(): Promise<string[]> {
  const { stdout } = await ip('netns', 'list');
  const names: string[] = [];
  for (const line of stdout.split('\n')) {
    const name = line.trim().split(/\s+/)[0];
    if (name !== undefined && name !== '') names.push(name);
  }
  return names.sort();
}

/** True when the named namespace exists. */
export async function netnsExists(name: string): Promise<boolean> {
  return (await listNetns()).includes(name);
}

/** Creates namespace `name` unless it exists, and brings its loopback up. */
export async function ensureNetns(name: string): Promise<void> {
  if (!(await netnsExists(name))) await ip('netns', 'add', name);
  await ip('-n', name, 'link', 'set', 'lo', 'up');
}

/** PIDs of the processes in namespace `name` (empty when it does not exist). */
export async function netnsPids(name: string): Promise<number[]> {
  const { stdout } = await ip('netns', 'pids', name).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/**
 * Stops every process inside namespace `name`: SIGTERM, up to `graceMs` to exit, then SIGKILL.
 * Processes are found by namespace (`ip netns pids`), never by name.
 */
export async function killNetnsProcesses(name: string, graceMs: number, logger?: Logger): Promise<void> {
  let pids = await netnsPids(name);
  if (pids.length === 0) return;
  logger?.info('stopping processes left in namespace', { netns: name, pids });
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(100);
    pids = await netnsPids(name);
    if (pids.length === 0) return;
  }
  logger?.warn('killing processes that ignored SIGTERM', { netns: name, pids });
  for (const pid of pids) signal(pid, 'SIGKILL');
  for (let i = 0; i < 50 && (await netnsPids(name)).length > 0; i++) await sleep(50);
}

/** Removes namespace `name`, its processes and its `/etc/netns/<name>/` directory; idempotent. */
export async function deleteNetns(name: string, graceMs: number, logger?: Logger): Promise<void> {
  if (await netnsExists(name)) {
    await killNetnsProcesses(name, graceMs, logger);
    await ip('netns', 'del', name);
  }
  await rm(`${NETNS_ETC_DIR}/${name}`, { recursive: true, force: true });
}

/** Names of the links in namespace `netns` (empty when the namespace does not exist). */
export async function listLinks(netns: string): Promise<string[]> {
  const { stdout } = await ip('-n', netns, '-o', 'link', 'show').catch(() => ({ stdout: '' }));
  const names: string[] = [];
  for (const line of stdout.split('\n')) {
    // "3: eth0@if12: <...>" — the name ends at '@' (peer index) or ':'.
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m?.[1] !== undefined) names.push(m[1]);
  }
  return names;
}

/** Index of link `name` in `netns` and the index of its peer (veth), or undefined when it does not exist. */
export async function vethIndexes(
  netns: string,
  name: string,
): Promise<{ index: number; peer: number } | undefined> {
  const out = await ip('-n', netns, '-o', 'link', 'show', 'dev', name).catch(() => undefined);
  // "7: n1@if2: <…>": this link's index, then its peer's index in the other namespace.
  const m = out === undefined ? null : /^(\d+):\s+[^@:\s]+@if(\d+):/.exec(out.stdout);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  return { index: Number(m[1]), peer: Number(m[2]) };
}

/** True when link `a` in `netnsA` and link `b` in `netnsB` exist and are the two ends of one veth. */
export async function vethPairIntact(netnsA: string, a: string, netnsB: string, b: string): Promise<boolean> {
  const x = await vethIndexes(netnsA, a);
  const y = await vethIndexes(netnsB, b);
  return x !== undefined && y !== undefined && x.peer === y.index && y.peer === x.index;
}
