/**
 * Processes of the `l4` benchmark: spawning with a readiness line, stopping by pid (SIGTERM,
 * then SIGKILL after a deadline), and sampling a process's CPU and RSS from `/proc`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { MeshError } from '../../common/errors.ts';
import { cpuTicksOfStat, rssMbOfStatus } from './stats.ts';

const CLOCK_TICKS_PER_SEC = 100;

/** Resolves once `child` prints a line starting with `ready` on stdout; rejects if it exits first. */
export function waitReady(child: ChildProcess, what: string, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => finish(new Error(`${what} not ready after ${timeoutMs} ms: ${err}`)),
      timeoutMs,
    );
    const onOut = (chunk: Buffer): void => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('ready'));
      if (line !== undefined) finish(undefined, line);
    };
    const onErr = (chunk: Buffer): void => {
      err = (err + chunk.toString()).slice(-4000);
    };
    const onExit = (code: number | null): void =>
      finish(
        new MeshError('BENCH_PROCESS_EXITED', `${what} exited (code ${code}) before ready: ${err.trim()}`),
      );
    function finish(error: Error | undefined, line = ''): void {
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      child.off('exit', onExit);
      if (error === undefined) resolve(line);
      else reject(error);
    }
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}

/** Spawns `command args` (in the host namespace) and tracks it for {@link stopAll}. */
export class ProcessGroup {
  readonly #children = new Set<ChildProcess>();

  constructor() {
    // A crashed bench must not leave agents running: kill synchronously on exit.
    process.once('exit', () => {
      for (const c of this.#children) c.kill('SIGKILL');
    });
  }

  /** Starts a process with piped stdio. */
  spawn(command: string, args: readonly string[]): ChildProcess {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** SIGTERM to each process by pid, SIGKILL to those still running after `deadlineMs`. */
  async stop(child: ChildProcess, deadlineMs = 5000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    await exited;
    clearTimeout(timer);
  }

  /** Stops every process still running. */
  async stopAll(deadlineMs = 5000): Promise<void> {
    await Promise.all([...this.#children].map((c) => this.stop(c, deadlineMs)));
  }
}

/** CPU ticks (user + system) of `pid` so far. */
export function cpuTicks(pid: number): number {
  return cpuTicksOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** Resident set of `pid` in MiB. */
export function rssMb(pid: number): number {
  return rssMbOfStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** CPU cores and peak RSS of a group of processes over a measured window. */
export interface Usage {
  /** Sum over the processes of CPU time / wall time. */
  readonly cores: number;
  /** The largest RSS any one process reached (MiB). */
  readonly peakRssMb: number;
}

/** Samples CPU at start and end, and RSS every `intervalMs`, of `pids` while `work` runs. */
export async function sampleDuring<T>(
  pids: readonly number[],
  work: () => Promise<T>,
  intervalMs = 200,
): Promise<{ result: T; usage: Usage }> {
  let peak = 0;
  const sample = (): void => {
    for (const pid of pids) peak = Math.max(peak, rssMb(pid));
  };
  const ticks0 = pids.reduce((s, pid) => s + cpuTicks(pid), 0);
  const t0 = performance.now();
  sample();
  const timer = setInterval(sample, intervalMs);
  try {
    const result = await work();
    const wallSec = (performance.now() - t0) / 1000;
    const ticks = pids.reduce((s, pid) => s + cpuTicks(pid), 0) - ticks0;
    sample();
    return { result, usage: { cores: ticks / CLOCK_TICKS_PER_SEC / wallSec, peakRssMb: peak } };
  } finally {
    clearInterval(timer);
  }
}
