/**
 * OpenAPI v3 documents, as much as kubectl needs: one document per group-version whose PATCH
 * operations carry `x-kubernetes-group-version-kind` and the `fieldValidation` parameter (so
 * kubectl uses server-side field validation), and schemas per kind (CRD schemas where defined).
 * Strategic merge patch is deliberately not advertised, so kubectl computes its patches from
 * its built-in types or falls back to JSON merge patch for custom resources.
 */
import { createHash } from 'node:crypto';
import type { Registry } from './registry.ts';
import { ApiError, type JsonObject, type ResourceDef } from './types.ts';

function schemaName(def: ResourceDef, version: string): string {
  return `lab.${def.group === '' ? 'core' : def.group}.${version}.${def.kind}`;
}

const QUERY = (name: string): JsonObject => ({
  name,
  in: 'query',
  schema: { type: 'string', uniqueItems: true },
});

/** The OpenAPI v3 document of one group-version. */
export function groupVersionDoc(reg: Registry, group: string, version: string): JsonObject {
  const defs = reg.served(group, version);
  if (defs.length === 0)
    throw new ApiError(
      404,
      'NotFound',
      `no OpenAPI document for ${group === '' ? version : `${group}/${version}`}`,
    );
  const prefix = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  const paths: JsonObject = {};
  const schemas: JsonObject = {};
  for (const d of defs) {
    const gvk = { group, version, kind: d.kind };
    const ref = { $ref: `#/components/schemas/${schemaName(d, version)}` };
    const v = d.versions.find((x) => x.name === version);
    const base: JsonObject = { type: 'object', 'x-kubernetes-group-version-kind': [gvk] };
    const custom = v?.schema as unknown as JsonObject | undefined;
    schemas[schemaName(d, version)] =
      custom === undefined
        ? { ...base, 'x-kubernetes-preserve-unknown-fields': true }
        : { ...custom, ...base };
    const content = (types: string[]): JsonObject =>
      Object.fromEntries(types.map((t) => [t, { schema: ref }]));
    const op = (action: string, body: string[] | undefined): JsonObject => {
      const o: JsonObject = {
        operationId: `${action}${d.kind}`,
        'x-kubernetes-action': action,
        'x-kubernetes-group-version-kind': gvk,
        parameters: [QUERY('dryRun'), QUERY('fieldManager'), QUERY('fieldValidation')],
        responses: { '200': { description: 'OK', content: content(['application/json']) } },
      };
      if (body !== undefined) o['requestBody'] = { content: content(body) };
      return o;
    };
    const item = `${prefix}${d.namespaced ? '/namespaces/{namespace}' : ''}/${d.plural}/{name}`;
    const coll = `${prefix}${d.namespaced ? '/namespaces/{namespace}' : ''}/${d.plural}`;
    if (d.verbs.includes('get')) {
      paths[item] = {
        get: op('get', undefined),
        put: op('put', ['application/json']),
        patch: op('patch', [
          'application/json-patch+json',
          'application/merge-patch+json',
          'application/apply-patch+yaml',
        ]),
        delete: op('delete', undefined),
      };
    }
    paths[coll] = d.verbs.includes('list')
      ? { get: op('list', undefined), post: op('post', ['application/json']) }
      : { post: op('post', ['application/json']) };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes (waymesh lab)', version: 'v1.32.0' },
    paths,
    components: { schemas },
  };
}

/** The `/openapi/v3` index: group-version path → document URL with a content hash. */
export function openapiIndex(reg: Registry): JsonObject {
  const paths: JsonObject = {};
  for (const { group, versions } of reg.groups()) {
    for (const v of versions) {
      const key = group === '' ? `api/${v}` : `apis/${group}/${v}`;
      const hash = createHash('sha512')
        .update(JSON.stringify(groupVersionDoc(reg, group, v)))
        .digest('hex')
        .slice(0, 32)
        .toUpperCase();
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    }
  }
  return { paths };
}
