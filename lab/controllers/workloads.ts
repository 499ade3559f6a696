/**
 * Deployment and DaemonSet controllers. Deployments own their pods directly (the lab has no
 * ReplicaSets; pods carry `pod-template-hash` as they would), DaemonSets run one pod per
 * eligible node with `controller-revision-hash`; both roll out template changes and write status.
 */
import type {
  V1DaemonSet,
  V1Deployment,
  V1Node,
  V1Pod,
  V1PodTemplateSpec,
  KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from '../../common/log.ts';
import { recordEvent } from '../kube/events.ts';
import {
  controllerRef,
  corePath,
  groupPath,
  isPodGone,
  isPodReady,
  ownedBy,
  randomSuffix,
  shortHash,
} from '../kube/objects.ts';
import type { LabApi } from '../kube/rest.ts';
import type { PodExpectations } from './expectations.ts';
import { intOrPercent, planRollout } from './rollout.ts';

/** What the workload controllers read. */
export interface WorkloadView {
  /** Pods as the cache shows them, adjusted by this controller's in-flight writes. */
  pods(): readonly V1Pod[];
  /** Records writes so the next pass counts them before the cache does. */
  expect: PodExpectations;
  nodes(): readonly V1Node[];
  deployments(): readonly V1Deployment[];
  daemonSets(): readonly V1DaemonSet[];
}

function podFromTemplate(
  owner: KubernetesObject,
  template: V1PodTemplateSpec,
  name: string,
  labels: Record<string, string>,
  nodeName?: string,
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: owner.metadata?.namespace,
      labels: { ...(template.metadata?.labels ?? {}), ...labels },
      annotations: template.metadata?.annotations,
      ownerReferences: [controllerRef(owner)],
    },
    spec: { ...(template.spec ?? { containers: [] }), ...(nodeName === undefined ? {} : { nodeName }) },
  };
}

async function deletePods(
  api: LabApi,
  log: Logger,
  view: WorkloadView,
  owner: KubernetesObject,
  pods: readonly V1Pod[],
  component: string,
): Promise<void> {
  for (const p of pods) {
    await api.delete(corePath('pods', p.metadata?.namespace ?? '', p.metadata?.name ?? ''));
    view.expect.deleted(p);
    await recordEvent(
      api,
      log,
      owner,
      'Normal',
      'SuccessfulDelete',
      `Deleted pod: ${p.metadata?.name ?? ''}`,
      component,
    );
  }
}

async function createPod(
  api: LabApi,
  log: Logger,
  view: WorkloadView,
  owner: KubernetesObject,
  pod: V1Pod,
  component: string,
): Promise<void> {
  const created = await api.request<V1Pod>('POST', corePath('pods', pod.metadata?.namespace ?? ''), pod);
  view.expect.created(created);
  await recordEvent(
    api,
    log,
    owner,
    'Normal',
    'SuccessfulCreate',
    `Created pod: ${pod.metadata?.name ?? ''}`,
    component,
  );
}

/** One pass of the Deployment controller over every Deployment. */
export async function deploymentPass(api: LabApi, view: WorkloadView, log: Logger): Promise<void> {
  for (const d of view.deployments()) {
    if (d.metadata?.deletionTimestamp !== undefined) continue;
    const ns = d.metadata?.namespace ?? 'default';
    const name = d.metadata?.name ?? '';
    const hash = shortHash(d.spec?.template, 10);
    const owned = view.pods().filter((p) => ownedBy(p, d.metadata?.uid) && !isPodGone(p));
    const newPods = owned.filter((p) => p.metadata?.labels?.['pod-template-hash'] === hash);
    const oldPods = owned.filter((p) => p.metadata?.labels?.['pod-template-hash'] !== hash);
    const replicas = d.spec?.replicas ?? 1;
    const ru = d.spec?.strategy?.rollingUpdate;
    const plan = planRollout({
      replicas,
      strategy: d.spec?.strategy?.type === 'Recreate' ? 'Recreate' : 'RollingUpdate',
      maxSurge: intOrPercent(ru?.maxSurge, replicas, '25%', true),
      maxUnavailable: intOrPercent(ru?.maxUnavailable, replicas, '25%', false),
      newPods,
      oldPods,
    });
    for (let i = 0; i < plan.create; i++) {
      const pod = podFromTemplate(d, d.spec?.template ?? {}, `${name}-${hash}-${randomSuffix()}`, {
        'pod-template-hash': hash,
      });
      await createPod(api, log, view, d, pod, 'deployment-controller');
    }
    await deletePods(api, log, view, d, plan.delete, 'deployment-controller');
    const ready = owned.filter(isPodReady).length;
    const maxUnavailable = intOrPercent(ru?.maxUnavailable, replicas, '25%', false);
    const status = {
      observedGeneration: d.metadata?.generation,
      replicas: owned.length,
      updatedReplicas: newPods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      unavailableReplicas: Math.max(0, replicas - ready),
      conditions: [
        {
          type: 'Available',
          status: ready >= replicas - maxUnavailable ? 'True' : 'False',
          reason:
            ready >= replicas - maxUnavailable ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
          message: `Deployment has ${ready} of ${replicas} replicas available.`,
        },
        {
          type: 'Progressing',
          status: 'True',
          reason:
            newPods.length === replicas && oldPods.length === 0
              ? 'NewReplicaSetAvailable'
              : 'ReplicaSetUpdated',
          message: `Pod template ${hash}: ${newPods.length} of ${replicas} updated.`,
        },
      ],
    };
    if (JSON.stringify(stripTimes(d.status)) !== JSON.stringify(status)) {
      await api.patch(groupPath('apps/v1', 'deployments', ns, name, 'status'), { status });
    }
  }
}

/** Status as written above, without server-added fields, for change detection. */
function stripTimes(status: unknown): unknown {
  return JSON.parse(
    JSON.stringify(status ?? {}, (k, v: unknown) =>
      k === 'lastTransitionTime' || k === 'lastUpdateTime' ? undefined : v,
    ),
  );
}

function nodeEligible(ds: V1DaemonSet, node: V1Node): boolean {
  const sel = ds.spec?.template.spec?.nodeSelector ?? {};
  return Object.entries(sel).every(([k, v]) => node.metadata?.labels?.[k] === v);
}

/** One pass of the DaemonSet controller over every DaemonSet. */
export async function daemonSetPass(api: LabApi, view: WorkloadView, log: Logger): Promise<void> {
  for (const ds of view.daemonSets()) {
    if (ds.metadata?.deletionTimestamp !== undefined) continue;
    const ns = ds.metadata?.namespace ?? 'default';
    const name = ds.metadata?.name ?? '';
    const hash = shortHash(ds.spec?.template, 10);
    const owned = view.pods().filter((p) => ownedBy(p, ds.metadata?.uid) && !isPodGone(p));
    const eligible = view.nodes().filter((n) => nodeEligible(ds, n));
    const eligibleNames = new Set(eligible.map((n) => n.metadata?.name ?? ''));
    // At most one pod replaced at a time (maxUnavailable 1), and only while the rest are ready.
    let replacing = owned.some(
      (p) => p.metadata?.labels?.['controller-revision-hash'] === hash && !isPodReady(p),
    );
    for (const node of eligible) {
      const nodeName = node.metadata?.name ?? '';
      const mine = owned.filter((p) => p.spec?.nodeName === nodeName);
      if (mine.length === 0) {
        const labels = { 'controller-revision-hash': hash };
        const pod = podFromTemplate(
          ds,
          ds.spec?.template ?? {},
          `${name}-${randomSuffix()}`,
          labels,
          nodeName,
        );
        await createPod(api, log, view, ds, pod, 'daemonset-controller');
        continue;
      }
      const stale = mine.filter((p) => p.metadata?.labels?.['controller-revision-hash'] !== hash);
      if (stale.length > 0 && !replacing) {
        replacing = true;
        await deletePods(api, log, view, ds, stale, 'daemonset-controller');
      }
      if (mine.length > 1 && stale.length === 0)
        await deletePods(api, log, view, ds, mine.slice(1), 'daemonset-controller');
    }
    const misplaced = owned.filter((p) => !eligibleNames.has(p.spec?.nodeName ?? ''));
    await deletePods(api, log, view, ds, misplaced, 'daemonset-controller');
    const ready = owned.filter((p) => eligibleNames.has(p.spec?.nodeName ?? '') && isPodReady(p));
    const status = {
      observedGeneration: ds.metadata?.generation,
      desiredNumberScheduled: eligible.length,
      currentNumberScheduled: new Set(
        owned.filter((p) => eligibleNames.has(p.spec?.nodeName ?? '')).map((p) => p.spec?.nodeName),
      ).size,
      numberMisscheduled: owned.filter((p) => !eligibleNames.has(p.spec?.nodeName ?? '')).length,
      numberReady: ready.length,
      numberAvailable: ready.length,
      numberUnavailable: Math.max(0, eligible.length - ready.length),
      updatedNumberScheduled: owned.filter((p) => p.metadata?.labels?.['controller-revision-hash'] === hash)
        .length,
    };
    if (JSON.stringify(ds.status ?? {}) !== JSON.stringify(status)) {
      await api.patch(groupPath('apps/v1', 'daemonsets', ns, name, 'status'), { status });
    }
  }
}
