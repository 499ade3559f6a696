/**
 * What the `waymesh lab` verbs do: bring a lab up (starting its supervisor), take it down
 * (removing every process, namespace, link and file), and look inside it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Node, V1Pod, V1Service, KubernetesListObject } from '@kubernetes/client-node';
import { MeshError } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { readLabKubeconfig } from './kube/lab-kubeconfig.ts';
import { LabApi } from './kube/rest.ts';
import { LabNetwork, listLabNamespaces } from './net/cluster-net.ts';
import { nodeNetns, podNetns } from './net/plan.ts';
import { programArgv } from './programs.ts';
import { containerLogFile } from './runtime/container.ts';
import { isSameProcess, procStat } from './runtime/procfs.ts';
import {
  REGISTRY_DIR,
  checkLabName,
  defaultLabDir,
  labFiles,
  registryFile,
  type LabRecord,
} from './supervisor/paths.ts';

/** True while `pid` runs; a zombie (killed, not yet reaped by its new parent) counts as gone. */
function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** The registry record of a lab, if any. */
export async function readRecord(name: string): Promise<LabRecord | undefined> {
  try {
    return JSON.parse(await readFile(registryFile(name), 'utf8')) as LabRecord;
  } catch {
    return undefined;
  }
}

async function requireRecord(name: string): Promise<LabRecord> {
  const rec = await readRecord(name);
  if (rec === undefined || !alive(rec.supervisorPid)) {
    throw new MeshError('LAB_NOT_RUNNING', `lab "${name}" is not running`, {
      hint: `start it with \`waymesh lab up --name ${name}\``,
    });
  }
  return rec;
}

/** A REST client for a running lab. */
export async function labApi(name: string): Promise<LabApi> {
  const rec = await requireRecord(name);
  return new LabApi(readLabKubeconfig(rec.kubeconfig));
}

async function cleanLeftovers(name: string): Promise<void> {
  const leftovers = await listLabNamespaces(name);
  if (leftovers.length > 0) await new LabNetwork({ lab: name, nodes: 1, logger: silentLogger }).down();
}

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  supervisorPid: number,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (!alive(supervisorPid)) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new MeshError(
        'LAB_START_FAILED',
        `the lab supervisor exited while waiting for ${what}; last log lines:\n${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new MeshError('LAB_START_TIMEOUT', `timed out after ${timeoutMs / 1000} s waiting for ${what}`, {
    hint: `see ${logFile}`,
  });
}

/** `lab up`: starts the lab (or finds it running) and returns its kubeconfig path. */
export async function labUp(opts: {
  name: string;
  nodes: number;
  dir?: string;
}): Promise<{ kubeconfig: string; started: boolean }> {
  checkLabName(opts.name);
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > 20)
    throw new MeshError('CLI_USAGE', '--nodes must be 1 to 20');
  const existing = await readRecord(opts.name);
  if (existing !== undefined && alive(existing.supervisorPid) && existsSync(labFiles(existing.dir).ready)) {
    return { kubeconfig: existing.kubeconfig, started: false };
  }
  if (existing !== undefined && alive(existing.supervisorPid)) {
    throw new MeshError(
      'LAB_STARTING',
      `lab "${opts.name}" is still starting (supervisor pid ${existing.supervisorPid})`,
    );
  }
  await cleanLeftovers(opts.name);
  const dir = opts.dir ?? existing?.dir ?? defaultLabDir(opts.name);
  const files = labFiles(dir);
  await mkdir(files.logs, { recursive: true });
  // A ready file left by a crashed supervisor must not be mistaken for the new one's.
  await rm(files.ready, { force: true });
  const [program = process.execPath, ...programArgs] = programArgv('lab/supervisor/main.ts', [
    '--name',
    opts.name,
    '--dir',
    dir,
    '--nodes',
    String(opts.nodes),
  ]);
  const out = openSync(files.supervisorLog, 'a');
  const child = spawn(program, programArgs, { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  const pid = child.pid ?? 0;
  const record: LabRecord = {
    name: opts.name,
    dir,
    nodes: opts.nodes,
    supervisorPid: pid,
    apiPort: 0,
    kubeconfig: files.kubeconfig,
  };
  await mkdir(REGISTRY_DIR, { recursive: true });
  await writeFile(registryFile(opts.name), JSON.stringify(record, null, 2));
  await waitFor(
    'the API server and controllers',
    60_000,
    () => Promise.resolve(existsSync(files.ready)),
    pid,
    files.supervisorLog,
  );
  const api = new LabApi(readLabKubeconfig(files.kubeconfig));
  await waitFor(
    `${opts.nodes} Ready node(s)`,
    60_000,
    async () => {
      const list = await api.request<KubernetesListObject<V1Node>>('GET', '/api/v1/nodes');
      return (
        list.items.filter((n) =>
          (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
        ).length >= opts.nodes
      );
    },
    pid,
    files.supervisorLog,
  );
  return { kubeconfig: files.kubeconfig, started: true };
}

/** `lab down`: stops everything of the lab and removes its files; returns what it removed. */
export async function labDown(name: string): Promise<string[]> {
  checkLabName(name);
  const removed: string[] = [];
  const rec = await readRecord(name);
  if (rec !== undefined && alive(rec.supervisorPid)) {
    process.kill(rec.supervisorPid, 'SIGTERM');
    const deadline = Date.now() + 20_000;
    while (alive(rec.supervisorPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(rec.supervisorPid)) process.kill(rec.supervisorPid, 'SIGKILL');
    removed.push(`supervisor (pid ${rec.supervisorPid})`);
  }
  if (rec !== undefined) stopContainers(rec.dir);
  const namespaces = await listLabNamespaces(name);
  await new LabNetwork({ lab: name, nodes: Math.max(1, rec?.nodes ?? 1), logger: silentLogger }).down();
  if (namespaces.length > 0) removed.push(`${namespaces.length} network namespace(s)`);
  if (rec !== undefined) {
    await rm(rec.dir, { recursive: true, force: true });
    removed.push(rec.dir);
  }
  await rm(registryFile(name), { force: true });
  return removed;
}

/**
 * Kills every container process the lab's kubelets recorded (pid files checked against the
 * process start time, so a reused pid is never signalled), in case one escaped its namespace.
 */
function stopContainers(dir: string): void {
  const nodesDir = labFiles(dir).nodes;
  if (!existsSync(nodesDir)) return;
  for (const node of readdirSync(nodesDir)) {
    const stateDir = join(nodesDir, node, 'containers');
    if (!existsSync(stateDir)) continue;
    for (const f of readdirSync(stateDir).filter((n) => n.endsWith('.json'))) {
      try {
        const rec = JSON.parse(readFileSync(join(stateDir, f), 'utf8')) as { pid: number; startTime: string };
        if (isSameProcess(rec.pid, rec.startTime)) process.kill(-rec.pid, 'SIGKILL');
      } catch {
        // unreadable or already gone: nothing to stop
      }
    }
  }
}

/** `lab kubeconfig`. */
export async function labKubeconfig(name: string): Promise<string> {
  return (await requireRecord(name)).kubeconfig;
}

/** `lab status` as printable lines. */
export async function labStatus(name: string): Promise<string[]> {
  const api = await labApi(name);
  const nodes = (await api.request<KubernetesListObject<V1Node>>('GET', '/api/v1/nodes')).items;
  const pods = (await api.request<KubernetesListObject<V1Pod>>('GET', '/api/v1/pods')).items;
  const services = (await api.request<KubernetesListObject<V1Service>>('GET', '/api/v1/services')).items;
  const table = (rows: string[][]): string[] => {
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
    return rows.map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  };
  const ready = (n: V1Node): string =>
    (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
      ? 'Ready'
      : 'NotReady';
  return [
    `lab ${name}`,
    '',
    ...table([
      ['NODE', 'STATUS', 'INTERNAL-IP', 'POD-CIDR'],
      ...nodes.map((n) => [
        n.metadata?.name ?? '',
        ready(n),
        n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
        n.spec?.podCIDR ?? '',
      ]),
    ]),
    '',
    ...table([
      ['POD', 'PHASE', 'IP', 'NODE'],
      ...pods.map((p) => [
        `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`,
        p.metadata?.deletionTimestamp !== undefined ? 'Terminating' : (p.status?.phase ?? 'Pending'),
        p.status?.podIP ?? '',
        p.spec?.nodeName ?? '',
      ]),
    ]),
    '',
    ...table([
      ['SERVICE', 'CLUSTER-IP', 'PORTS'],
      ...services.map((s) => [
        `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`,
        s.spec?.clusterIP ?? '',
        (s.spec?.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(','),
      ]),
    ]),
  ];
}

async function findPod(name: string, target: string): Promise<{ pod: V1Pod; rec: LabRecord }> {
  const m = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(target);
  if (m === null) throw new MeshError('CLI_USAGE', `expected NAMESPACE/POD, got ${JSON.stringify(target)}`);
  const rec = await requireRecord(name);
  const api = await labApi(name);
  const pod = await api.get<V1Pod>(`/api/v1/namespaces/${m[1] ?? ''}/pods/${m[2] ?? ''}`);
  if (pod === undefined) throw new MeshError('POD_NOT_FOUND', `pod ${target} not found in lab ${name}`);
  return { pod, rec };
}

/** `lab exec`: runs `argv` in the pod's network namespace (with its DNS settings); returns the exit code. */
export async function labExec(name: string, target: string, argv: readonly string[]): Promise<number> {
  if (argv.length === 0) throw new MeshError('CLI_USAGE', 'nothing to run: give the command after `--`');
  const { pod } = await findPod(name, target);
  if (pod.status?.podIP === undefined)
    throw new MeshError(
      'POD_NOT_RUNNING',
      `pod ${target} has no network yet (phase ${pod.status?.phase ?? 'Pending'})`,
    );
  const index = /node(\d+)$/.exec(pod.spec?.nodeName ?? '')?.[1] ?? '';
  const netns =
    pod.spec?.hostNetwork === true ? nodeNetns(name, Number(index)) : podNetns(name, pod.metadata?.uid ?? '');
  const res = spawnSync('ip', ['netns', 'exec', netns, ...argv], { stdio: 'inherit' });
  if (res.error !== undefined)
    throw new MeshError('EXEC_FAILED', `cannot run ${argv[0] ?? ''} in ${target}: ${res.error.message}`);
  return res.status ?? 1;
}

/** `lab logs`: the output of a pod's container. */
export async function labLogs(name: string, target: string, container?: string): Promise<string> {
  const { pod, rec } = await findPod(name, target);
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  const chosen = container ?? names[0] ?? '';
  if (!names.includes(chosen))
    throw new MeshError(
      'CLI_USAGE',
      `pod ${target} has no container ${chosen} (containers: ${names.join(', ')})`,
    );
  const file = containerLogFile(
    labFiles(rec.dir).podLogs,
    pod.metadata?.namespace ?? '',
    pod.metadata?.name ?? '',
    chosen,
  );
  if (!existsSync(file)) return '';
  return readFile(file, 'utf8');
}
