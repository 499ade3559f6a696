/**
 * Runs the network tools (`ip`, `iptables-restore`, `sysctl`) the lab is built with: argv only,
 * never a shell, a timeout on every call, and failures turned into coded errors that quote the
 * tool's own message.
 */
import { execFile } from 'node:child_process';
import { MeshError } from '../../common/errors.ts';

const DEFAULT_TIMEOUT_MS = 15_000;

/** Output of a finished command. */
export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** Options for {@link runCommand}. */
export interface RunOptions {
  /** Written to the command's standard input. */
  readonly input?: string;
  readonly timeoutMs?: number;
}

/**
 * Runs `command args…` and resolves with its output; rejects with LAB_COMMAND_FAILED (the
 * command line and its stderr in the message) on a non-zero exit, a signal or a timeout.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, encoding: 'utf8', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ stdout, stderr });
          return;
        }
        const detail = stderr.trim() === '' ? err.message : stderr.trim();
        reject(
          new MeshError('LAB_COMMAND_FAILED', `${command} ${args.join(' ')} failed: ${detail}`, {
            hint: 'the lab needs root, iproute2, iptables and util-linux',
            cause: err,
          }),
        );
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Runs `ip args…` (so every caller names its namespace with `-n` or `netns exec`). */
export function ip(...args: string[]): Promise<CommandOutput> {
  return runCommand('ip', args);
}

/** Runs `command args…` inside network namespace `netns` (or the caller's own when undefined). */
export function inNetns(
  netns: string | undefined,
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<CommandOutput> {
  if (netns === undefined) return runCommand(command, args, options);
  return runCommand('ip', ['netns', 'exec', netns, command, ...args], options);
}

/** Sets sysctl `key` to `value` inside `netns`. */
export async function sysctl(netns: string, key: string, value: string): Promise<void> {
  await inNetns(netns, 'sysctl', ['-qw', `${key}=${value}`]);
}
