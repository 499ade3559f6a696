/** Recording core/v1 Events, as Kubernetes components do, so `kubectl describe` shows them. */
import type { KubernetesObject } from '@kubernetes/client-node';
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { corePath, randomSuffix } from './objects.ts';
import type { LabApi } from './rest.ts';

/** Writes one Event about `obj`; failures are logged, never thrown (events are best effort). */
export async function recordEvent(
  api: LabApi,
  log: Logger,
  obj: KubernetesObject,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
  component: string,
): Promise<void> {
  const namespace = obj.metadata?.namespace ?? 'default';
  const now = new Date().toISOString();
  const name = `${obj.metadata?.name ?? 'object'}.${Date.now().toString(16)}${randomSuffix(3)}`;
  try {
    await api.request('POST', corePath('events', namespace), {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata?.name,
        namespace: obj.metadata?.namespace,
        uid: obj.metadata?.uid,
        resourceVersion: obj.metadata?.resourceVersion,
      },
      reason,
      message,
      type,
      source: { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      reportingComponent: component,
    });
  } catch (err) {
    log.debug('could not record event', { reason, error: errorMessage(err) });
  }
}
