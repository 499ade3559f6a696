/**
 * Running a command, as the capture executor needs it: argv only (never a shell), standard input
 * from a string, a hard timeout. Injected through {@link Exec} so unit tests record the commands
 * instead of running them.
 */
import { execFile } from 'node:child_process';

/** How a command ended. A non-zero exit is a result, not a rejection. */
export interface ExecResult {
  /** Exit status; null when the command was killed (see `timedOut`). */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the command was killed because it ran past `timeoutMs`. */
  readonly timedOut: boolean;
}

/** Options of one {@link Exec.run} call. */
export interface ExecOptions {
  /** Written to standard input, which is then closed. */
  readonly input?: string;
  readonly timeoutMs: number;
}

/** Runs commands; rejects only when the command cannot be started at all (e.g. ENOENT). */
export interface Exec {
  run(file: string, args: readonly string[], options: ExecOptions): Promise<ExecResult>;
}

/** The real {@link Exec}, over `child_process.execFile`. */
export const nodeExec: Exec = {
  run(file, args, options) {
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        args,
        { timeout: options.timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          if (err === null) {
            resolve({ exitCode: 0, stdout, stderr, timedOut: false });
            return;
          }
          if (typeof err.code === 'string') {
            // Not started (ENOENT, EACCES) or output overflow: nothing a caller can read as a result.
            reject(err instanceof Error ? err : new Error(String(err.message)));
            return;
          }
          const timedOut = err.killed === true && err.signal === 'SIGKILL';
          resolve({ exitCode: typeof err.code === 'number' ? err.code : null, stdout, stderr, timedOut });
        },
      );
      // A command that exits before reading its input would otherwise raise EPIPE here.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input ?? '');
    });
  },
};
