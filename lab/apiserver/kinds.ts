/**
 * Kind-specific admission run before a write is committed: Service ClusterIPs, Pod and
 * Namespace defaults, CRD validation (crd-validation.ts) and status, and schema handling of
 * custom resources through the optional hooks (validate, applyDefaults, prune).
 */
import { isDeepStrictEqual } from 'node:util';
import type { ServerContext } from './context.ts';
import { crdVersionErrors } from './crd-validation.ts';
import { crdToDef, hasStatus, resourceKey } from './registry.ts';
import { invalid, invalidCauses } from './rules.ts';
import { ApiError, type Json, type JsonObject, type KubeObject, type ResourceDef } from './types.ts';

/** How strictly unknown fields are handled (`fieldValidation` query parameter). */
export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Per-request admission options. */
export interface AdmitOptions {
  dryRun: boolean;
  fieldValidation: FieldValidation;
  /** Warnings returned to the client in `Warning` headers. */
  warnings: string[];
  /** Resources reserved during admission, released if the write does not commit. */
  rollback: (() => void)[];
}

function obj(v: Json | undefined): JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

function isCore(def: ResourceDef, plural: string): boolean {
  return def.builtin && resourceKey(def) === plural;
}

/** Paths present in `before` but missing in `after` (fields a prune removed). */
export function removedPaths(before: Json, after: Json, prefix = ''): string[] {
  if (before === null || typeof before !== 'object') return [];
  if (Array.isArray(before)) {
    if (!Array.isArray(after)) return [];
    return before.flatMap((v, i) => removedPaths(v, after[i] ?? null, `${prefix}[${i}]`));
  }
  const a = obj(after);
  const out: string[] = [];
  for (const [k, v] of Object.entries(before)) {
    const p = prefix === '' ? k : `${prefix}.${k}`;
    if (!Object.hasOwn(a, k)) out.push(p);
    else out.push(...removedPaths(v, a[k] ?? null, p));
  }
  return out;
}

function admitService(
  ctx: ServerContext,
  def: ResourceDef,
  svc: KubeObject,
  live: KubeObject | undefined,
  o: AdmitOptions,
): void {
  const spec = obj(svc['spec'] as Json);
  svc['spec'] = spec;
  const name = svc.metadata.name ?? '';
  const type = typeof spec['type'] === 'string' ? spec['type'] : 'ClusterIP';
  spec['type'] = type;
  if (spec['sessionAffinity'] === undefined) spec['sessionAffinity'] = 'None';
  if (Array.isArray(spec['ports'])) {
    spec['ports'] = spec['ports'].map((p) => {
      const port = { ...obj(p) };
      if (port['protocol'] === undefined) port['protocol'] = 'TCP';
      if (port['targetPort'] === undefined && port['port'] !== undefined) port['targetPort'] = port['port'];
      return port;
    });
  }
  const requested = typeof spec['clusterIP'] === 'string' ? spec['clusterIP'] : '';
  if (live !== undefined) {
    const old = obj(live['spec'] as Json)['clusterIP'];
    const oldIp = typeof old === 'string' ? old : '';
    if (requested === '' && oldIp !== '') spec['clusterIP'] = oldIp;
    else if (requested !== oldIp)
      throw invalid(def, name, 'spec.clusterIP', `Invalid value: "${requested}": field is immutable`);
    spec['clusterIPs'] = obj(live['spec'] as Json)['clusterIPs'] ?? null;
    if (spec['clusterIPs'] === null) delete spec['clusterIPs'];
    return;
  }
  if (type === 'ExternalName') return;
  if (requested === 'None') {
    spec['clusterIPs'] = ['None'];
  } else if (requested !== '') {
    if (!ctx.ips.contains(requested)) {
      throw invalid(
        def,
        name,
        'spec.clusterIPs',
        `Invalid value: ["${requested}"]: failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range`,
      );
    }
    if (!ctx.ips.reserve(requested)) {
      throw invalid(
        def,
        name,
        'spec.clusterIPs',
        `Invalid value: ["${requested}"]: failed to allocate IP ${requested}: provided IP is already allocated`,
      );
    }
    o.rollback.push(() => ctx.ips.release(requested));
    spec['clusterIPs'] = [requested];
  } else {
    const ip = ctx.ips.allocate();
    if (ip === undefined)
      throw new ApiError(500, 'InternalError', `failed to allocate a serviceIP: range is full`);
    o.rollback.push(() => ctx.ips.release(ip));
    spec['clusterIP'] = ip;
    spec['clusterIPs'] = [ip];
  }
  spec['ipFamilies'] = ['IPv4'];
  spec['ipFamilyPolicy'] = 'SingleStack';
  if (spec['internalTrafficPolicy'] === undefined) spec['internalTrafficPolicy'] = 'Cluster';
}

function admitPodCreate(pod: KubeObject): void {
  const spec = obj(pod['spec'] as Json);
  pod['spec'] = spec;
  spec['serviceAccountName'] ??= 'default';
  spec['terminationGracePeriodSeconds'] ??= 30;
  spec['restartPolicy'] ??= 'Always';
  spec['dnsPolicy'] ??= 'ClusterFirst';
  spec['schedulerName'] ??= 'default-scheduler';
  pod['status'] = { phase: 'Pending' };
}

function crdStatus(crd: KubeObject, now: string): JsonObject {
  const spec = obj(crd['spec'] as Json);
  const versions = Array.isArray(spec['versions']) ? spec['versions'] : [];
  const storage = versions
    .map(obj)
    .filter((v) => v['storage'] === true)
    .map((v) => v['name'] ?? '');
  const cond = (type: string, reason: string, message: string): JsonObject => ({
    type,
    status: 'True',
    lastTransitionTime: now,
    reason,
    message,
  });
  return {
    conditions: [
      cond('NamesAccepted', 'NoConflicts', 'no conflicts found'),
      cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
    ],
    acceptedNames: spec['names'] ?? {},
    storedVersions: storage,
  };
}

function admitCrd(ctx: ServerContext, def: ResourceDef, crd: KubeObject, live: KubeObject | undefined): void {
  const d = crdToDef(crd);
  const causes = crdVersionErrors(crd);
  if (causes.length > 0) throw invalidCauses(def, crd.metadata.name ?? '', causes);
  const existing = ctx.registry.byKey(resourceKey(d));
  if (existing?.builtin === true) {
    throw new ApiError(
      422,
      'Invalid',
      `CustomResourceDefinition "${crd.metadata.name}" would shadow the built-in resource ${resourceKey(d)}`,
    );
  }
  if (live !== undefined) {
    const old = crdToDef(live);
    if (old.namespaced !== d.namespaced) {
      throw new ApiError(
        422,
        'Invalid',
        `CustomResourceDefinition.apiextensions.k8s.io "${crd.metadata.name}" is invalid: spec.scope: Invalid value: field is immutable`,
      );
    }
  }
  crd['status'] = crdStatus(crd, ctx.timestamp());
}

function admitCustom(
  ctx: ServerContext,
  def: ResourceDef,
  version: string,
  cr: KubeObject,
  o: AdmitOptions,
): KubeObject {
  const schema = def.versions.find((v) => v.name === version)?.schema;
  if (schema === undefined) return cr;
  let out = cr;
  const hooks = ctx.hooks;
  if (hooks.prune === undefined) {
    if (o.fieldValidation !== 'Ignore')
      o.warnings.push(
        'unknown-field detection is not available in this lab build (no prune hook); unknown fields are kept',
      );
  } else {
    const pruned = hooks.prune(out as unknown as Json, schema) as unknown as KubeObject;
    const gone = removedPaths(out as unknown as Json, pruned as unknown as Json);
    if (gone.length > 0 && o.fieldValidation === 'Strict') {
      throw new ApiError(
        400,
        'BadRequest',
        `strict decoding error: ${gone.map((p) => `unknown field "${p}"`).join(', ')}`,
      );
    }
    if (o.fieldValidation === 'Warn') for (const p of gone) o.warnings.push(`unknown field "${p}"`);
    out = pruned;
  }
  if (hooks.applyDefaults !== undefined)
    out = hooks.applyDefaults(out as unknown as Json, schema) as unknown as KubeObject;
  if (hooks.validate === undefined) {
    o.warnings.push(
      'schema validation is not available in this lab build (no validate hook); the object was stored unvalidated',
    );
  } else {
    const errs = hooks.validate(out, schema);
    if (errs.length > 0) {
      const causes = errs.map((e) => ({ field: e.path, reason: e.type, message: e.message }));
      throw invalidCauses(def, out.metadata.name ?? '', causes);
    }
  }
  return out;
}

/** Admission of a new object (after server metadata is filled); returns the object to store. */
export function admitCreate(
  ctx: ServerContext,
  def: ResourceDef,
  version: string,
  o: KubeObject,
  opts: AdmitOptions,
): KubeObject {
  let out = o;
  if (!def.builtin) {
    if (hasStatus(def, version)) delete out['status'];
    return admitCustom(ctx, def, version, out, opts);
  }
  if (isCore(def, 'services')) {
    admitService(ctx, def, out, undefined, opts);
    out['status'] = { loadBalancer: {} };
  } else if (isCore(def, 'pods')) admitPodCreate(out);
  else if (isCore(def, 'namespaces')) {
    out.metadata.labels = {
      ...(out.metadata.labels ?? {}),
      'kubernetes.io/metadata.name': out.metadata.name ?? '',
    };
    out['spec'] = { finalizers: ['kubernetes'] };
    out['status'] = { phase: 'Active' };
  } else if (isCore(def, 'customresourcedefinitions.apiextensions.k8s.io'))
    admitCrd(ctx, def, out, undefined);
  else if (isCore(def, 'deployments.apps') || isCore(def, 'daemonsets.apps')) {
    const spec = obj(out['spec'] as Json);
    if (def.kind === 'Deployment') {
      spec['replicas'] ??= 1;
      spec['progressDeadlineSeconds'] ??= 600;
      spec['strategy'] ??= {
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' },
      };
    } else {
      spec['updateStrategy'] ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } };
    }
    spec['revisionHistoryLimit'] ??= 10;
    out['spec'] = spec;
    out['status'] = {};
  }
  out = structuredClone(out);
  return out;
}

/** Admission of a replacement (after update rules are applied); returns the object to store. */
export function admitUpdate(
  ctx: ServerContext,
  def: ResourceDef,
  version: string,
  live: KubeObject,
  next: KubeObject,
  opts: AdmitOptions & { status: boolean },
): KubeObject {
  if (!def.builtin) return opts.status ? next : admitCustom(ctx, def, version, next, opts);
  if (opts.status) return next;
  if (isCore(def, 'services')) admitService(ctx, def, next, live, opts);
  else if (isCore(def, 'customresourcedefinitions.apiextensions.k8s.io')) admitCrd(ctx, def, next, live);
  else if (isCore(def, 'namespaces')) {
    next.metadata.labels = {
      ...(next.metadata.labels ?? {}),
      'kubernetes.io/metadata.name': next.metadata.name ?? '',
    };
    if (!isDeepStrictEqual(next['spec'], live['spec']))
      next['spec'] = live['spec'] ?? { finalizers: ['kubernetes'] };
  } else if (isCore(def, 'pods')) {
    const oldSpec = obj(live['spec'] as Json);
    const newSpec = obj(next['spec'] as Json);
    if (oldSpec['nodeName'] !== undefined && newSpec['nodeName'] !== oldSpec['nodeName']) {
      throw invalid(
        def,
        live.metadata.name ?? '',
        'spec.nodeName',
        'Forbidden: pod updates may not change fields other than image, activeDeadlineSeconds, tolerations',
        'FieldValueForbidden',
      );
    }
  }
  return next;
}
