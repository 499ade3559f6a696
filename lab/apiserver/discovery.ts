/**
 * Legacy discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`) built
 * from the registry, and `/version`. Clients asking for aggregated discovery get the legacy
 * format with a plain `application/json` content type, which kubectl accepts as a fallback.
 */
import { BUILTIN_EXTRA_SUBRESOURCES } from './builtin-kinds.ts';
import { hasStatus, resourceKey, type Registry } from './registry.ts';
import { ApiError, type JsonObject } from './types.ts';

/** The version the lab reports. */
export const LAB_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-waymesh-lab',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'node',
  compiler: 'tsx',
  platform: `${process.platform}/${process.arch}`,
};

/** `/api`. */
export function coreVersions(serverAddress: string): JsonObject {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupDoc(name: string, versions: string[]): JsonObject {
  const gvs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: gvs, preferredVersion: gvs[0] ?? null };
}

/** `/apis`. */
export function groupList(reg: Registry): JsonObject {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: reg
      .groups()
      .filter((g) => g.group !== '')
      .map((g) => groupDoc(g.group, g.versions)),
  };
}

/** `/apis/<group>` (404 when not served). */
export function groupInfo(reg: Registry, group: string): JsonObject {
  const g = reg.groups().find((x) => x.group === group);
  if (g === undefined || group === '')
    throw new ApiError(
      404,
      'NotFound',
      `the server could not find the requested resource (group ${group} is not served by the lab)`,
    );
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(g.group, g.versions) };
}

/** `/api/v1` or `/apis/<group>/<version>` (404 when not served). */
export function resourceList(reg: Registry, group: string, version: string): JsonObject {
  const defs = reg.served(group, version);
  if (defs.length === 0)
    throw new ApiError(
      404,
      'NotFound',
      `the server could not find the requested resource (${group === '' ? version : `${group}/${version}`} is not served by the lab)`,
    );
  const resources: JsonObject[] = [];
  for (const d of defs) {
    const r: JsonObject = {
      name: d.plural,
      singularName: d.singular,
      namespaced: d.namespaced,
      kind: d.kind,
      verbs: d.verbs,
    };
    if (d.shortNames.length > 0) r['shortNames'] = d.shortNames;
    if (d.categories.length > 0) r['categories'] = d.categories;
    resources.push(r);
    if (hasStatus(d, version))
      resources.push({
        name: `${d.plural}/status`,
        singularName: '',
        namespaced: d.namespaced,
        kind: d.kind,
        verbs: ['get', 'patch', 'update'],
      });
    for (const s of BUILTIN_EXTRA_SUBRESOURCES[resourceKey(d)] ?? []) {
      resources.push({
        name: `${d.plural}/${s.name}`,
        singularName: '',
        namespaced: d.namespaced,
        group: s.group,
        version: s.version,
        kind: s.kind,
        verbs: s.verbs,
      });
    }
    if (resourceKey(d) === 'pods')
      resources.push(
        { name: 'pods/binding', singularName: '', namespaced: true, kind: 'Binding', verbs: ['create'] },
        { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
      );
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group === '' ? version : `${group}/${version}`,
    resources,
  };
}
