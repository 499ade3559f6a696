/**
 * Runs the programs the demo drives (`kubectl`, the `waymesh` CLI, the sample client through
 * `waymesh lab exec`) with captured output, and remembers the running ones so an interrupted
 * demo can stop them before it takes the lab down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { MeshError } from '../../common/errors.ts';
import { programArgv } from '../../lab/programs.ts';

/** The repository root (scripts/demo/ → ../../). */
export const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** The `waymesh` executable of this checkout. */
export const WAYMESH_BIN = join(REPO_ROOT, 'bin', 'waymesh.js');

/** Output kept per stream; the demo's biggest output (300 client lines) is far below it. */
const MAX_OUTPUT = 8 * 1024 * 1024;

/** What a finished program printed and how it exited. */
export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Options of {@link Runner.run}. */
export interface RunOptions {
  /** Written to the program's stdin. */
  readonly input?: string;
  /** Killed (and reported as failed) after this long; default 60 s. */
  readonly timeoutMs?: number;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  readonly allowFailure?: boolean;
}

/** Starts programs for the demo; `kubectl` always targets the demo lab's kubeconfig. */
export class Runner {
  private readonly running = new Set<ChildProcess>();
  private stopped = false;
  /** Set once the lab is up. */
  kubeconfig = '';

  constructor(private readonly labName: string) {}

  /** `kubectl --kubeconfig <lab> …`. */
  kubectl(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return this.run('kubectl', ['--kubeconfig', this.kubeconfig, ...args], options);
  }

  /** `waymesh lab exec NS/POD --name <lab> -- cmd…`: a host command in a pod's network namespace. */
  labExec(pod: string, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return this.waymesh(['lab', 'exec', pod, '--name', this.labName, '--', ...argv], options);
  }

  /** The sample client (apps/client) run inside `pod`: one JSON line per request on stdout. */
  client(pod: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return this.labExec(pod, programArgv('apps/client/main.ts', args), options);
  }

  /** The `waymesh` CLI of this checkout with `args`. */
  waymesh(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return this.run(process.execPath, [WAYMESH_BIN, ...args], options);
  }

  /** Runs `cmd` to completion, capturing its output; refuses once {@link stop} was called. */
  run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(new MeshError('DEMO_INTERRUPTED', 'the demo was interrupted'));
      const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      this.running.add(child);
      const out = collect(child.stdout);
      const err = collect(child.stderr);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        this.running.delete(child);
        reject(new MeshError('DEMO_EXEC', `cannot run ${cmd}: ${e.message}`, { hint: 'is it installed?' }));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        this.running.delete(child);
        const result = { stdout: out(), stderr: err(), code: code ?? 1 };
        if (result.code === 0 || (options.allowFailure === true && !timedOut)) return resolve(result);
        const shown = [cmd === process.execPath ? 'node' : cmd, ...args.slice(0, 8)].join(' ');
        const why = timedOut ? `timed out after ${timeoutMs / 1000} s` : `exited with ${result.code}`;
        reject(new MeshError('DEMO_EXEC', `${shown} … ${why}${tail(result.stderr)}`));
      });
      child.stdin.end(options.input ?? '');
    });
  }

  /** Kills every program still running and refuses new ones (the demo was interrupted). */
  stop(): void {
    this.stopped = true;
    for (const child of this.running) child.kill('SIGKILL');
  }
}

/** Accumulates a stream up to MAX_OUTPUT characters; returns a reader of what was kept. */
function collect(stream: NodeJS.ReadableStream): () => string {
  const chunks: string[] = [];
  let size = 0;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (size >= MAX_OUTPUT) return;
    chunks.push(chunk);
    size += chunk.length;
  });
  return () => chunks.join('');
}

/** The last lines of a program's stderr, for an error message. */
function tail(stderr: string): string {
  const lines = stderr.trim().split('\n').slice(-6).join('\n    ');
  return lines === '' ? '' : `:\n    ${lines}`;
}
