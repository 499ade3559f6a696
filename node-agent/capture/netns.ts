/**
 * Finding a pod's network namespace. In the lab the kubelet annotates each pod with the path of
 * its namespace (`lab.waymesh.io/netns`); in a real cluster the agent (hostPID) looks for a
 * process of the pod under `/proc` by its cgroup, which names the pod uid either as
 * `pod<uid>` (cgroupfs driver) or `pod<uid with underscores>` (systemd driver), and uses
 * `/proc/<pid>/ns/net`. The file system is injected so tests can fake `/proc`.
 */
import { access, readFile, readdir, readlink } from 'node:fs/promises';

import { MeshError } from '../../common/errors.ts';

/** Set by the lab kubelet on every non-hostNetwork pod: `/var/run/netns/<name>`. */
export const LAB_NETNS_ANNOTATION = 'lab.waymesh.io/netns';

/** The pod fields the lookup needs. */
export interface NetnsPod {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The file-system calls of the lookup. */
export interface NetnsFs {
  exists(path: string): Promise<boolean>;
  readdir(path: string): Promise<string[]>;
  readFile(path: string): Promise<string>;
  readlink(path: string): Promise<string>;
}

/** The real file system. */
export const nodeNetnsFs: NetnsFs = {
  exists: (path) =>
    access(path).then(
      () => true,
      () => false,
    ),
  readdir: (path) => readdir(path),
  readFile: (path) => readFile(path, 'utf8'),
  readlink: (path) => readlink(path),
};

/** Options of {@link findPodNetns}. */
export interface FindNetnsOptions {
  readonly fs?: NetnsFs;
  /** Where procfs is mounted; default `/proc` (the agent runs with hostPID). */
  readonly procRoot?: string;
}

/**
 * The path of `pod`'s network namespace. Throws MeshError `NETNS_NOT_FOUND` when neither the
 * lab annotation nor a process of the pod leads to one, and `NETNS_IS_HOST` when the pod shares
 * the agent's own namespace (hostNetwork pods are never captured).
 */
export async function findPodNetns(pod: NetnsPod, options: FindNetnsOptions = {}): Promise<string> {
  const fs = options.fs ?? nodeNetnsFs;
  const proc = options.procRoot ?? '/proc';
  const annotated = pod.annotations?.[LAB_NETNS_ANNOTATION];
  if (annotated !== undefined && annotated !== '' && (await fs.exists(annotated))) return annotated;

  const pid = await findPodPid(fs, proc, pod.uid);
  if (pid === undefined) {
    throw new MeshError(
      'NETNS_NOT_FOUND',
      `no network namespace found for pod ${pod.namespace}/${pod.name} (uid ${pod.uid})`,
      {
        hint:
          annotated === undefined
            ? `no process under ${proc} has the pod uid in its cgroup; the agent needs hostPID, and the pod must be running`
            : `the annotated path ${annotated} does not exist and no process under ${proc} belongs to the pod`,
      },
    );
  }
  const path = `${proc}/${pid}/ns/net`;
  const [podNs, ownNs] = await Promise.all([fs.readlink(path), fs.readlink(`${proc}/self/ns/net`)]);
  if (podNs === ownNs) {
    throw new MeshError(
      'NETNS_IS_HOST',
      `pod ${pod.namespace}/${pod.name} shares the node's network namespace`,
      {
        hint: 'hostNetwork pods cannot be captured; opt them out with waymesh.io/dataplane-mode=none',
      },
    );
  }
  return path;
}

/** The lowest pid whose cgroup names the pod, or undefined. */
async function findPodPid(fs: NetnsFs, proc: string, uid: string): Promise<number | undefined> {
  if (!/^[0-9a-fA-F-]+$/.test(uid)) return undefined;
  const dashed = `pod${uid.toLowerCase()}`;
  const underscored = `pod${uid.toLowerCase().replaceAll('-', '_')}`;
  const pids = (await fs.readdir(proc))
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .sort((a, b) => a - b);
  for (const pid of pids) {
    let cgroup: string;
    try {
      cgroup = await fs.readFile(`${proc}/${pid}/cgroup`);
    } catch {
      continue; // exited while we looked
    }
    if (mentions(cgroup, dashed) || mentions(cgroup, underscored)) return pid;
  }
  return undefined;
}

/** True when `token` occurs in `cgroup` as a whole path element (followed by `/`, `.` or the end). */
function mentions(cgroup: string, token: string): boolean {
  for (let at = cgroup.indexOf(token); at >= 0; at = cgroup.indexOf(token, at + 1)) {
    const before = cgroup[at - 1];
    const after = cgroup[at + token.length];
    const startOk = before === '/' || before === '-';
    const endOk = after === undefined || after === '/' || after === '.' || after === '\n';
    if (startOk && endOk) return true;
  }
  return false;
}
