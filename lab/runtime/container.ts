/**
 * Containers as host processes. A container is a process started in its pod's network namespace
 * (or the node's, for hostNetwork pods) with its own UTS and mount namespaces:
 *
 *   ip netns exec <netns> unshare --uts --mount --propagation slave /bin/sh -c WRAPPER …
 *
 * The wrapper bind-mounts the pod's service account directory at the usual path, sets the pod's
 * hostname and `exec`s the command, so the container keeps the wrapper's pid. Every value from a
 * pod spec travels as an argument or environment entry, never as shell text. Output goes straight
 * to a log file (not through this process), and a pid file records pid and start time, so
 * containers outlive a kubelet restart and {@link ContainerRuntime.adopt} finds them again.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MeshError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import { isSameProcess, procStat } from './procfs.ts';

/** Where a pod finds its service account token, CA and namespace. */
export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** PATH for containers whose env does not set one. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ADOPTED_POLL_MS = 250;

// $1 service account dir ('' for none), $2 working dir, $3 hostname, then the command.
const WRAPPER = [
  'set -e',
  'sa=$1 wd=$2 host=$3',
  'shift 3',
  `if [ -n "$sa" ]; then mkdir -p ${SERVICE_ACCOUNT_MOUNT}; mount --bind "$sa" ${SERVICE_ACCOUNT_MOUNT}; fi`,
  `printf '%s' "$host" > /proc/sys/kernel/hostname`,
  'cd "$wd"',
  'exec "$@"',
].join('\n');

/** What to run: one container of a pod. */
export interface ContainerSpec {
  readonly podUid: string;
  readonly podNamespace: string;
  readonly podName: string;
  readonly containerName: string;
  /** The pod's network namespace, or the node's for hostNetwork pods. */
  readonly netns: string;
  /** argv; argv[0] is an absolute path. */
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workingDir?: string;
  readonly hostname: string;
  readonly files?: { readonly serviceAccountDir?: string };
}

/** How a container ended. For adopted containers both `exitCode` and `signal` are null: not our child, so unknown. */
export interface ContainerExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly finishedAt: Date;
}

/** A started (or adopted) container. */
export interface RunningContainer {
  readonly podUid: string;
  readonly podNamespace: string;
  readonly podName: string;
  readonly containerName: string;
  readonly pid: number;
  readonly startedAt: Date;
  readonly logFile: string;
  /** Resolves when the container has exited. */
  readonly exited: Promise<ContainerExit>;
  /** SIGTERM to the container's process group, SIGKILL after `graceSeconds`; resolves once it exited. */
  stop(graceSeconds: number): Promise<void>;
}

/** Contents of a pid file. */
interface PidRecord {
  pid: number;
  startTime: string;
  startedAt: string;
  logFile: string;
  podUid: string;
  podNamespace: string;
  podName: string;
  containerName: string;
}

/** Options for {@link ContainerRuntime}. */
export interface ContainerRuntimeOptions {
  readonly logDir: string;
  readonly stateDir: string;
  readonly logger?: Logger;
}

/** The log file of a container: `<logDir>/<namespace>_<pod>_<container>.log`. */
export function containerLogFile(
  logDir: string,
  podNamespace: string,
  podName: string,
  container: string,
): string {
  return join(logDir, `${podNamespace}_${podName}_${container}.log`);
}

function invalid(message: string, hint?: string): MeshError {
  return new MeshError('CONTAINER_SPEC_INVALID', message, hint === undefined ? {} : { hint });
}

function validate(spec: ContainerSpec): void {
  const label = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  for (const [what, value] of [
    ['pod namespace', spec.podNamespace],
    ['pod name', spec.podName],
    ['container name', spec.containerName],
  ] as const) {
    if (!label.test(value) || value.length > 253)
      throw invalid(`${what} ${JSON.stringify(value)} is invalid`);
  }
  if (!/^[A-Za-z0-9][-A-Za-z0-9_.]*$/.test(spec.netns))
    throw invalid(`netns ${JSON.stringify(spec.netns)} is invalid`);
  if (!label.test(spec.hostname) || spec.hostname.length > 64) {
    throw invalid(
      `hostname ${JSON.stringify(spec.hostname)} is invalid`,
      'a hostname is a DNS name of up to 64 characters',
    );
  }
  const argv0 = spec.command[0];
  if (argv0 === undefined || !isAbsolute(argv0)) {
    throw invalid(
      `container ${spec.containerName}: command must start with an absolute path`,
      'the lab runs host binaries; name them by absolute path',
    );
  }
  if (spec.command.some((arg) => arg.includes('\0'))) throw invalid('command arguments must not contain NUL');
  for (const [key, value] of Object.entries(spec.env)) {
    if (key === '' || key.includes('=') || key.includes('\0') || value.includes('\0')) {
      throw invalid(`environment variable ${JSON.stringify(key)} is invalid`);
    }
  }
  const wd = spec.workingDir ?? '/';
  if (!isAbsolute(wd) || !isDirectory(wd)) {
    throw invalid(
      `working directory ${JSON.stringify(wd)} does not exist`,
      'workingDir must be an existing absolute directory on the host',
    );
  }
  const sa = spec.files?.serviceAccountDir;
  if (sa !== undefined && !isAbsolute(sa))
    throw invalid(`service account dir ${JSON.stringify(sa)} is not absolute`);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Starts containers as host processes and re-attaches to them after a restart. */
export class ContainerRuntime {
  readonly #logDir: string;
  readonly #stateDir: string;
  readonly #log: Logger;

  /** Creates the log and state directories if needed. */
  constructor(opts: ContainerRuntimeOptions) {
    this.#logDir = opts.logDir;
    this.#stateDir = opts.stateDir;
    this.#log = (opts.logger ?? silentLogger).child({ component: 'container-runtime' });
    mkdirSync(this.#logDir, { recursive: true });
    mkdirSync(this.#stateDir, { recursive: true });
  }

  /** Starts `spec`; rejects with CONTAINER_SPEC_INVALID or CONTAINER_START_FAILED. */
  async start(spec: ContainerSpec): Promise<RunningContainer> {
    validate(spec);
    const sa = spec.files?.serviceAccountDir;
    if (sa !== undefined) mkdirSync(sa, { recursive: true });
    const logFile = containerLogFile(this.#logDir, spec.podNamespace, spec.podName, spec.containerName);
    const env: Record<string, string> = { PATH: DEFAULT_PATH, HOSTNAME: spec.hostname, ...spec.env };
    if (sa !== undefined) env['WAYMESH_SA_DIR'] = sa;
    const fd = openSync(logFile, 'a');
    // `slave`: mounts the host makes later (a new pod's /run/netns entry) still reach the container,
    // as with a HostToContainer volume; the container's own bind mounts stay private to it.
    const args = ['netns', 'exec', spec.netns, 'unshare', '--uts', '--mount', '--propagation', 'slave'];
    args.push(
      '/bin/sh',
      '-c',
      WRAPPER,
      'wml-container',
      sa ?? '',
      spec.workingDir ?? '/',
      spec.hostname,
      ...spec.command,
    );
    // detached: the container leads its own session and process group, which stop() signals whole.
    const child = spawn('ip', args, { detached: true, stdio: ['ignore', fd, fd], env, cwd: '/' });
    closeSync(fd);
    try {
      await once(child, 'spawn');
    } catch (err) {
      throw new MeshError('CONTAINER_START_FAILED', `cannot start container ${spec.containerName}`, {
        cause: err,
      });
    }
    const pid = child.pid ?? 0;
    child.unref();
    const startedAt = new Date();
    const record: PidRecord = {
      pid,
      startTime: procStat(pid)?.startTime ?? '',
      startedAt: startedAt.toISOString(),
      logFile,
      podUid: spec.podUid,
      podNamespace: spec.podNamespace,
      podName: spec.podName,
      containerName: spec.containerName,
    };
    const pidFile = this.#pidFile(spec.podUid, spec.containerName);
    writeFileSync(pidFile, JSON.stringify(record) + '\n');
    let done = false;
    const exited = new Promise<ContainerExit>((resolve) => {
      child.once('exit', (exitCode, signal) => {
        done = true;
        rmSync(pidFile, { force: true });
        resolve({ exitCode, signal, finishedAt: new Date() });
      });
    });
    this.#log.info('container started', {
      pod: `${spec.podNamespace}/${spec.podName}`,
      container: spec.containerName,
      pid,
    });
    return this.#handle(record, exited, () => !done);
  }

  /**
   * Containers still running from an earlier runtime on the same state directory (after a kubelet
   * restart). Pid files whose process is gone, or whose pid now names another process, are removed.
   */
  adopt(): Promise<RunningContainer[]> {
    const out: RunningContainer[] = [];
    for (const name of readdirSync(this.#stateDir)
      .filter((n) => n.endsWith('.json'))
      .sort()) {
      const file = join(this.#stateDir, name);
      const record = readRecord(file);
      if (record === undefined || !isSameProcess(record.pid, record.startTime)) {
        rmSync(file, { force: true });
        continue;
      }
      const alive = (): boolean => isSameProcess(record.pid, record.startTime);
      const exited = new Promise<ContainerExit>((resolve) => {
        const timer = setInterval(() => {
          if (alive()) return;
          clearInterval(timer);
          rmSync(file, { force: true });
          resolve({ exitCode: null, signal: null, finishedAt: new Date() });
        }, ADOPTED_POLL_MS);
        timer.unref();
      });
      this.#log.info('container adopted', {
        pod: `${record.podNamespace}/${record.podName}`,
        container: record.containerName,
        pid: record.pid,
      });
      out.push(this.#handle(record, exited, alive));
    }
    return Promise.resolve(out);
  }

  #pidFile(podUid: string, containerName: string): string {
    return join(this.#stateDir, `${podUid.replace(/[^A-Za-z0-9-]/g, '_')}_${containerName}.json`);
  }

  #handle(record: PidRecord, exited: Promise<ContainerExit>, alive: () => boolean): RunningContainer {
    const stop = async (graceSeconds: number): Promise<void> => {
      if (!alive()) {
        await exited;
        return;
      }
      signalGroup(record.pid, 'SIGTERM');
      const graceMs = Math.max(0, graceSeconds) * 1000;
      const grace = new AbortController();
      const inTime = await Promise.race([
        exited.then(() => true),
        sleep(graceMs, false, { signal: grace.signal }).catch(() => false),
      ]);
      // Cancel the grace timer so a stopped container does not keep the process alive.
      grace.abort();
      if (inTime) return;
      this.#log.warn('container ignored SIGTERM, killing', {
        container: record.containerName,
        pid: record.pid,
        graceSeconds,
      });
      // Re-check identity: a pid must never be signalled once it may name another process.
      if (alive()) signalGroup(record.pid, 'SIGKILL');
      await exited;
    };
    return {
      podUid: record.podUid,
      podNamespace: record.podNamespace,
      podName: record.podName,
      containerName: record.containerName,
      pid: record.pid,
      startedAt: new Date(record.startedAt),
      logFile: record.logFile,
      exited,
      stop,
    };
  }
}

function readRecord(file: string): PidRecord | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const r = value as Record<string, unknown>;
    const strings = [
      'startTime',
      'startedAt',
      'logFile',
      'podUid',
      'podNamespace',
      'podName',
      'containerName',
    ];
    if (typeof r['pid'] !== 'number' || !strings.every((k) => typeof r[k] === 'string')) return undefined;
    return value as PidRecord;
  } catch {
    return undefined;
  }
}
