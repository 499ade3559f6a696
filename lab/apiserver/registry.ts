/**
 * The set of served resources: built-ins plus what CustomResourceDefinitions define. Lookups by
 * group/version/plural for routing and by name/short name for discovery; CRD objects are
 * converted into ResourceDefs here.
 */
import { BUILTIN_DEFS } from './builtin-kinds.ts';
import {
  ApiError,
  type Json,
  type JsonObject,
  type JsonSchema,
  type KubeObject,
  type PrinterColumn,
  type ResourceDef,
  type ResourceVersionDef,
} from './types.ts';
import { STANDARD_VERBS } from './builtin-kinds.ts';

/** `plural` for core, `plural.group` otherwise: the storage key of a resource. */
export function resourceKey(def: Pick<ResourceDef, 'group' | 'plural'>): string {
  return def.group === '' ? def.plural : `${def.plural}.${def.group}`;
}

/** `v1` for core, `group/version` otherwise. */
export function apiVersionOf(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

/** The served resources; mutated only through {@link Registry.applyCrd} / {@link Registry.removeCrd}. */
export class Registry {
  readonly #defs = new Map<string, ResourceDef>();

  constructor() {
    for (const d of BUILTIN_DEFS) this.#defs.set(resourceKey(d), d);
  }

  /** Every served resource. */
  all(): ResourceDef[] {
    return [...this.#defs.values()];
  }
  /** The resources served at `group`/`version`. */
  served(group: string, version: string): ResourceDef[] {
    return this.all().filter(
      (d) => d.group === group && d.versions.some((v) => v.name === version && v.served),
    );
  }

  /** The def stored under `resourceKey`. */
  byKey(key: string): ResourceDef | undefined {
    return this.#defs.get(key);
  }

  /** The def serving `group/version/plural`, or undefined. */
  lookup(group: string, version: string, plural: string): ResourceDef | undefined {
    const d = this.#defs.get(group === '' ? plural : `${plural}.${group}`);
    if (d === undefined) return undefined;
    return d.versions.some((v) => v.name === version && v.served) ? d : undefined;
  }

  /** The def whose kind is `kind` in `group`. */
  byKind(group: string, kind: string): ResourceDef | undefined {
    return this.all().find((d) => d.group === group && d.kind === kind);
  }

  /** Groups with their served versions (preferred first). */
  groups(): { group: string; versions: string[] }[] {
    const m = new Map<string, string[]>();
    for (const d of this.#defs.values()) {
      const list = m.get(d.group) ?? [];
      for (const v of d.versions) if (v.served && !list.includes(v.name)) list.push(v.name);
      m.set(d.group, list);
    }
    return [...m.entries()].map(([group, versions]) => ({ group, versions: sortVersions(versions) }));
  }

  /** Installs or replaces the resource a CRD defines; validates names (422 on conflicts). */
  applyCrd(crd: KubeObject): ResourceDef {
    const d = crdToDef(crd);
    const key = resourceKey(d);
    const existing = this.#defs.get(key);
    if (existing !== undefined && existing.builtin) {
      throw new ApiError(
        422,
        'Invalid',
        `customresourcedefinition "${crd.metadata.name}" conflicts with built-in resource ${key}`,
      );
    }
    this.#defs.set(key, d);
    return d;
  }

  /** Removes the resource a CRD defined. */
  removeCrd(crd: KubeObject): ResourceDef | undefined {
    const d = crdToDef(crd);
    const key = resourceKey(d);
    const existing = this.#defs.get(key);
    if (existing === undefined || existing.builtin) return undefined;
    this.#defs.delete(key);
    return existing;
  }
}

/** Kubernetes version priority: GA > beta > alpha, higher numbers first. */
export function sortVersions(versions: string[]): string[] {
  const rank = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (m === null) return [3, 0, 0];
    const stage = m[2] === undefined ? 0 : m[2] === 'beta' ? 1 : 2;
    return [stage, -Number(m[1]), -Number(m[3] ?? 0)];
  };
  return [...versions].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2] || a.localeCompare(b);
  });
}

function obj(v: Json | undefined): JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

function str(v: Json | undefined): string {
  return typeof v === 'string' ? v : '';
}

function strings(v: Json | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function invalid(crd: KubeObject, field: string, message: string): ApiError {
  const name = crd.metadata.name ?? '';
  return new ApiError(
    422,
    'Invalid',
    `CustomResourceDefinition.apiextensions.k8s.io "${name}" is invalid: ${field}: ${message}`,
    {
      name,
      group: 'apiextensions.k8s.io',
      kind: 'CustomResourceDefinition',
      causes: [{ reason: 'FieldValueInvalid', message, field }],
    },
  );
}

/** Converts a CRD object into the ResourceDef it defines; 422 on a malformed CRD. */
export function crdToDef(crd: KubeObject): ResourceDef {
  const spec = obj(crd['spec'] as Json);
  const names = obj(spec['names']);
  const group = str(spec['group']);
  const plural = str(names['plural']);
  const kind = str(names['kind']);
  if (group === '') throw invalid(crd, 'spec.group', 'Required value');
  if (plural === '') throw invalid(crd, 'spec.names.plural', 'Required value');
  if (kind === '') throw invalid(crd, 'spec.names.kind', 'Required value');
  if (crd.metadata.name !== `${plural}.${group}`) {
    throw invalid(crd, 'metadata.name', `must be spec.names.plural+"."+spec.group ("${plural}.${group}")`);
  }
  const scope = str(spec['scope']);
  if (scope !== 'Namespaced' && scope !== 'Cluster')
    throw invalid(crd, 'spec.scope', 'Unsupported value: must be "Namespaced" or "Cluster"');
  const rawVersions = Array.isArray(spec['versions']) ? spec['versions'] : [];
  if (rawVersions.length === 0)
    throw invalid(
      crd,
      'spec.versions',
      'Required value: must have exactly one version marked as storage version',
    );
  const versions: ResourceVersionDef[] = rawVersions.map((rv) => {
    const v = obj(rv);
    const sub = obj(v['subresources']);
    const schema = obj(v['schema'])['openAPIV3Schema'];
    const cols = Array.isArray(v['additionalPrinterColumns']) ? v['additionalPrinterColumns'] : [];
    const out: ResourceVersionDef = {
      name: str(v['name']),
      served: v['served'] === true,
      storage: v['storage'] === true,
      subresources: { status: sub['status'] !== undefined, scale: sub['scale'] !== undefined },
      printerColumns: cols.map((c) => obj(c) as unknown as PrinterColumn),
    };
    if (schema !== undefined) out.schema = schema as unknown as JsonSchema;
    if (v['deprecated'] === true) out.deprecated = true;
    return out;
  });
  if (versions.filter((v) => v.storage).length !== 1) {
    throw invalid(
      crd,
      'spec.versions',
      'Invalid value: must have exactly one version marked as storage version',
    );
  }
  return {
    group,
    kind,
    listKind: str(names['listKind']) || `${kind}List`,
    plural,
    singular: str(names['singular']) || kind.toLowerCase(),
    shortNames: strings(names['shortNames']),
    categories: strings(names['categories']),
    namespaced: scope === 'Namespaced',
    versions,
    builtin: false,
    verbs: STANDARD_VERBS,
  };
}

/** True when the def's `version` has a status subresource. */
export function hasStatus(def: ResourceDef, version?: string): boolean {
  const v =
    version === undefined
      ? def.versions.find((x) => x.storage)
      : def.versions.find((x) => x.name === version);
  return v?.subresources?.status === true;
}
