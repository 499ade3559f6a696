/**
 * Pure rollout arithmetic shared by the Deployment controller: how many pods of the new
 * template to create and which old or surplus pods to delete, honouring maxSurge and
 * maxUnavailable as the Deployment controller does (without ReplicaSets in between).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { isPodReady } from '../kube/objects.ts';

/** Resolves an int-or-percent value against `total` (percentages round as `roundUp` says). */
export function intOrPercent(
  value: number | string | undefined,
  total: number,
  fallback: string,
  roundUp: boolean,
): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (m === null) return Number.parseInt(v, 10) || 0;
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** The decisions of one rollout step. */
export interface RolloutPlan {
  create: number;
  delete: V1Pod[];
}

/** Plans one step for `replicas` desired pods given current new-template and old pods. */
export function planRollout(input: {
  replicas: number;
  strategy: 'RollingUpdate' | 'Recreate';
  maxSurge: number;
  maxUnavailable: number;
  newPods: readonly V1Pod[];
  oldPods: readonly V1Pod[];
}): RolloutPlan {
  const { replicas, newPods, oldPods } = input;
  const del: V1Pod[] = [];
  if (input.strategy === 'Recreate') {
    if (oldPods.length > 0) return { create: 0, delete: [...oldPods] };
    return newPods.length > replicas
      ? { create: 0, delete: surplus(newPods, newPods.length - replicas) }
      : { create: replicas - newPods.length, delete: [] };
  }
  const maxUnavailable = input.maxSurge === 0 && input.maxUnavailable === 0 ? 1 : input.maxUnavailable;
  if (newPods.length > replicas) del.push(...surplus(newPods, newPods.length - replicas));
  const room = replicas + input.maxSurge - (newPods.length + oldPods.length);
  const wanted = Math.max(0, replicas - newPods.length);
  const create = oldPods.length === 0 ? wanted : Math.min(wanted, Math.max(0, room));
  // Old pods that are not ready carry no traffic: removing them never lowers availability.
  const notReadyOld = oldPods.filter((p) => !isPodReady(p));
  del.push(...notReadyOld);
  const readyOld = oldPods.filter(isPodReady);
  const readyNew = newPods.filter(isPodReady).length;
  const minAvailable = replicas - maxUnavailable;
  const canRemove = Math.max(0, readyNew + readyOld.length - minAvailable);
  del.push(...readyOld.slice(0, canRemove));
  return { create, delete: del };
}

/** The `count` pods to drop first: not ready before ready, newest before oldest. */
function surplus(pods: readonly V1Pod[], count: number): V1Pod[] {
  // client-node types the timestamp as a Date while cached JSON holds the RFC 3339 string;
  // String(Date) would compare weekday names, so both are normalised to ISO text.
  const ts = (p: V1Pod): string => {
    const t: unknown = p.metadata?.creationTimestamp;
    return t instanceof Date ? t.toISOString() : typeof t === 'string' ? t : '';
  };
  return [...pods]
    .sort((a, b) => Number(isPodReady(a)) - Number(isPodReady(b)) || ts(b).localeCompare(ts(a)))
    .slice(0, count);
}
