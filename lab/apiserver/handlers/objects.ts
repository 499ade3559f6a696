/**
 * Create, read, list, replace and patch of stored objects (the verbs shared by all kinds),
 * including the `status` and pod `binding` subresources. HTTP-free: handlers/http.ts adapts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { checkBuiltinTypes } from '../builtin-types.ts';
import type { ServerContext } from '../context.ts';
import { checkDepth, parseJson, parseYaml } from '../decode.ts';
import { admitCreate, admitUpdate, type AdmitOptions } from '../kinds.ts';
import { finalizersOf, objectMetaErrors, type FieldCause } from '../object-meta.ts';
import { hasStatus, resourceKey } from '../registry.ts';
import { mergePatch, jsonPatch } from '../rfc-patch.ts';
import {
  alreadyExists,
  invalidCauses,
  isNoop,
  notFound,
  prepareCreate,
  prepareUpdate,
  unconditionalUpdate,
} from '../rules.ts';
import { matches, type Selector } from '../selectors.ts';
import { ApiError, type Json, type JsonObject, type KubeObject, type ResourceDef } from '../types.ts';
import { apiVersionOf } from '../registry.ts';

/** Where a request points: the def, the version asked for, namespace and name. */
export interface Target {
  def: ResourceDef;
  version: string;
  namespace: string | undefined;
  name: string | undefined;
}

/** Write options common to create/update/patch. */
export interface WriteOptions extends Omit<AdmitOptions, 'rollback'> {
  subresource: string | undefined;
  /**
   * The field manager the write is recorded for (patch/update.ts); undefined records nothing
   * (server-side apply keeps its own entries).
   */
  manager?: string | undefined;
}

/** The patch types the server understands. */
export type PatchKind = 'json' | 'merge' | 'strategic' | 'apply';

/** Maps a Content-Type to a patch kind (415 for anything else). */
export function patchKind(contentType: string | undefined): PatchKind {
  const ct = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (ct === 'application/json-patch+json') return 'json';
  if (ct === 'application/merge-patch+json') return 'merge';
  if (ct === 'application/strategic-merge-patch+json') return 'strategic';
  if (ct === 'application/apply-patch+yaml' || ct === 'application/apply-patch+cbor') return 'apply';
  throw new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
  );
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}

function asObject(body: Json, what: string): KubeObject {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ApiError(400, 'BadRequest', `${what}: the body must be a JSON object`);
  const o = body as unknown as KubeObject;
  if (o.metadata === undefined || o.metadata === null) o.metadata = {};
  if (typeof o.metadata !== 'object' || Array.isArray(o.metadata))
    throw new ApiError(400, 'BadRequest', `${what}: metadata must be an object`);
  return o;
}

/** 400 when a create/update body names another apiVersion or kind than the URL (kube's decoder). */
function checkBodyType(t: Target, input: KubeObject): void {
  const want = apiVersionOf(t.def.group, t.version);
  if (input.apiVersion !== undefined && input.apiVersion !== '' && input.apiVersion !== want) {
    throw new ApiError(
      400,
      'BadRequest',
      `the API version in the data (${String(input.apiVersion)}) does not match the expected API version (${want})`,
    );
  }
  if (input.kind !== undefined && input.kind !== t.def.kind && input.kind !== '') {
    throw new ApiError(
      400,
      'BadRequest',
      `the kind "${String(input.kind)}" of the body does not match the resource ${t.def.plural} (${t.def.kind})`,
    );
  }
}

/** kube's EnsureObjectNamespaceMatchesRequestNamespace: 400 for another namespace than the URL's. */
function checkNamespaceMatches(t: Target, obj: KubeObject): void {
  const ns = obj.metadata.namespace;
  if (t.def.namespaced && ns !== undefined && ns !== '' && ns !== t.namespace) {
    throw new ApiError(
      400,
      'BadRequest',
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  }
}

/** kube's checkName: 400 when the object is not the one the URL names. */
function checkIdentity(t: Target, obj: KubeObject): void {
  const name = obj.metadata.name ?? '';
  if (name !== t.name) {
    throw new ApiError(
      400,
      'BadRequest',
      `the name of the object (${String(name)}) does not match the name on the URL (${t.name ?? ''})`,
    );
  }
  checkNamespaceMatches(t, obj);
}

/** 422 when a patch changed apiVersion or kind (kube's ValidateTypeMeta of the result). */
function checkPatchedType(t: Target, obj: KubeObject): void {
  const causes: FieldCause[] = [];
  const want: [string, unknown, string][] = [
    ['kind', obj.kind, t.def.kind],
    ['apiVersion', obj.apiVersion, apiVersionOf(t.def.group, t.version)],
  ];
  for (const [field, got, expected] of want) {
    if (got !== undefined && got !== '' && got !== expected) {
      const message = `Invalid value: ${JSON.stringify(got)}: must be ${expected}`;
      causes.push({ field, reason: 'FieldValueInvalid', message });
    }
  }
  if (causes.length > 0) throw invalidCauses(t.def, t.name ?? '', causes);
}

/** 422 naming every malformed metadata field of an object about to be stored. */
function checkMeta(def: ResourceDef, obj: KubeObject): void {
  const causes = objectMetaErrors(obj.metadata);
  const name = obj.metadata.name;
  if (causes.length > 0) throw invalidCauses(def, typeof name === 'string' ? name : '', causes);
}

/** The position a continue token of {@link ObjectOps.list} holds (400 when it holds none). */
function decodeContinue(token: string): { ns: string; name: string } {
  let after: unknown;
  try {
    after = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    after = undefined;
  }
  const o = (after ?? {}) as { ns?: unknown; name?: unknown };
  if (typeof o.ns !== 'string' || typeof o.name !== 'string')
    throw new ApiError(
      400,
      'BadRequest',
      'invalid continue token: continue key is not valid: malformed token',
    );
  return { ns: o.ns, name: o.name };
}

/** Verb logic over the shared context. */
export class ObjectOps {
  readonly #ctx: ServerContext;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** Checks that `ns` exists and is not terminating (404 / 403 like upstream). */
  checkNamespace(ns: string, forCreate: boolean): void {
    const nsDef = this.#ctx.registry.lookup('', 'v1', 'namespaces');
    const live = this.#ctx.store.get('namespaces', '', ns);
    if (nsDef === undefined || live === undefined) {
      throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    }
    if (forCreate && live.metadata.deletionTimestamp !== undefined) {
      throw new ApiError(
        403,
        'Forbidden',
        `unable to create new content in namespace ${ns} because it is being terminated`,
        {
          name: ns,
          kind: 'namespaces',
          causes: [
            {
              reason: 'NamespaceTerminating',
              message: `namespace ${ns} is being terminated`,
              field: 'metadata.namespace',
            },
          ],
        },
      );
    }
  }

  /** GET of one object (404 when missing). */
  get(t: Target): KubeObject {
    const o = this.#ctx.store.get(resourceKey(t.def), t.namespace ?? '', t.name ?? '');
    if (o === undefined) throw notFound(t.def, t.name ?? '');
    return this.#ctx.present(t.def, t.version, o);
  }

  /** LIST with selectors and paging. */
  list(
    t: Target,
    sel: Selector,
    limit: number | undefined,
    cont: string | undefined,
  ): { items: KubeObject[]; rv: string; continue?: string; remaining?: number } {
    let items = this.#ctx.store.list(resourceKey(t.def), t.namespace).filter((o) => matches(sel, o));
    if (cont !== undefined && cont !== '') {
      const after = decodeContinue(cont);
      items = items.filter((o) => {
        const ns = o.metadata.namespace ?? '';
        return ns > after.ns || (ns === after.ns && (o.metadata.name ?? '') > after.name);
      });
    }
    const rv = String(this.#ctx.store.resourceVersion);
    const present = (o: KubeObject): KubeObject => this.#ctx.present(t.def, t.version, o);
    if (limit !== undefined && limit > 0 && items.length > limit) {
      const page = items.slice(0, limit);
      const last = page[page.length - 1];
      const token = Buffer.from(
        JSON.stringify({ ns: last?.metadata.namespace ?? '', name: last?.metadata.name ?? '' }),
      ).toString('base64url');
      return { items: page.map(present), rv, continue: token, remaining: items.length - limit };
    }
    return { items: items.map(present), rv };
  }

  /** POST: creates an object (dry-run returns it without storing). */
  create(t: Target, body: Json, o: WriteOptions): KubeObject {
    const input = asObject(body, 'create');
    checkBodyType(t, input);
    if (t.def.namespaced) {
      if (t.namespace === undefined)
        throw new ApiError(
          404,
          'NotFound',
          `the server could not find the requested resource (namespace required for ${t.def.plural})`,
        );
      checkNamespaceMatches(t, input);
      this.checkNamespace(t.namespace, true);
    }
    checkBuiltinTypes(t.def, t.version, input);
    checkMeta(t.def, input);
    const obj = prepareCreate(t.def, apiVersionOf(t.def.group, t.version), t.namespace, input, {
      now: this.#ctx.now(),
      uid: randomUUID(),
      suffix: randomSuffix(),
    });
    if (
      this.#ctx.store.get(resourceKey(t.def), obj.metadata.namespace ?? '', obj.metadata.name ?? '') !==
      undefined
    ) {
      throw alreadyExists(t.def, obj.metadata.name ?? '');
    }
    return this.#admitAndCommit(
      o,
      (rb) => admitCreate(this.#ctx, t.def, t.version, obj, { ...o, rollback: rb }),
      undefined,
      t,
    );
  }

  /** PUT: replaces an object (or its status); stale resourceVersion → 409. */
  update(t: Target, body: Json, o: WriteOptions): KubeObject {
    const input = asObject(body, 'update');
    checkBodyType(t, input);
    checkIdentity(t, input);
    const key = resourceKey(t.def);
    const live = this.#ctx.store.get(key, t.namespace ?? '', t.name ?? '');
    if (live === undefined) {
      if (o.subresource === undefined && CREATE_ON_UPDATE.has(key))
        return this.create(t, { ...input, metadata: { ...input.metadata, name: t.name ?? '' } }, o);
      throw notFound(t.def, t.name ?? '');
    }
    // Custom resources do not allow unconditional updates (CRD strategies, as upstream).
    const rv = input.metadata.resourceVersion;
    if (!t.def.builtin && (rv === undefined || rv === null || rv === ''))
      throw unconditionalUpdate(t.def, t.name ?? '');
    return this.#replace(t, live, input, o);
  }

  /** PATCH: json/merge patches here, strategic and apply via hooks (415 when absent). */
  patch(
    t: Target,
    kind: PatchKind,
    raw: string,
    o: WriteOptions & { fieldManager: string | undefined; force: boolean },
  ): KubeObject {
    const key = resourceKey(t.def);
    const live = this.#ctx.store.get(key, t.namespace ?? '', t.name ?? '');
    if (kind === 'apply') return this.#apply(t, live, raw, o);
    if (live === undefined) throw notFound(t.def, t.name ?? '');
    const patchBody = parseJson(raw, 'error decoding patch');
    const current = this.#ctx.present(t.def, t.version, live) as unknown as Json;
    let patched: Json;
    if (kind === 'json') patched = jsonPatch(current, patchBody);
    else if (kind === 'merge') patched = mergePatch(current, patchBody);
    else {
      const hooks = this.#ctx.hooks;
      if (!t.def.builtin || hooks.strategicMergePatch === undefined) {
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          t.def.builtin
            ? 'strategic merge patch is not available in this lab build; supported patch types: application/json-patch+json, application/merge-patch+json'
            : `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
        );
      }
      patched = hooks.strategicMergePatch(current, patchBody, t.def.kind);
    }
    const next = asObject(patched, 'patch');
    checkDepth(patched, 'the patched object is invalid', 422);
    checkIdentity(t, next);
    checkPatchedType(t, next);
    // A patch that does not mention resourceVersion applies to the live object; one that sets
    // it is a precondition (upstream semantics).
    const patchMeta = (patchBody as JsonObject | null)?.['metadata'];
    const patchSetsRv =
      kind !== 'json' &&
      patchMeta !== null &&
      typeof patchMeta === 'object' &&
      !Array.isArray(patchMeta) &&
      Object.hasOwn(patchMeta, 'resourceVersion');
    if (!patchSetsRv && kind !== 'json') next.metadata.resourceVersion = live.metadata.resourceVersion;
    return this.#replace(t, live, next, o);
  }

  /** POST pods/<name>/binding: assigns the pod to a node (409 when already bound). */
  bind(t: Target, body: Json, o: WriteOptions): JsonObject {
    const binding = asObject(body, 'binding');
    const target = binding['target'] as JsonObject | undefined;
    const node = typeof target?.['name'] === 'string' ? target['name'] : '';
    if (node === '')
      throw new ApiError(422, 'Invalid', `Binding "${t.name ?? ''}" is invalid: target.name: Required value`);
    const live = this.#ctx.store.get('pods', t.namespace ?? '', t.name ?? '');
    if (live === undefined) throw notFound(t.def, t.name ?? '');
    const spec = (live['spec'] ?? {}) as JsonObject;
    if (typeof spec['nodeName'] === 'string' && spec['nodeName'] !== '') {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on pods/binding "${t.name ?? ''}": pod ${t.name ?? ''} is already assigned to node "${spec['nodeName']}"`,
      );
    }
    if (live.metadata.deletionTimestamp !== undefined)
      throw new ApiError(
        409,
        'Conflict',
        `pod ${t.name ?? ''} is being deleted, cannot be assigned to a host`,
      );
    const next = structuredClone(live);
    next['spec'] = { ...spec, nodeName: node };
    const status = { ...((live['status'] ?? {}) as JsonObject) };
    const conds = (Array.isArray(status['conditions']) ? status['conditions'] : []).filter(
      (c) => (c as JsonObject)['type'] !== 'PodScheduled',
    );
    conds.push({
      type: 'PodScheduled',
      status: 'True',
      lastProbeTime: null,
      lastTransitionTime: this.#ctx.timestamp(),
    });
    status['conditions'] = conds;
    next['status'] = status;
    if (!o.dryRun) this.#ctx.commitPut(t.def, next, live);
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
  }

  #apply(
    t: Target,
    live: KubeObject | undefined,
    raw: string,
    o: WriteOptions & { fieldManager: string | undefined; force: boolean },
  ): KubeObject {
    const hooks = this.#ctx.hooks;
    if (hooks.serverSideApply === undefined) {
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        'server-side apply (application/apply-patch+yaml) is not available in this lab build; use client-side kubectl apply or a merge/json patch',
      );
    }
    if (o.fieldManager === undefined || o.fieldManager === '') {
      throw new ApiError(422, 'Invalid', 'PATCH request with apply patch type requires fieldManager');
    }
    const applied = asObject(parseYaml(raw), 'apply');
    const version = apiVersionOf(t.def.group, t.version);
    if (applied.apiVersion !== version) {
      throw new ApiError(
        400,
        'BadRequest',
        `Incorrect version specified in apply patch. Specified patch version: ${String(applied.apiVersion ?? '')}, expected: ${version}`,
      );
    }
    checkBodyType(t, applied);
    if (applied.metadata.name !== undefined) checkIdentity(t, applied);
    else checkNamespaceMatches(t, applied);
    checkBuiltinTypes(t.def, t.version, applied);
    checkMeta(t.def, applied);
    const opts = {
      manager: o.fieldManager,
      force: o.force,
      kind: t.def.kind,
      builtin: t.def.builtin,
      now: this.#ctx.timestamp(),
    };
    if (live === undefined) {
      const created = hooks.serverSideApply(undefined, applied, opts);
      created.metadata.name = t.name ?? '';
      return this.create(t, created as unknown as Json, { ...o, manager: undefined });
    }
    const merged = hooks.serverSideApply(this.#ctx.present(t.def, t.version, live), applied, opts);
    merged.metadata.resourceVersion = live.metadata.resourceVersion;
    return this.#replace(t, live, merged, { ...o, manager: undefined });
  }

  #replace(t: Target, live: KubeObject, input: KubeObject, o: WriteOptions): KubeObject {
    const status = o.subresource === 'status';
    const prepared = prepareUpdate(t.def, live, input, { status, hasStatus: hasStatus(t.def, t.version) });
    checkBuiltinTypes(t.def, t.version, prepared);
    checkMeta(t.def, prepared);
    return this.#admitAndCommit(
      o,
      (rb) => admitUpdate(this.#ctx, t.def, t.version, live, prepared, { ...o, rollback: rb, status }),
      live,
      t,
    );
  }

  /**
   * Records the write's fields for its manager in `next.metadata.managedFields` (patch/update.ts),
   * after admission: the defaults it filled in are the writer's, as kube's decoding defaults are.
   */
  #track(t: Target, live: KubeObject | undefined, next: KubeObject, o: WriteOptions): void {
    const hooks = this.#ctx.hooks;
    if (o.manager === undefined || hooks.trackUpdate === undefined) return;
    next.metadata.managedFields = hooks.trackUpdate(live, next, {
      manager: o.manager,
      kind: t.def.kind,
      builtin: t.def.builtin,
      apiVersion: apiVersionOf(t.def.group, t.version),
      subresource: o.subresource ?? '',
      now: this.#ctx.timestamp(),
    });
  }

  #admitAndCommit(
    o: WriteOptions,
    admit: (rollback: (() => void)[]) => KubeObject,
    live: KubeObject | undefined,
    t: Target,
  ): KubeObject {
    const rollback: (() => void)[] = [];
    try {
      const next = admit(rollback);
      if (live !== undefined && isNoop(live, next)) {
        rollback.forEach((f) => f());
        return this.#ctx.present(t.def, t.version, live);
      }
      // After the no-op check, which ignores managedFields: a write that changes nothing is
      // not tracked either.
      this.#track(t, live, next, o);
      if (o.dryRun) {
        rollback.forEach((f) => f());
        return this.#ctx.present(t.def, t.version, next);
      }
      const stored = this.#ctx.commitPut(t.def, next, live);
      if (
        live !== undefined &&
        live.metadata.deletionTimestamp !== undefined &&
        finalizersOf(live.metadata).length > 0 &&
        finalizersOf(stored.metadata).length === 0 &&
        (stored.metadata.deletionGracePeriodSeconds ?? 0) === 0
      ) {
        // The last finalizer was removed from an object being deleted: it goes now.
        this.#ctx.commitRemove(t.def, stored);
      }
      return this.#ctx.present(t.def, t.version, stored);
    } catch (err) {
      rollback.forEach((f) => f());
      throw err;
    }
  }
}

/** Resources whose PUT creates a missing object (upstream AllowCreateOnUpdate). */
const CREATE_ON_UPDATE = new Set(['endpoints', 'events', 'leases.coordination.k8s.io', 'services']);
