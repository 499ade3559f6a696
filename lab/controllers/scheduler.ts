/**
 * The lab's scheduler: binds each unscheduled pod to a Ready, schedulable node that satisfies
 * its `nodeSelector`, preferring the node with the fewest pods (spreads replicas over nodes).
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../../common/log.ts';
import { recordEvent } from '../kube/events.ts';
import { corePath, isPodGone } from '../kube/objects.ts';
import type { LabApi } from '../kube/rest.ts';

/** What the scheduler reads. */
export interface SchedulerView {
  pods(): readonly V1Pod[];
  nodes(): readonly V1Node[];
}

function nodeReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Picks a node for `pod` (pure); undefined with a reason when none fits. */
export function chooseNode(
  pod: V1Pod,
  nodes: readonly V1Node[],
  pods: readonly V1Pod[],
): { node?: string; reason: string } {
  const selector = pod.spec?.nodeSelector ?? {};
  const fits = nodes.filter(
    (n) =>
      nodeReady(n) &&
      n.spec?.unschedulable !== true &&
      Object.entries(selector).every(([k, v]) => n.metadata?.labels?.[k] === v),
  );
  if (fits.length === 0) {
    return {
      reason: `0/${nodes.length} nodes are available: none is Ready and matches nodeSelector ${JSON.stringify(selector)}`,
    };
  }
  const load = (name: string): number =>
    pods.filter((p) => p.spec?.nodeName === name && !isPodGone(p)).length;
  const best = [...fits].sort(
    (a, b) =>
      load(a.metadata?.name ?? '') - load(b.metadata?.name ?? '') ||
      (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
  )[0];
  return { node: best?.metadata?.name, reason: '' };
}

/** One scheduling pass over every pending pod. */
export async function schedulePass(api: LabApi, view: SchedulerView, log: Logger): Promise<void> {
  const pods = view.pods();
  // Bindings made in this pass count toward node load, or a batch of new pods would all land
  // on the node that was least loaded when the pass began.
  const placed: V1Pod[] = [...pods];
  for (const pod of pods) {
    if (pod.spec?.nodeName !== undefined && pod.spec.nodeName !== '') continue;
    if (pod.metadata?.deletionTimestamp !== undefined) continue;
    const ns = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    const choice = chooseNode(pod, view.nodes(), placed);
    if (choice.node === undefined) {
      const already = (pod.status?.conditions ?? []).some(
        (c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable',
      );
      if (!already) {
        await api.patch(corePath('pods', ns, name, 'status'), {
          status: {
            phase: 'Pending',
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                reason: 'Unschedulable',
                message: choice.reason,
                lastTransitionTime: new Date().toISOString(),
              },
            ],
          },
        });
        await recordEvent(api, log, pod, 'Warning', 'FailedScheduling', choice.reason, 'default-scheduler');
      }
      continue;
    }
    await api.request('POST', corePath('pods', ns, name, 'binding'), {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name, namespace: ns },
      target: { apiVersion: 'v1', kind: 'Node', name: choice.node },
    });
    placed.push({ ...pod, spec: { containers: [], ...pod.spec, nodeName: choice.node } });
    log.info('scheduled pod', { pod: `${ns}/${name}`, node: choice.node });
    await recordEvent(
      api,
      log,
      pod,
      'Normal',
      'Scheduled',
      `Successfully assigned ${ns}/${name} to ${choice.node}`,
      'default-scheduler',
    );
  }
}
