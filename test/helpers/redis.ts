/**
 * A real `redis-server` for integration tests: bound to 127.0.0.1 on a free port, no persistence
 * (`--save '' --appendonly no`, working directory in a private temp dir), ready once it answers
 * PING (or refuses it for want of AUTH). `pause()`/`resume()`/`kill()`/`restart()` stage
 * outages; `stop()` ends it (SIGCONT first when paused, SIGKILL after a grace period) and removes
 * its directory. Every server still running when the process exits is killed, so a failing test
 * never leaks one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 5_000;
const STOP_GRACE_MS = 2_000;

/** A running test Redis. */
export interface TestRedis {
  readonly host: string;
  readonly port: number;
  /** True while a `redis-server` process for this port is alive (paused counts as alive). */
  readonly running: boolean;
  /** SIGSTOP: the socket stays open but nothing is answered (a hung server). */
  pause(): void;
  /** SIGCONT after {@link pause}. */
  resume(): void;
  /** SIGKILL and wait for the exit: connections drop, the port is closed. */
  kill(): Promise<void>;
  /** Starts a fresh server (empty data) on the same port and waits for PING. */
  restart(): Promise<void>;
  /** Ends the server (idempotent) and removes its directory. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** A port the kernel just handed out on 127.0.0.1 (free at the time of the call). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true when a PING on `port` is answered (PONG, or NOAUTH) within `timeoutMs`. */
function ping(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      // A server started with --requirepass refuses PING before AUTH, which shows it is up too.
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

class RedisProcess implements TestRedis {
  readonly host = HOST;
  private child: ChildProcess | undefined;
  private stderr = '';

  constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly extraArgs: readonly string[],
  ) {}

  get running(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', HOST, '--save', '', '--appendonly', 'no'];
    args.push('--dir', this.dir, '--loglevel', 'warning', '--protected-mode', 'no', ...this.extraArgs);
    this.stderr = '';
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    installExitHook();
    child.once('exit', () => live.delete(child));
    const collect = (chunk: Buffer): void => {
      this.stderr = (this.stderr + chunk.toString()).slice(-2000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!this.running) break;
      if (await ping(this.port, 200)) return;
      const failed = await Promise.race([
        spawnError,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 25)),
      ]);
      if (failed !== undefined) throw new Error(`cannot run redis-server: ${failed.message}`);
    }
    await this.stop();
    throw new Error(`redis-server on ${HOST}:${this.port} did not answer PING: ${this.stderr.trim()}`);
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    child.kill('SIGKILL');
    await waitExit(child);
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && this.running) {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await waitExit(child);
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts a `redis-server` on a free loopback port; retries on a port race. Call `stop()` in
 * `after`. `extraArgs` are more configuration (`--requirepass`, `--user`), kept across restarts.
 */
export async function startRedis(extraArgs: readonly string[] = []): Promise<TestRedis> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'wmt-redis-'));
    const server = new RedisProcess(await freeLoopbackPort(), dir, extraArgs);
    try {
      await server.launch();
      return server;
    } catch (err) {
      lastError = err;
      await server.stop();
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
