/**
 * Where a lab keeps its files: the lab directory (state, PKI, logs; `--dir` or the default
 * under the user's state home) and a registry entry in /run/waymesh/labs/<name>.json that
 * lets every `waymesh lab` verb find a running lab by name.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MeshError } from '../../common/errors.ts';

/** Lab names: DNS-label-like and short, since they prefix namespace and interface names. */
export const LAB_NAME_RE = /^[a-z0-9]([-a-z0-9]{0,14})$/;

/** Throws `CLI_USAGE` for an invalid lab name. */
export function checkLabName(name: string): void {
  if (!LAB_NAME_RE.test(name)) {
    throw new MeshError(
      'CLI_USAGE',
      `invalid lab name ${JSON.stringify(name)}: use 1-15 lowercase letters, digits or "-", starting with a letter or digit`,
    );
  }
}

/** The registry directory (tmpfs: it disappears on reboot, like the lab's namespaces). */
export const REGISTRY_DIR = process.env['WAYMESH_LAB_REGISTRY'] ?? '/run/waymesh/labs';

/** The default lab directory for `name`. */
export function defaultLabDir(name: string): string {
  const base = process.env['XDG_STATE_HOME'] ?? join(homedir(), '.local', 'state');
  return join(base, 'waymesh', 'labs', name);
}

/** Files inside a lab directory. */
export function labFiles(dir: string): {
  kubeconfig: string;
  inClusterKubeconfig: string;
  pki: string;
  data: string;
  logs: string;
  nodes: string;
  pods: string;
  /** Container output, one file per container (lab/runtime `containerLogFile`). */
  podLogs: string;
  socket: string;
  supervisorLog: string;
  ready: string;
} {
  return {
    kubeconfig: join(dir, 'kubeconfig'),
    inClusterKubeconfig: join(dir, 'kubeconfig.incluster'),
    pki: join(dir, 'pki'),
    data: join(dir, 'data'),
    logs: join(dir, 'logs'),
    nodes: join(dir, 'nodes'),
    pods: join(dir, 'pods'),
    podLogs: join(dir, 'logs', 'pods'),
    socket: join(dir, 'apiserver.sock'),
    supervisorLog: join(dir, 'logs', 'supervisor.log'),
    ready: join(dir, 'ready'),
  };
}

/** What the registry records about a lab. */
export interface LabRecord {
  name: string;
  dir: string;
  nodes: number;
  supervisorPid: number;
  apiPort: number;
  kubeconfig: string;
}

/** Registry file of a lab. */
export function registryFile(name: string): string {
  return join(REGISTRY_DIR, `${name}.json`);
}

/** Names used inside the lab. */
export function nodeName(lab: string, index: number): string {
  return `${lab}-node${index}`;
}
