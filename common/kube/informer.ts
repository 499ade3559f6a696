/**
 * A client-node informer that does not give up. client-node's `ListWatch` relists by itself when
 * its resource version expires (410 Gone) but stops for good on any other error; this wrapper
 * restarts it with exponential backoff, counts both kinds, logs them, and says when the first
 * list has been applied (`synced`).
 */
import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';

import { errorMessage } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';

/** Restart delays after errors: doubling from `initialMs` up to `maxMs`, reset by the next event. */
export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** Default {@link Backoff}. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000 };

/** Options of {@link ResilientInformer}. */
export interface ResilientInformerOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** The watch path, e.g. `/api/v1/services`. */
  readonly path: string;
  /** Lists everything under `path` (the client-node `list…ForAllNamespaces` call). */
  readonly list: () => Promise<KubernetesListObject<T>>;
  /** Called after every add, update, delete and after every (re)list. */
  readonly onChange?: () => void;
  readonly logger?: Logger;
  readonly backoff?: Backoff;
}

/** Counters of one informer, for logs and tests. */
export interface InformerCounts {
  /** Watches that ended with 410 Gone: client-node relists by itself. */
  readonly expired: number;
  /** Other errors (list or watch failures): the informer is restarted after a backoff. */
  readonly failures: number;
  readonly restarts: number;
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  return typeof e.code === 'number' ? e.code : undefined;
}

/** Keeps one resource's list+watch running until {@link stop}. */
export class ResilientInformer<T extends KubernetesObject> {
  readonly #opts: ResilientInformerOptions<T>;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #lw: ListWatch<T>;
  #delayMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #synced = false;
  readonly #waiters: (() => void)[] = [];
  #counts = { expired: 0, failures: 0, restarts: 0 };

  constructor(opts: ResilientInformerOptions<T>) {
    this.#opts = opts;
    this.#log = (opts.logger ?? silentLogger).child({ informer: opts.path });
    this.#backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.#delayMs = this.#backoff.initialMs;
    this.#lw = new ListWatch<T>(opts.path, this.#watch(opts.kubeConfig), opts.list, false);
    for (const verb of ['add', 'update', 'delete'] as const) this.#lw.on(verb, () => this.#event());
    this.#lw.on('error', (err: unknown) => this.#failed(err));
  }

  /** True once the first list has been applied. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Error and restart counters so far. */
  get counts(): InformerCounts {
    return { ...this.#counts };
  }

  /** The objects currently known, optionally of one namespace. */
  list(namespace?: string): readonly T[] {
    return this.#lw.list(namespace);
  }

  /** One known object. */
  get(name: string, namespace?: string): T | undefined {
    return this.#lw.get(name, namespace);
  }

  /**
   * Starts listing and watching; errors are handled inside, never thrown. Resolves once the
   * first list has been applied (callers that must not act on a partial cache await it).
   */
  start(): Promise<void> {
    this.#stopped = false;
    this.#run();
    return this.#synced ? Promise.resolve() : new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Stops watching and cancels any pending restart. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#lw.stop();
  }

  #run(): void {
    // ListWatch reports its own failures through 'error'; a rejection here is the same failure.
    this.#lw.start().catch((err: unknown) => this.#failed(err));
  }

  /** A Watch that tells us when a list has been applied and when a watch expired. */
  #watch(kc: KubeConfig): Watch {
    const watch = new Watch(kc);
    const inner = watch.watch.bind(watch);
    watch.watch = (path, params, callback, done) => {
      // ListWatch only opens a watch after applying its list: the cache is complete now.
      if (!this.#synced) {
        this.#synced = true;
        this.#log.info('synced', { objects: this.#lw.list().length });
        for (const w of this.#waiters.splice(0)) w();
        this.#opts.onChange?.();
      }
      return inner(
        path,
        params,
        (phase: string, obj: { code?: unknown }, raw: unknown) => {
          if (phase === 'ERROR' && obj.code === 410) this.#expired('watch event');
          callback(phase, obj, raw);
        },
        (err: unknown) => {
          if (statusOf(err) === 410) this.#expired('watch response');
          done(err);
        },
      );
    };
    return watch;
  }

  #expired(where: string): void {
    this.#counts.expired++;
    this.#log.info('resource version expired; relisting', { where, expired: this.#counts.expired });
  }

  #event(): void {
    this.#delayMs = this.#backoff.initialMs;
    this.#opts.onChange?.();
  }

  #failed(err: unknown): void {
    this.#counts.failures++;
    if (this.#stopped) return;
    const delayMs = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#backoff.maxMs);
    this.#log.warn('informer failed; restarting', {
      error: errorMessage(err),
      status: statusOf(err),
      failures: this.#counts.failures,
      retryInMs: delayMs,
    });
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (this.#stopped) return;
      this.#counts.restarts++;
      this.#run();
    }, delayMs);
  }
}
