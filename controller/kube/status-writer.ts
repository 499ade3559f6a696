/**
 * Writes translate()'s statuses to the API server (DESIGN.md §5): merges them into each
 * object's live status (status-merge.ts), patches `/status` only when the result differs, and
 * removes our entries from routes and policies that no longer get a status. The live status is
 * read from the World the statuses were computed from; a write against a stale copy fails with
 * 409 (the patch carries the resourceVersion) and is retried once from a fresh GET.
 */
import type { ObjectStatus } from '../../common/ir/status.ts';
import type { SourceRef } from '../../common/ir/source.ts';
import { errorMessage } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import { NAMES, type CustomObject, type World } from '../translate/world.ts';
import { isKubeStatus, type KubeClient } from './rest.ts';
import { kubeTime, mergedStatus, statusUnchanged } from './status-merge.ts';

/** Options of {@link StatusWriter}. */
export interface StatusWriterOptions {
  readonly client: KubeClient;
  readonly logger?: Logger;
  /** Our `controllerName` in route parents and policy ancestors (default `waymesh.io/mesh-controller`). */
  readonly controllerName?: string;
  /** Clock for `lastTransitionTime` (tests fix it). */
  readonly now?: () => Date;
  /** Patches in flight at once (default 8). */
  readonly concurrency?: number;
}

/** What one {@link StatusWriter.apply} did. */
export interface ApplyResult {
  readonly written: number;
  readonly unchanged: number;
  readonly failed: number;
}

interface KindInfo {
  readonly kind: ObjectStatus['kind'];
  readonly plural: string;
  readonly apiPrefix: string;
  readonly namespaced: boolean;
  readonly worldField:
    | 'gatewayClasses'
    | 'gateways'
    | 'httpRoutes'
    | 'grpcRoutes'
    | 'authorizationPolicies'
    | 'rateLimitPolicies';
}

const GW = '/apis/gateway.networking.k8s.io/v1';
const POLICY = '/apis/policy.waymesh.io/v1alpha1';

/** Where each kind we write status for lives, keyed by `group/Kind`. */
const KINDS: Readonly<Record<string, KindInfo>> = {
  'gateway.networking.k8s.io/HTTPRoute': {
    kind: 'route',
    plural: 'httproutes',
    apiPrefix: GW,
    namespaced: true,
    worldField: 'httpRoutes',
  },
  'gateway.networking.k8s.io/GRPCRoute': {
    kind: 'route',
    plural: 'grpcroutes',
    apiPrefix: GW,
    namespaced: true,
    worldField: 'grpcRoutes',
  },
  'gateway.networking.k8s.io/Gateway': {
    kind: 'gateway',
    plural: 'gateways',
    apiPrefix: GW,
    namespaced: true,
    worldField: 'gateways',
  },
  'gateway.networking.k8s.io/GatewayClass': {
    kind: 'gatewayclass',
    plural: 'gatewayclasses',
    apiPrefix: GW,
    namespaced: false,
    worldField: 'gatewayClasses',
  },
  'policy.waymesh.io/AuthorizationPolicy': {
    kind: 'policy',
    plural: 'authorizationpolicies',
    apiPrefix: POLICY,
    namespaced: true,
    worldField: 'authorizationPolicies',
  },
  'policy.waymesh.io/RateLimitPolicy': {
    kind: 'policy',
    plural: 'ratelimitpolicies',
    apiPrefix: POLICY,
    namespaced: true,
    worldField: 'rateLimitPolicies',
  },
};

/** Kinds whose entries of ours are removed when they get no status: routes and policies. */
const CLEANED_KINDS: ReadonlySet<ObjectStatus['kind']> = new Set(['route', 'policy']);

interface Job {
  readonly source: SourceRef;
  readonly info: KindInfo;
  readonly status: ObjectStatus | undefined;
  readonly live: CustomObject | undefined;
}

type Outcome = 'written' | 'unchanged' | 'failed';

function objectKey(group: string, kind: string, namespace: string, name: string): string {
  return `${group}/${kind}/${namespace}/${name}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Applies computed statuses, touching only this controller's entries and only when they changed. */
export class StatusWriter {
  readonly #client: KubeClient;
  readonly #log: Logger;
  readonly #controllerName: string;
  readonly #now: () => Date;
  readonly #concurrency: number;

  constructor(opts: StatusWriterOptions) {
    this.#client = opts.client;
    this.#log = (opts.logger ?? silentLogger).child({ component: 'status-writer' });
    this.#controllerName = opts.controllerName ?? NAMES.meshControllerName;
    this.#now = opts.now ?? (() => new Date());
    this.#concurrency = Math.max(1, opts.concurrency ?? 8);
  }

  /** Writes `statuses` (computed from `world`) and cleans our entries off objects without one. */
  async apply(statuses: readonly ObjectStatus[], world: World): Promise<ApplyResult> {
    const jobs = this.#jobs(statuses, world);
    const counts: Record<Outcome, number> = { written: 0, unchanged: 0, failed: 0 };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const job = jobs[next++];
        if (job !== undefined) counts[await this.#run(job)]++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, jobs.length) }, worker));
    if (counts.written > 0 || counts.failed > 0) this.#log.info('statuses applied', { ...counts });
    return counts;
  }

  #jobs(statuses: readonly ObjectStatus[], world: World): Job[] {
    const live = new Map<string, CustomObject>();
    for (const [key, info] of Object.entries(KINDS)) {
      const [group = '', kind = ''] = key.split('/');
      for (const o of world[info.worldField])
        live.set(objectKey(group, kind, o.metadata.namespace ?? '', o.metadata.name ?? ''), o);
    }
    const jobs = new Map<string, Job>();
    for (const status of statuses) {
      const s = status.source;
      const info = KINDS[`${s.group}/${s.kind}`];
      if (info === undefined || info.kind !== status.kind) {
        this.#log.error('status for a kind the writer does not know; skipped', {
          source: s,
          kind: status.kind,
        });
        continue;
      }
      const key = objectKey(s.group, s.kind, info.namespaced ? s.namespace : '', s.name);
      jobs.set(key, { source: s, info, status, live: live.get(key) });
    }
    for (const [key, info] of Object.entries(KINDS)) {
      if (!CLEANED_KINDS.has(info.kind)) continue;
      const [group = '', kind = ''] = key.split('/');
      for (const o of world[info.worldField]) {
        const namespace = o.metadata.namespace ?? '';
        const name = o.metadata.name ?? '';
        const k = objectKey(group, kind, namespace, name);
        if (!jobs.has(k))
          jobs.set(k, { source: { group, kind, namespace, name }, info, status: undefined, live: o });
      }
    }
    return [...jobs.values()];
  }

  #path(job: Job): string {
    const { info, source } = job;
    const ns = info.namespaced ? `/namespaces/${encodeURIComponent(source.namespace)}` : '';
    return `${info.apiPrefix}${ns}/${info.plural}/${encodeURIComponent(source.name)}/status`;
  }

  async #run(job: Job): Promise<Outcome> {
    const path = this.#path(job);
    try {
      let live: unknown = job.live ?? (await this.#client.find(path));
      for (let attempt = 0; ; attempt++) {
        if (!isRecord(live)) return 'unchanged'; // the object is gone: nothing to write
        const outcome = await this.#write(job, path, live);
        if (outcome !== 'conflict') return outcome;
        if (attempt > 0) {
          this.#log.warn('status write conflicted twice; will retry on the next change', { path });
          return 'failed';
        }
        live = await this.#client.find(path);
      }
    } catch (err) {
      this.#log.warn('status write failed', { path, error: errorMessage(err) });
      return 'failed';
    }
  }

  async #write(job: Job, path: string, live: Record<string, unknown>): Promise<Outcome | 'conflict'> {
    const next = mergedStatus(
      job.info.kind,
      job.status,
      live['status'],
      this.#controllerName,
      kubeTime(this.#now()),
    );
    if (statusUnchanged(next, live['status'])) return 'unchanged';
    const meta = isRecord(live['metadata']) ? live['metadata'] : {};
    const rv = typeof meta['resourceVersion'] === 'string' ? meta['resourceVersion'] : undefined;
    try {
      await this.#client.mergePatch(path, {
        ...(rv === undefined ? {} : { metadata: { resourceVersion: rv } }),
        status: next,
      });
      return 'written';
    } catch (err) {
      if (isKubeStatus(err, 409)) return 'conflict';
      if (isKubeStatus(err, 404)) return 'unchanged';
      throw err;
    }
  }
}
