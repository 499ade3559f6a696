/**
 * Child processes the supervisor keeps running (kubelets, DNS, forwarder): started inside a
 * network namespace with `ip netns exec`, output appended to a log file, restarted with capped
 * back-off when they exit, stopped with SIGTERM then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import type { Logger } from '../../common/log.ts';

/** One supervised process. */
export class SupervisedProcess {
  readonly #name: string;
  readonly #argv: string[];
  readonly #logFile: string;
  readonly #log: Logger;
  #child: ChildProcess | undefined;
  #stopping = false;
  #restarts = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(name: string, argv: string[], logFile: string, log: Logger) {
    this.#name = name;
    this.#argv = argv;
    this.#logFile = logFile;
    this.#log = log;
  }

  /** The current pid, if running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the process (and keeps it running). */
  start(): void {
    const fd = openSync(this.#logFile, 'a');
    const [cmd, ...args] = this.#argv;
    const child = spawn(cmd ?? 'false', args, { stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    this.#child = child;
    const startedAt = Date.now();
    child.on('exit', (code, signal) => {
      this.#child = undefined;
      if (this.#stopping) return;
      if (Date.now() - startedAt > 60_000) this.#restarts = 0;
      const delay = Math.min(30_000, 500 * 2 ** this.#restarts++);
      this.#log.warn('lab process exited; restarting', {
        process: this.#name,
        code,
        signal,
        restartInMs: delay,
        log: this.#logFile,
      });
      this.#timer = setTimeout(() => this.start(), delay);
    });
  }

  /** Stops the process: SIGTERM to its group, SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const child = this.#child;
    if (child?.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const signal = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-(child.pid ?? 0), sig);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
