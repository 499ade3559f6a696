/**
 * Process identity from /proc: a pid together with its start time (field 22 of
 * `/proc/<pid>/stat`, in clock ticks since boot) names one process for its whole life, so a pid
 * the kernel has reused for another process is never mistaken for a container.
 */
import { readFileSync } from 'node:fs';

/** Start time and state of `pid`, or undefined when there is no such process. */
export function procStat(pid: number): { startTime: string; state: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { startTime, state };
}

/** True when `pid` is alive (not a zombie) and started at `startTime`. */
export function isSameProcess(pid: number, startTime: string): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}
