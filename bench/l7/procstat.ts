/**
 * CPU time and resident memory of a process and its direct children, read from /proc (Linux),
 * so proxies running as their own processes can be measured from outside.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

function childrenOf(pid: number): number[] {
  try {
    const tasks = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return tasks === '' ? [] : tasks.split(/\s+/).map(Number);
  } catch {
    return [];
  }
}

/** `pid` and its direct children (nginx master and workers); gone processes are skipped. */
export function processTree(pid: number): number[] {
  return [pid, ...childrenOf(pid)];
}

/** User + system CPU seconds of `pid` (0 when it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return 0;
  }
}

/** Resident set size of `pid` in MiB (0 when it is gone). */
export function rssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) / 1024;
  } catch {
    return 0;
  }
}

/** A CPU meter over a window: `stop()` gives the cores used by `pids` (and their children). */
export function startCpuMeter(pids: readonly number[]): { stop(): number } {
  const tree = (): number[] => pids.flatMap(processTree);
  const sum = (): number => tree().reduce((n, p) => n + cpuSeconds(p), 0);
  const c0 = sum();
  const t0 = performance.now();
  return {
    stop: () => Number(((sum() - c0) / ((performance.now() - t0) / 1000)).toFixed(3)),
  };
}

/** Summed RSS in MiB of `pids` and their children. */
export function treeRssMb(pids: readonly number[]): number {
  return Number(
    pids
      .flatMap(processTree)
      .reduce((n, p) => n + rssMb(p), 0)
      .toFixed(1),
  );
}
