/**
 * The effectful half of the kube-facing verbs (`install`, `uninstall`, `waypoint`): load the
 * kubeconfig, find where a kind lives through API discovery (so any kind install.yaml gains
 * later works), server-side apply, delete, and poll until a condition holds.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { MeshError } from '../common/errors.ts';
import { isKubeStatus, KubeRest } from '../controller/kube/rest.ts';
import { applyVerdict, groupOf, type ManifestObject } from './manifest.ts';

/** The field manager of every write the CLI makes. */
export const FIELD_MANAGER = 'waymesh';

/** A client for the current kubeconfig context and that context's namespace (`default` when unset). */
export interface KubeContext {
  readonly rest: KubeRest;
  readonly namespace: string;
}

/** Loads `file`, or the default kubeconfig (KUBECONFIG, ~/.kube/config, in-cluster) without it. */
export function kubeContext(file: string | undefined): KubeContext {
  const kc = new KubeConfig();
  if (file === undefined) kc.loadFromDefault();
  else kc.loadFromFile(file);
  const ns = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return { rest: new KubeRest(kc), namespace: ns === undefined || ns === '' ? 'default' : ns };
}

/** A client for the current kubeconfig context, or for `file` when given. */
export function kubeRestFor(file: string | undefined): KubeRest {
  return kubeContext(file).rest;
}

/** Where a kind is served. */
interface ResourceInfo {
  readonly plural: string;
  readonly namespaced: boolean;
}

interface DiscoveryList {
  resources?: { name?: string; kind?: string; namespaced?: boolean }[];
}

/** Resolves `apiVersion` + `kind` to REST paths through discovery, caching each group version. */
export class ResourcePaths {
  readonly #rest: KubeRest;
  readonly #cache = new Map<string, ReadonlyMap<string, ResourceInfo> | undefined>();

  constructor(rest: KubeRest) {
    this.#rest = rest;
  }

  /** Where `kind` of `apiVersion` is served, or undefined when the API server does not serve it. */
  async find(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    let kinds = this.#cache.get(apiVersion);
    // A miss is looked up again: a CRD created a moment ago adds kinds to discovery.
    if (kinds?.has(kind) !== true) kinds = await this.#discover(apiVersion);
    return kinds?.get(kind);
  }

  /** The object path of `o` (or its collection with `name` undefined); throws when the kind is not served. */
  async path(o: Pick<ManifestObject, 'apiVersion' | 'kind' | 'metadata'>, withName = true): Promise<string> {
    const info = await this.find(o.apiVersion, o.kind);
    if (info === undefined)
      throw new MeshError(
        'KUBE_KIND_NOT_SERVED',
        `the API server does not serve ${o.kind} (${o.apiVersion})`,
        {
          hint: 'is its CRD installed?',
        },
      );
    const base = groupOf(o.apiVersion) === '' ? `/api/${o.apiVersion}` : `/apis/${o.apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${encodeURIComponent(o.metadata.namespace ?? 'default')}` : '';
    const tail = withName ? `/${encodeURIComponent(o.metadata.name)}` : '';
    return `${base}${ns}/${info.plural}${tail}`;
  }

  async #discover(apiVersion: string): Promise<ReadonlyMap<string, ResourceInfo> | undefined> {
    const path = groupOf(apiVersion) === '' ? `/api/${apiVersion}` : `/apis/${apiVersion}`;
    const list = (await this.#rest.find(path)) as DiscoveryList | undefined;
    const kinds =
      list === undefined
        ? undefined
        : new Map(
            (list.resources ?? [])
              .filter(
                (r) => typeof r.name === 'string' && !r.name.includes('/') && typeof r.kind === 'string',
              )
              .map((r) => [r.kind ?? '', { plural: r.name ?? '', namespaced: r.namespaced === true }]),
          );
    this.#cache.set(apiVersion, kinds);
    return kinds;
  }
}

/** The resourceVersion of a wire object, if any. */
function resourceVersion(o: unknown): string | undefined {
  const rv = (o as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
  return typeof rv === 'string' ? rv : undefined;
}

/**
 * Server-side applies `o` (field manager `waymesh`, conflicts forced) and says what changed,
 * as kubectl would: `created`, `configured` or `unchanged`.
 */
export async function serverSideApply(
  rest: KubeRest,
  paths: ResourcePaths,
  o: ManifestObject,
): Promise<'created' | 'configured' | 'unchanged'> {
  const path = await paths.path(o);
  const before = resourceVersion(await rest.find(path));
  const query = `?fieldManager=${FIELD_MANAGER}&force=true`;
  const after = await rest.call('PATCH', `${path}${query}`, o, 'application/apply-patch+yaml');
  return applyVerdict(before, resourceVersion(after));
}

/** Deletes `o` when it exists; resolves false when it (or its kind) is already gone. */
export async function deleteObject(
  rest: KubeRest,
  paths: ResourcePaths,
  o: ManifestObject,
): Promise<boolean> {
  const info = await paths.find(o.apiVersion, o.kind);
  if (info === undefined) return false;
  try {
    return await rest.delete(`${await paths.path(o)}?propagationPolicy=Background`);
  } catch (err) {
    // The namespace is already terminating or the CRD went with its instances.
    if (isKubeStatus(err, 404, 409)) return false;
    throw err;
  }
}

/**
 * Polls `probe` every `intervalMs` until it returns a value, and returns it; after `timeoutMs`
 * throws `KUBE_WAIT_TIMEOUT` with `what` and the text `lastState()` gives.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; lastState?: () => Promise<string> },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) {
      const state = opts.lastState === undefined ? '' : await opts.lastState();
      throw new MeshError(
        'KUBE_WAIT_TIMEOUT',
        `timed out after ${Math.round(opts.timeoutMs / 1000)}s waiting for ${what}${state === '' ? '' : `\n${state}`}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
  }
}

/** A status condition as the verbs read and print it. */
export interface Condition {
  readonly type?: string;
  readonly status?: string;
  readonly reason?: string;
  readonly message?: string;
}

/** The condition `type` of a wire object's `status.conditions`, if present. */
export function conditionOf(o: unknown, type: string): Condition | undefined {
  const conds = (o as { status?: { conditions?: Condition[] } } | undefined)?.status?.conditions;
  return Array.isArray(conds) ? conds.find((c) => c.type === type) : undefined;
}
