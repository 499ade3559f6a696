/**
 * Small helpers of the agent's reconcile that touch no state: turning a Pod read from the API
 * into the capture manager's {@link CapturePod}, and running work on many pods with a cap.
 */
import type { Workload } from '../../common/ir/index.ts';
import type { CapturePod } from '../capture/listeners.ts';
import type { PodInfo } from '../kube.ts';

/** The pod to capture: uid and annotations from the API, addresses from the API or else the snapshot. */
export function capturePodOf(pod: PodInfo, workload: Workload): CapturePod {
  return {
    uid: pod.uid,
    namespace: pod.namespace,
    name: pod.name,
    annotations: pod.annotations,
    ips: pod.ips.length > 0 ? pod.ips : workload.ips,
  };
}

/** Runs `fn` on every item, at most `limit` at a time; resolves when all settled (never rejects). */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item).catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
