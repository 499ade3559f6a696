/**
 * The `l7` benchmark's network: private namespaces named `wmb7-…` — a switch namespace holding a
 * bridge, and one namespace per host (client, proxy, backend) joined to it by a veth pair, all on
 * 10.250.77.0/24. Nothing is created in the host namespace (veths are born inside the bench's
 * namespaces), so no bench traffic can leave the machine. {@link BenchNet.cleanup} kills every
 * process started here and deletes the namespaces, also on process exit or SIGINT/SIGTERM.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { promisify } from 'node:util';

import { MeshError } from '../../common/errors.ts';

const execFileAsync = promisify(execFile);

/** Every namespace and link this module makes starts with this. */
export const BENCH_PREFIX = 'wmb7-';

/** One host namespace and its address on the bench bridge. */
export interface BenchHost {
  readonly ns: string;
  readonly ip: string;
}

/**
 * How long `cleanup` lets a process exit on SIGTERM before SIGKILL: nginx's master reaps its
 * worker on the way out, and a killed master leaves the worker a zombie nobody reaps.
 */
const CLEANUP_GRACE_MS = 3000;

const live = new Set<BenchNet>();
let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const net of live) net.cleanupSync();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const net of live) net.cleanupSync();
      process.exit(130);
    });
  }
}

/** Sends `signal` to the process group `child` leads (see `spawn`); gone already is fine. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function run(
  command: string,
  args: readonly string[],
  timeoutMs = 10_000,
  cwd?: string,
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { timeout: timeoutMs, encoding: 'utf8', cwd });
    return stdout;
  } catch (err) {
    const stderr =
      typeof err === 'object' && err !== null && 'stderr' in err ? String(err.stderr).trim() : '';
    throw new MeshError(
      'BENCH_COMMAND',
      `${command} ${args.join(' ')} failed${stderr === '' ? '' : `: ${stderr}`}`,
      {
        hint: 'the l7 benchmark needs root, iproute2, nginx-light, wrk and curl',
        cause: err,
      },
    );
  }
}

/** Namespaces, links and processes of one bench run. */
export class BenchNet {
  readonly #namespaces: string[] = [];
  readonly #processes = new Set<ChildProcess>();
  readonly #id = randomBytes(3).toString('hex');

  /** `cwd`: where commands run (the repository root, so `--import tsx` resolves). */
  constructor(private readonly cwd: string) {}

  /** Creates the switch and one host per name, `10.250.77.<10+i>`. */
  async create(names: readonly string[]): Promise<Record<string, BenchHost>> {
    if (process.getuid?.() !== 0)
      throw new MeshError('BENCH_NOT_ROOT', 'the l7 benchmark creates network namespaces and needs root');
    live.add(this);
    installHooks();
    const sw = await this.#netns('sw');
    await run('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    const hosts: Record<string, BenchHost> = {};
    for (const [i, name] of names.entries()) {
      const ns = await this.#netns(name.slice(0, 3));
      const port = `wmb7${this.#id}${i}`;
      await run('ip', ['-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await run('ip', ['-n', sw, 'link', 'set', port, 'master', 'br0', 'up']);
      const ip = `10.250.77.${10 + i}`;
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      hosts[name] = { ns, ip };
    }
    return hosts;
  }

  /** Runs a short command inside `ns` and returns its stdout. */
  exec(ns: string, command: string, args: readonly string[], timeoutMs?: number): Promise<string> {
    return run('ip', ['netns', 'exec', ns, command, ...args], timeoutMs, this.cwd);
  }

  /**
   * Starts a long-running process inside `ns` (`ip netns exec` execs in place, so the child's pid
   * is the program's own); its stdout and stderr are appended to `logFile`. Killed by {@link cleanup}.
   */
  spawn(ns: string, command: string, args: readonly string[], logFile: string): ChildProcess {
    // Straight to the file: a pipe through this process would stall a child's synchronous
    // stdout writes (access logs) whenever the bench itself is busy.
    const fd = openSync(logFile, 'a');
    // Its own process group, so stopping it reaches what it forked too: nginx's master was
    // killed before it could stop its worker, which then outlived the bench (one per run).
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], {
      cwd: this.cwd,
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    closeSync(fd);
    this.#processes.add(child);
    child.once('exit', () => this.#processes.delete(child));
    return child;
  }

  /**
   * Runs a command inside `ns` to completion, calling `onLine` for each stdout line; rejects on a
   * non-zero exit (with its stderr) or after `timeoutMs`.
   */
  async runLines(
    ns: string,
    command: string,
    args: readonly string[],
    onLine: (line: string) => void,
    timeoutMs: number,
  ): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], {
      cwd: this.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#processes.add(child);
    let stderr = '';
    let pending = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      const lines = (pending + c).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    clearTimeout(timer);
    this.#processes.delete(child);
    if (pending !== '') onLine(pending);
    if (code !== 0)
      throw new MeshError(
        'BENCH_COMMAND',
        `${command} ${args.join(' ')} exited with ${code}: ${stderr.trim()}`,
      );
  }

  /** Polls `url` with curl inside `ns` until it answers 2xx; throws after `timeoutMs`. */
  async waitForHttp(ns: string, url: string, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.exec(ns, 'curl', ['-sf', '--max-time', '2', url]);
      } catch (err) {
        if (Date.now() > deadline)
          throw new MeshError('BENCH_NOT_READY', `${url} did not answer 2xx within ${timeoutMs} ms`, {
            hint: 'see the process logs in the bench temp directory',
            cause: err,
          });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /**
   * Sends SIGTERM to `child` and waits up to `deadlineMs` for it to exit, then SIGKILL; whatever
   * is left of its process group (a worker it forked) is killed once it exited.
   */
  async stop(child: ChildProcess, deadlineMs = 5000): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), deadlineMs);
      await exited;
      clearTimeout(timer);
    }
    signalGroup(child, 'SIGKILL');
  }

  /** Kills the processes and deletes the namespaces (their veths go with them). */
  async cleanup(): Promise<void> {
    await Promise.all([...this.#processes].map((c) => this.stop(c, CLEANUP_GRACE_MS)));
    const failures: string[] = [];
    for (const ns of this.#namespaces.splice(0).reverse())
      await run('ip', ['netns', 'del', ns]).catch((err: unknown) => failures.push(String(err)));
    live.delete(this);
    if (failures.length > 0)
      throw new MeshError('BENCH_CLEANUP', `namespaces left behind: ${failures.join('; ')}`, {
        hint: `remove them with: ip netns list | grep ${BENCH_PREFIX} | xargs -n1 ip netns del`,
      });
  }

  /** Synchronous {@link cleanup}, for process exit. */
  cleanupSync(): void {
    for (const child of this.#processes) signalGroup(child, 'SIGKILL');
    for (const ns of this.#namespaces.splice(0).reverse())
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    live.delete(this);
  }

  async #netns(role: string): Promise<string> {
    const name = `${BENCH_PREFIX}${this.#id}-${role}`;
    await run('ip', ['netns', 'add', name]);
    this.#namespaces.push(name);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }
}
