/**
 * What a pod worker needs from its kubelet: the API, the node, and small interfaces over the
 * lab's network, container runtime and prober (so the worker itself is plain logic).
 */
import type { V1Probe } from '@kubernetes/client-node';
import type { Logger } from '../../common/log.ts';
import type { LabApi } from '../kube/rest.ts';
import type { ImageContext } from './images.ts';

/** The node this kubelet runs. */
export interface NodeInfo {
  readonly name: string;
  readonly index: number;
  readonly netns: string;
  readonly ip: string;
}

/** A started container process. */
export interface ContainerHandle {
  readonly pid: number;
  readonly startedAt: Date;
  readonly exited: Promise<{ exitCode: number | null; signal: string | null; finishedAt: Date }>;
  stop(graceSeconds: number): Promise<void>;
}

/** Everything needed to start a container. */
export interface StartSpec {
  podUid: string;
  podNamespace: string;
  podName: string;
  containerName: string;
  netns: string;
  command: string[];
  env: Record<string, string>;
  workingDir?: string;
  hostname: string;
  serviceAccountDir?: string;
}

/** Pod sandboxes (network namespaces with an address). */
export interface Sandboxes {
  create(pod: {
    uid: string;
    name: string;
    namespace: string;
    hostname: string;
  }): Promise<{ netns: string; ip: string }>;
  destroy(podUid: string): Promise<void>;
}

/** Container processes. */
export interface Containers {
  start(spec: StartSpec): Promise<ContainerHandle>;
}

/** Runs one probe against a pod. */
export type Prober = (
  probe: V1Probe,
  ports: Map<string, number>,
  target: { podIp: string; netns: string },
) => Promise<{ ok: boolean; message: string }>;

/** Dependencies of a pod worker. */
export interface WorkerDeps {
  readonly api: LabApi;
  readonly log: Logger;
  readonly node: NodeInfo;
  readonly sandboxes: Sandboxes;
  readonly containers: Containers;
  readonly probe: Prober;
  /** Where per-pod files (service-account token, CA) live. */
  readonly podDir: (podUid: string) => string;
  readonly caPem: string;
  readonly images: ImageContext;
  /** Containers still running from before a kubelet restart, by `podUid/container`. */
  readonly adopted: Map<string, ContainerHandle>;
}
