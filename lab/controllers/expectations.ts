/**
 * Controller expectations: pods a controller created or deleted are counted as such until the
 * informer cache reflects it (or a timeout passes), so a pass that runs before the watch events
 * arrive never creates or deletes twice — the role `ControllerExpectations` plays upstream.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { keyOf } from '../kube/objects.ts';

const TIMEOUT_MS = 30_000;

/** Tracks in-flight pod writes and overlays them on the cache. */
export class PodExpectations {
  readonly #created = new Map<string, { pod: V1Pod; at: number }>();
  readonly #deleted = new Map<string, number>();

  /** Records a pod this controller just created. */
  created(pod: V1Pod): void {
    this.#created.set(keyOf(pod), { pod, at: Date.now() });
  }

  /** Records a pod this controller just deleted. */
  deleted(pod: V1Pod): void {
    this.#deleted.set(keyOf(pod), Date.now());
  }

  /** The cached pods adjusted by the writes the cache has not shown yet. */
  overlay(cached: readonly V1Pod[]): V1Pod[] {
    const now = Date.now();
    const seen = new Map(cached.map((p) => [keyOf(p), p] as const));
    for (const [k, v] of this.#created) if (seen.has(k) || now - v.at > TIMEOUT_MS) this.#created.delete(k);
    for (const [k, at] of this.#deleted) {
      const p = seen.get(k);
      if (p === undefined || p.metadata?.deletionTimestamp !== undefined || now - at > TIMEOUT_MS)
        this.#deleted.delete(k);
    }
    return [
      ...cached.filter((p) => !this.#deleted.has(keyOf(p))),
      ...[...this.#created.values()].map((v) => v.pod),
    ];
  }
}
