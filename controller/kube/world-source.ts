/**
 * The controller's inputs: one resilient informer per watched resource (resources.ts), and a
 * deep-frozen whole-world snapshot of their caches for translate() (DESIGN.md §5). `onChange`
 * fires only after every cache has synced, so nothing is translated from a partial world.
 */
import type { KubeConfig, KubernetesListObject } from '@kubernetes/client-node';
import { errorMessage } from '../../common/errors.ts';
import { ResilientInformer, type Backoff } from '../../common/kube/informer.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import type { World } from '../translate/world.ts';
import { isKubeStatus, KubeRest } from './rest.ts';
import { toList, WATCHED, type WatchedResource, type WireObject, type WorldField } from './resources.ts';
import { byNamespaceName, worldFromLists } from './world-lists.ts';

export { WAYPOINT_GATEWAY_LABEL } from './world-lists.ts';

/** Options of {@link WorldSource}. */
export interface WorldSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly trustDomain: string;
  readonly logger?: Logger;
  /** Called after any cache changed, once every cache has synced (callers debounce). */
  readonly onChange: () => void;
  /** Informer restart delays (tests shorten them). */
  readonly backoff?: Backoff;
}

/** Recursively freezes a plain JSON-like value. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Watches the cluster and hands out frozen World snapshots. */
export class WorldSource {
  readonly #opts: WorldSourceOptions;
  readonly #log: Logger;
  readonly #informers = new Map<WorldField, ResilientInformer<WireObject>>();
  /** Optional resources currently reported missing (their CRD is not installed). */
  readonly #missing = new Set<WorldField>();
  #synced = false;

  constructor(opts: WorldSourceOptions) {
    this.#opts = opts;
    this.#log = (opts.logger ?? silentLogger).child({ component: 'world-source' });
    const rest = new KubeRest(opts.kubeConfig);
    for (const res of WATCHED) {
      this.#informers.set(
        res.field,
        new ResilientInformer<WireObject>({
          kubeConfig: opts.kubeConfig,
          path: res.path,
          list: () => this.#list(rest, res),
          onChange: () => this.#changed(res),
          logger: this.#log,
          ...(opts.backoff === undefined ? {} : { backoff: opts.backoff }),
        }),
      );
    }
  }

  /** True once every informer has applied its first list. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Starts every informer; resolves when all of them have synced. */
  async start(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.start()));
    this.#synced = true;
    this.#log.info('all caches synced', { resources: this.#informers.size, missing: [...this.#missing] });
    this.#opts.onChange();
  }

  /** Stops every informer. */
  async stop(): Promise<void> {
    this.#synced = false;
    await Promise.all([...this.#informers.values()].map((i) => i.stop()));
  }

  /** A deep-frozen copy of the caches, each list sorted by namespace/name. */
  snapshot(): World {
    return deepFreeze(
      worldFromLists(this.#opts.trustDomain, (field) =>
        structuredClone([...(this.#informers.get(field)?.list() ?? [])].sort(byNamespaceName)),
      ),
    );
  }

  async #list(rest: KubeRest, res: WatchedResource): Promise<KubernetesListObject<WireObject>> {
    try {
      const { list, dropped } = toList(res.path, await rest.list(res.path));
      if (dropped > 0) this.#log.warn('dropped list items without metadata', { path: res.path, dropped });
      if (this.#missing.delete(res.field)) this.#log.info('resource is now served', { path: res.path });
      return list;
    } catch (err) {
      if (!res.optional || !isKubeStatus(err, 404)) throw err;
      // Our own CRD is not installed: an empty list lets start() resolve; the watch on the
      // same path then fails and the informer retries with backoff until the CRD appears.
      if (!this.#missing.has(res.field)) {
        this.#missing.add(res.field);
        this.#log.warn('CRD not installed; treating the list as empty and retrying in the background', {
          path: res.path,
          error: errorMessage(err),
          hint: 'kubectl apply -f manifests/crds/',
        });
      }
      return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items: [] };
    }
  }

  #changed(res: WatchedResource): void {
    // Some servers accept a watch before its CRD exists; objects arriving prove it is served now.
    if (this.#missing.has(res.field) && (this.#informers.get(res.field)?.list().length ?? 0) > 0) {
      this.#missing.delete(res.field);
      this.#log.info('resource is now served', { path: res.path });
    }
    if (this.#synced) this.#opts.onChange();
  }
}
