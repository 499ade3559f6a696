import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { describe, it } from 'mocha';
import { gatewayApiCrds } from '../../../../lab/apiserver/crds/gateway-api.ts';
import type { Json, JsonObject, JsonSchema, KubeObject } from '../../../../lab/apiserver/types.ts';
import {
  applyDefaults,
  asObject,
  asSchema,
  asString,
  flattenSchema,
  structuralProblems,
  validateValue,
} from './structural.ts';

const UPSTREAM_DIR = fileURLToPath(
  new URL('../../../../../shared/gateway-api/v1.2.1/standard/', import.meta.url),
);

/** Upstream's v1.2.1 standard-channel CRDs, by name (the fidelity reference). */
function loadUpstream(): Map<string, JsonObject> {
  const crds = new Map<string, JsonObject>();
  for (const file of readdirSync(UPSTREAM_DIR).filter((f) => f.endsWith('.yaml'))) {
    const crd = asObject(yaml.load(readFileSync(UPSTREAM_DIR + file, 'utf8')), file);
    crds.set(asString(asObject(crd['metadata'], file)['name'], 'name'), crd);
  }
  return crds;
}

const ours = gatewayApiCrds();
const upstream = loadUpstream();

function specOf(crd: KubeObject | JsonObject): JsonObject {
  return asObject(crd['spec'], 'spec');
}
function namesOf(crd: KubeObject | JsonObject): JsonObject {
  return asObject(specOf(crd)['names'], 'names');
}
function versionsOf(crd: KubeObject | JsonObject): JsonObject[] {
  const versions = specOf(crd)['versions'];
  assert.ok(Array.isArray(versions), 'spec.versions is a list');
  return versions.map((v, i) => asObject(v, `versions[${i}]`));
}
function schemaOf(version: JsonObject): JsonSchema {
  return asSchema(asObject(version['schema'], 'schema')['openAPIV3Schema'], 'openAPIV3Schema');
}
function crdByKind(kind: string): KubeObject {
  const crd = ours.find((c) => namesOf(c)['kind'] === kind);
  assert.ok(crd !== undefined, `a CRD for ${kind}`);
  return crd;
}
function schemaFor(kind: string, version: string): JsonSchema {
  const v = versionsOf(crdByKind(kind)).find((x) => x['name'] === version);
  assert.ok(v !== undefined, `${kind} serves ${version}`);
  return schemaOf(v);
}
function upstreamSchemaFor(kind: string, version: string): JsonSchema {
  const crd = [...upstream.values()].find((c) => namesOf(c)['kind'] === kind);
  assert.ok(crd !== undefined, `upstream has ${kind}`);
  const v = versionsOf(crd).find((x) => x['name'] === version);
  assert.ok(v !== undefined, `upstream ${kind} serves ${version}`);
  return schemaOf(v);
}
/** All schema nodes of a schema (through properties, items, additionalProperties). */
function nodes(schema: JsonSchema): JsonSchema[] {
  const out: JsonSchema[] = [schema];
  for (const child of Object.values(schema.properties ?? {})) out.push(...nodes(child));
  if (schema.items !== undefined) out.push(...nodes(schema.items));
  if (typeof schema.additionalProperties === 'object') out.push(...nodes(schema.additionalProperties));
  return out;
}
const allVersions = ours.flatMap((crd) =>
  versionsOf(crd).map((v) => ({
    kind: asString(namesOf(crd)['kind'], 'kind'),
    version: asString(v['name'], 'name'),
    schema: schemaOf(v),
  })),
);

describe('lab/apiserver/crds/gateway-api', () => {
  describe('well-formed CRDs', () => {
    it('defines the five standard-channel kinds under upstream names', () => {
      assert.deepEqual(ours.map((c) => c.metadata.name).sort(), [...upstream.keys()].sort());
      assert.deepEqual(
        ours.map((c) => namesOf(c)['kind']),
        ['GatewayClass', 'Gateway', 'HTTPRoute', 'GRPCRoute', 'ReferenceGrant'],
      );
    });

    for (const crd of ours) {
      const names = namesOf(crd);
      it(`${asString(names['kind'], 'kind')}: names, group and exactly one storage version`, () => {
        assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
        assert.equal(crd.kind, 'CustomResourceDefinition');
        assert.equal(crd.metadata.name, `${asString(names['plural'], 'plural')}.gateway.networking.k8s.io`);
        assert.equal(specOf(crd)['group'], 'gateway.networking.k8s.io');
        assert.equal(names['listKind'], `${asString(names['kind'], 'kind')}List`);
        assert.equal(names['singular'], asString(names['kind'], 'kind').toLowerCase());
        const versions = versionsOf(crd);
        assert.equal(versions.filter((v) => v['storage'] === true).length, 1);
        assert.ok(versions.every((v) => v['served'] === true));
        assert.equal(crd.metadata.annotations?.['gateway.networking.k8s.io/bundle-version'], 'v1.2.1');
        assert.equal(crd.metadata.annotations?.['gateway.networking.k8s.io/channel'], 'standard');
      });
    }

    for (const { kind, version, schema } of allVersions) {
      it(`${kind} ${version}: schema is structural, patterns compile, defaults validate`, () => {
        assert.deepEqual(structuralProblems(schema), []);
        assert.equal(schema.type, 'object');
        assert.deepEqual(schema.properties?.['metadata'], { type: 'object' });
        for (const node of nodes(schema)) {
          if (node.pattern !== undefined)
            assert.doesNotThrow(() => new RegExp(node.pattern ?? ''), node.pattern);
          // apiextensions rejects a CRD whose defaults do not validate against their own node.
          if (node.default !== undefined)
            assert.deepEqual(validateValue(node.default, node), [], JSON.stringify(node.default));
        }
      });
    }

    const table: {
      kind: string;
      scope: string;
      versions: string[];
      shortNames?: string[];
      status: boolean;
      columns: string[];
    }[] = [
      {
        kind: 'GatewayClass',
        scope: 'Cluster',
        versions: ['v1*', 'v1beta1'],
        shortNames: ['gc'],
        status: true,
        columns: ['Controller', 'Accepted', 'Age', 'Description:1'],
      },
      {
        kind: 'Gateway',
        scope: 'Namespaced',
        versions: ['v1*', 'v1beta1'],
        shortNames: ['gtw'],
        status: true,
        columns: ['Class', 'Address', 'Programmed', 'Age'],
      },
      {
        kind: 'HTTPRoute',
        scope: 'Namespaced',
        versions: ['v1*', 'v1beta1'],
        status: true,
        columns: ['Hostnames', 'Age'],
      },
      {
        kind: 'GRPCRoute',
        scope: 'Namespaced',
        versions: ['v1*'],
        status: true,
        columns: ['Hostnames', 'Age'],
      },
      {
        kind: 'ReferenceGrant',
        scope: 'Namespaced',
        versions: ['v1beta1*'],
        shortNames: ['refgrant'],
        status: false,
        columns: ['Age'],
      },
    ];
    for (const row of table) {
      it(`${row.kind}: scope, versions (* = storage), short names, category, status, columns`, () => {
        const crd = crdByKind(row.kind);
        assert.equal(specOf(crd)['scope'], row.scope);
        const versions = versionsOf(crd);
        assert.deepEqual(
          versions.map((v) => `${asString(v['name'], 'name')}${v['storage'] === true ? '*' : ''}`),
          row.versions,
        );
        assert.deepEqual(namesOf(crd)['shortNames'], row.shortNames);
        assert.deepEqual(namesOf(crd)['categories'], ['gateway-api']);
        for (const v of versions) {
          assert.deepEqual(v['subresources'], row.status ? { status: {} } : {});
          const columns = v['additionalPrinterColumns'];
          assert.ok(Array.isArray(columns));
          assert.deepEqual(
            columns.map((c) => {
              const col = asObject(c, 'column');
              return col['priority'] === undefined
                ? col['name']
                : `${asString(col['name'], 'name')}:${JSON.stringify(col['priority'])}`;
            }),
            row.columns,
          );
        }
      });
    }

    it('returns fresh objects on every call', () => {
      const first = gatewayApiCrds();
      const root = schemaOf(versionsOf(first[0] ?? assert.fail('no CRD'))[0] ?? assert.fail('no version'));
      root.required?.push('mutated');
      assert.deepEqual(gatewayApiCrds(), ours);
    });
  });

  describe('fidelity to upstream v1.2.1 standard channel', () => {
    for (const [name, theirs] of upstream) {
      it(`${name}: metadata, names, scope, versions, subresources and columns match`, () => {
        const mine = ours.find((c) => c.metadata.name === name);
        assert.ok(mine !== undefined, `lab defines ${name}`);
        const theirMeta = asObject(theirs['metadata'], 'metadata');
        assert.deepEqual(mine.metadata.annotations, theirMeta['annotations']);
        const { versions: _mv, ...mySpec } = specOf(mine);
        const { versions: _tv, ...theirSpec } = specOf(theirs);
        assert.deepEqual(mySpec, theirSpec);
        const strip = (v: JsonObject): JsonObject => {
          const { schema: _s, ...rest } = v;
          return rest;
        };
        assert.deepEqual(versionsOf(mine).map(strip), versionsOf(theirs).map(strip));
      });
    }

    for (const { kind, version, schema } of allVersions) {
      it(`${kind} ${version}: every schema path with its keywords equals upstream's`, () => {
        const mine = flattenSchema(schema);
        const theirs = flattenSchema(upstreamSchemaFor(kind, version));
        const missing = [...theirs.keys()].filter((p) => !mine.has(p));
        const extra = [...mine.keys()].filter((p) => !theirs.has(p));
        assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
        assert.ok(mine.size > 10, 'a non-trivial schema');
        for (const [path, keywords] of theirs)
          assert.deepEqual(mine.get(path), keywords, `${kind} ${version} ${path}`);
      });
    }
  });

  describe('served schema behaviour', () => {
    const route = (spec: Json): JsonObject => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'r', namespace: 'default' },
      spec,
    });
    const http = schemaFor('HTTPRoute', 'v1');
    const httpUpstream = upstreamSchemaFor('HTTPRoute', 'v1');

    const rejected: { name: string; spec: Json; error: string }[] = [
      {
        name: 'an unknown path match type',
        spec: { parentRefs: [{ name: 'gw' }], rules: [{ matches: [{ path: { type: 'Foo', value: '/' } }] }] },
        error: 'spec.rules[0].matches[0].path.type: enum',
      },
      {
        name: 'a backendRef port above 65535',
        spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'echo', port: 70000 }] }] },
        error: 'spec.rules[0].backendRefs[0].port: maximum',
      },
      {
        name: 'a parentRef without name',
        spec: { parentRefs: [{ kind: 'Gateway' }] },
        error: 'spec.parentRefs[0].name: required',
      },
      {
        name: 'more than 16 rules',
        spec: { parentRefs: [{ name: 'gw' }], rules: Array.from({ length: 17 }, () => ({})) },
        error: 'spec.rules: maxItems',
      },
      {
        name: 'a header name with a space',
        spec: { rules: [{ matches: [{ headers: [{ name: 'x y', value: 'v' }] }] }] },
        error: 'spec.rules[0].matches[0].headers[0].name: pattern',
      },
      {
        name: 'a wildcard in the middle of a hostname',
        spec: { hostnames: ['a.*.example.com'] },
        error: 'spec.hostnames[0]: pattern',
      },
      {
        name: 'a backend weight given as a string',
        spec: { rules: [{ backendRefs: [{ name: 'echo', port: 80, weight: '5' }] }] },
        error: 'spec.rules[0].backendRefs[0].weight: type integer',
      },
    ];
    for (const c of rejected) {
      it(`HTTPRoute rejects ${c.name}, as upstream's schema does`, () => {
        const object = applyDefaults(route(c.spec), http);
        assert.deepEqual(validateValue(object, http), [c.error]);
        assert.deepEqual(validateValue(applyDefaults(route(c.spec), httpUpstream), httpUpstream), [c.error]);
      });
    }

    it('HTTPRoute without spec is rejected (spec required)', () => {
      const { spec: _s, ...noSpec } = route({});
      assert.deepEqual(validateValue(noSpec, http), ['spec: required']);
    });

    const defaulted: {
      name: string;
      kind: string;
      version: string;
      input: JsonObject;
      stored: JsonObject;
    }[] = [
      {
        name: 'a minimal HTTPRoute',
        kind: 'HTTPRoute',
        version: 'v1',
        input: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'echo', port: 8080 }] }] },
        stored: {
          parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
          rules: [
            {
              backendRefs: [{ group: '', kind: 'Service', name: 'echo', port: 8080, weight: 1 }],
              matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            },
          ],
        },
      },
      {
        name: 'an HTTPRoute without rules',
        kind: 'HTTPRoute',
        version: 'v1beta1',
        input: { parentRefs: [{ name: 'gw', sectionName: 'http' }] },
        stored: {
          parentRefs: [
            { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw', sectionName: 'http' },
          ],
          rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }],
        },
      },
      {
        name: 'an HTTPRoute header match and redirect',
        kind: 'HTTPRoute',
        version: 'v1',
        input: {
          rules: [
            {
              matches: [{ headers: [{ name: 'x-env', value: 'canary' }], path: { value: '/api' } }],
              filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }],
            },
          ],
        },
        stored: {
          rules: [
            {
              matches: [
                {
                  headers: [{ name: 'x-env', type: 'Exact', value: 'canary' }],
                  path: { type: 'PathPrefix', value: '/api' },
                },
              ],
              filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 302 } }],
            },
          ],
        },
      },
      {
        name: 'a GRPCRoute with a method match',
        kind: 'GRPCRoute',
        version: 'v1',
        input: {
          rules: [
            { matches: [{ method: { service: 'echo.Echo' } }], backendRefs: [{ name: 'echo', port: 9000 }] },
          ],
        },
        stored: {
          rules: [
            {
              matches: [{ method: { service: 'echo.Echo', type: 'Exact' } }],
              backendRefs: [{ group: '', kind: 'Service', name: 'echo', port: 9000, weight: 1 }],
            },
          ],
        },
      },
    ];
    for (const c of defaulted) {
      it(`defaults ${c.name} to what a real cluster stores`, () => {
        const schema = schemaFor(c.kind, c.version);
        const object: JsonObject = {
          apiVersion: `gateway.networking.k8s.io/${c.version}`,
          kind: c.kind,
          metadata: { name: 'x' },
          spec: c.input,
        };
        const stored = applyDefaults(object, schema);
        assert.deepEqual(asObject(stored, 'stored')['spec'], c.stored);
        assert.deepEqual(stored, applyDefaults(object, upstreamSchemaFor(c.kind, c.version)));
        assert.deepEqual(validateValue(stored, schema), []);
      });
    }

    it('defaults a minimal Gateway: allowedRoutes and pending status conditions', () => {
      const schema = schemaFor('Gateway', 'v1');
      const gateway: JsonObject = {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'gw', namespace: 'default' },
        spec: { gatewayClassName: 'waymesh', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
      };
      const stored = asObject(applyDefaults(gateway, schema), 'gateway');
      const pending = (type: string): JsonObject => ({
        lastTransitionTime: '1970-01-01T00:00:00Z',
        message: 'Waiting for controller',
        reason: 'Pending',
        status: 'Unknown',
        type,
      });
      assert.deepEqual(stored['spec'], {
        gatewayClassName: 'waymesh',
        listeners: [
          { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'Same' } } },
        ],
      });
      assert.deepEqual(stored['status'], { conditions: [pending('Accepted'), pending('Programmed')] });
      assert.deepEqual(validateValue(stored, schema), []);
      assert.deepEqual(
        validateValue({ ...stored, spec: { gatewayClassName: 'waymesh', listeners: [] } }, schema),
        ['spec.listeners: minItems'],
      );
    });

    it('GatewayClass requires a domain-prefixed controllerName and defaults Accepted=Unknown', () => {
      const schema = schemaFor('GatewayClass', 'v1beta1');
      const gc = (controllerName: string): JsonObject => ({
        apiVersion: 'gateway.networking.k8s.io/v1beta1',
        kind: 'GatewayClass',
        metadata: { name: 'waymesh' },
        spec: { controllerName },
      });
      const stored = asObject(applyDefaults(gc('waymesh.io/controller'), schema), 'gatewayclass');
      assert.deepEqual(validateValue(stored, schema), []);
      assert.equal(JSON.stringify(stored['status']).includes('"type":"Accepted"'), true);
      assert.deepEqual(validateValue(gc('no-slash'), schema), ['spec.controllerName: pattern']);
    });

    it('ReferenceGrant needs at least one from and one to entry', () => {
      const schema = schemaFor('ReferenceGrant', 'v1beta1');
      const grant = (spec: Json): JsonObject => ({
        apiVersion: 'gateway.networking.k8s.io/v1beta1',
        kind: 'ReferenceGrant',
        metadata: { name: 'g' },
        spec,
      });
      assert.deepEqual(
        validateValue(
          grant({
            from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'web' }],
            to: [{ group: '', kind: 'Service' }],
          }),
          schema,
        ),
        [],
      );
      assert.deepEqual(validateValue(grant({ from: [], to: [{ kind: 'Service' }] }), schema), [
        'spec.from: minItems',
        'spec.to[0].group: required',
      ]);
    });
  });
});
