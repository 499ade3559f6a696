/**
 * Per-container bookkeeping of a pod worker and the pod status it implies (pure): phase,
 * conditions and containerStatuses as the kubelet reports them.
 */
import type { V1Container, V1Pod } from '@kubernetes/client-node';

/** The kubelet's view of one container. */
export interface ContainerState {
  readonly spec: V1Container;
  readonly init: boolean;
  pid?: number;
  startedAt?: string;
  waiting?: { reason: string; message: string };
  terminated?: { exitCode: number; signal?: number; reason: string; startedAt?: string; finishedAt: string };
  lastTerminated?: { exitCode: number; reason: string; startedAt?: string; finishedAt: string };
  restartCount: number;
  ready: boolean;
  /** Set when the container will not run again (restart policy says so). */
  final: boolean;
}

function stateOf(c: ContainerState): object {
  if (c.pid !== undefined && c.terminated === undefined) return { running: { startedAt: c.startedAt } };
  if (c.waiting !== undefined) return { waiting: c.waiting };
  if (c.terminated !== undefined) return { terminated: c.terminated };
  return { waiting: { reason: 'ContainerCreating' } };
}

function statusOf(c: ContainerState): object {
  return {
    name: c.spec.name,
    image: c.spec.image ?? '',
    imageID: '',
    ...(c.pid === undefined ? {} : { containerID: `lab://${c.pid}` }),
    ready: c.ready,
    started: c.pid !== undefined && c.terminated === undefined,
    restartCount: c.restartCount,
    state: stateOf(c),
    lastState: c.lastTerminated === undefined ? {} : { terminated: c.lastTerminated },
  };
}

/** The pod status for the containers' states. */
export function podStatus(
  pod: V1Pod,
  containers: readonly ContainerState[],
  net: { podIP?: string; hostIP: string; startTime: string },
  terminating: boolean,
): Record<string, unknown> {
  const init = containers.filter((c) => c.init);
  const app = containers.filter((c) => !c.init);
  const initDone = init.every((c) => c.terminated?.exitCode === 0);
  const allReady = app.length > 0 && app.every((c) => c.ready);
  const anyRunning = app.some((c) => c.pid !== undefined && c.terminated === undefined);
  const allFinal = containers.length > 0 && containers.every((c) => c.final);
  let phase = 'Pending';
  if (allFinal) {
    phase = containers.every((c) => c.terminated?.exitCode === 0) ? 'Succeeded' : 'Failed';
  } else if (anyRunning || app.some((c) => c.restartCount > 0 || c.terminated !== undefined)) {
    phase = 'Running';
  }
  const now = new Date().toISOString();
  const cond = (type: string, ok: boolean, reason?: string): object => ({
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: previousTransition(pod, type, ok) ?? now,
    ...(ok || reason === undefined ? {} : { reason }),
  });
  return {
    phase,
    conditions: [
      cond('PodReadyToStartContainers', net.podIP !== undefined),
      cond('Initialized', initDone, 'ContainersNotInitialized'),
      cond('Ready', allReady && !terminating, 'ContainersNotReady'),
      cond('ContainersReady', allReady, 'ContainersNotReady'),
      cond('PodScheduled', true),
    ],
    hostIP: net.hostIP,
    hostIPs: [{ ip: net.hostIP }],
    ...(net.podIP === undefined ? {} : { podIP: net.podIP, podIPs: [{ ip: net.podIP }] }),
    startTime: net.startTime,
    qosClass: 'BestEffort',
    ...(init.length > 0 ? { initContainerStatuses: init.map(statusOf) } : {}),
    containerStatuses: app.map(statusOf),
  };
}

/** Keeps lastTransitionTime when a condition's status did not change. */
function previousTransition(pod: V1Pod, type: string, ok: boolean): string | undefined {
  const old = (pod.status?.conditions ?? []).find((c) => c.type === type);
  if (old === undefined || old.status !== (ok ? 'True' : 'False')) return undefined;
  const t: unknown = old.lastTransitionTime;
  return t instanceof Date ? t.toISOString() : typeof t === 'string' ? t : undefined;
}
