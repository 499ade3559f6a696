// Requests found by fuzzing the lab API server: each must get the 4xx kube-apiserver would
// answer (never a 500, a reset connection or an exhausted process), and nothing a request
// carries may reach Object.prototype.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { gatewayApiCrds } from '../../../../lab/apiserver/crds/gateway-api.ts';
import { serverSideApply, strategicMergePatch, trackUpdate } from '../../../../lab/apiserver/patch/index.ts';
import { applyDefaults, prune, validate } from '../../../../lab/apiserver/schema/index.ts';
import type { ApiServer, ApiServerHooks } from '../../../../lab/apiserver/server.ts';
import { toTable } from '../../../../lab/apiserver/table.ts';
import type { JsonObject, KubeObject } from '../../../../lab/apiserver/types.ts';
import { call, openApi, Raw, type Reply } from './harness.ts';

const HOOKS: ApiServerHooks = {
  strategicMergePatch,
  serverSideApply,
  trackUpdate,
  validate,
  applyDefaults,
  prune,
  toTable,
};
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io';
const CMS = '/api/v1/namespaces/default/configmaps';
const WIDGETS = '/apis/example.com/v1/namespaces/default/widgets';

const WIDGET_NAMES = { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' };
const PRESERVE = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
/** The CRD of `widgets.example.com/v1`, namespaced, with `schema` as its openAPIV3Schema. */
const widgetCrd = (schema: unknown = PRESERVE) => {
  const v1 = { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema } };
  const spec = { group: 'example.com', scope: 'Namespaced', names: WIDGET_NAMES, versions: [v1] };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.com' },
    spec,
  };
};

/** `levels` anchors, each a list of nine aliases of the one before: 9^levels strings once expanded. */
function aliasBomb(levels: number): string {
  let doc =
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\nbomb:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
  for (let i = 1; i <= levels; i++)
    doc += `  a${i}: &a${i} [${Array(9)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  return doc;
}

const message = (r: Reply): string => String(r.body['message']);
const causes = (r: Reply): { field: string; message: string }[] =>
  ((r.body['details'] as { causes?: { field: string; message: string }[] } | undefined)?.causes ?? []).map(
    (c) => ({ field: c.field, message: c.message }),
  );
type Send = (method: string, url: string, body?: unknown, ct?: string) => Promise<Reply>;

/** Creates ConfigMap `owner` and its dependent `dep` in `default`. */
async function ownerAndDependent(req: Send): Promise<void> {
  const owner = await req('POST', CMS, { metadata: { name: 'owner' } });
  const uid = (owner.body['metadata'] as { uid: string }).uid;
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid };
  assert.equal((await req('POST', CMS, { metadata: { name: 'dep', ownerReferences: [ref] } })).status, 201);
}

/** What every plain object inherits as `polluted` (undefined unless Object.prototype was polluted). */
const polluted = (): unknown => (({}) as Record<string, unknown>)['polluted'];

describe('lab/apiserver hardening', () => {
  let dir = '';
  let api: ApiServer;
  const open = (hooks: ApiServerHooks = HOOKS, watchTimeoutSeconds?: number): Promise<ApiServer> =>
    openApi(
      join(dir, 'data'),
      watchTimeoutSeconds === undefined ? { hooks } : { hooks, watchTimeoutSeconds },
    );
  const req = (method: string, url: string, body?: unknown, ct?: string, headers?: Record<string, string>) =>
    call(api, method, url, body, ct, headers).done;
  const expectStatus = (r: Reply, code: number, reason: string): void => {
    assert.equal(r.status, code, JSON.stringify(r.body));
    assert.equal(r.body['reason'], reason, JSON.stringify(r.body));
  };
  const live = async (url: string): Promise<KubeObject> =>
    (await req('GET', url)).body as unknown as KubeObject;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wm-harden-'));
    api = await open();
  });
  afterEach(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(polluted(), undefined, 'Object.prototype polluted');
  });

  describe('YAML bodies', () => {
    it('refuses a YAML alias bomb in a server-side apply body with 400, promptly', async () => {
      const started = Date.now();
      const r = await req(
        'PATCH',
        `${CMS}/bomb?fieldManager=fuzz`,
        new Raw(aliasBomb(8)),
        'application/apply-patch+yaml',
      );
      expectStatus(r, 400, 'BadRequest');
      assert.match(message(r), /^error decoding YAML: .*aliases/);
      assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
      assert.equal((await req('GET', `${CMS}/bomb`)).status, 404);
    });

    it('refuses a YAML alias bomb in an application/yaml create body with 400', async () => {
      const r = await req('POST', CMS, new Raw(aliasBomb(8)), 'application/yaml');
      expectStatus(r, 400, 'BadRequest');
      assert.match(message(r), /aliases/);
    });

    it('accepts YAML that uses a few aliases, and keeps unquoted timestamps as strings', async () => {
      const doc =
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  labels: &l {app: web}\n  annotations: *l\ndata:\n  when: 2024-01-02T03:04:05Z\n';
      const r = await req('POST', CMS, new Raw(doc), 'application/yaml');
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const meta = r.body['metadata'] as { labels: unknown; annotations: unknown };
      assert.deepEqual([meta.labels, meta.annotations], [{ app: 'web' }, { app: 'web' }]);
      assert.deepEqual(r.body['data'], { when: '2024-01-02T03:04:05Z' });
    });
  });

  describe('prototype pollution', () => {
    beforeEach(async () => {
      assert.equal((await req('POST', CMS, { metadata: { name: 'p' }, data: { a: '1' } })).status, 201);
    });
    const jsonPatch = (ops: unknown) => req('PATCH', `${CMS}/p`, ops, 'application/json-patch+json');

    for (const path of [
      '/__proto__/polluted',
      '/data/__proto__/polluted',
      '/constructor/prototype/polluted',
    ]) {
      it(`refuses the JSON patch path ${path} with 422 and leaves Object.prototype alone`, async () => {
        for (const op of ['add', 'replace']) {
          const r = await jsonPatch([{ op, path, value: 'yes' }]);
          expectStatus(r, 422, 'Invalid');
          assert.equal(polluted(), undefined);
        }
        const moved = await jsonPatch([{ op: 'copy', from: '/data/a', path }]);
        expectStatus(moved, 422, 'Invalid');
        assert.equal(polluted(), undefined);
      });
    }

    it('refuses __proto__ in a JSON patch path even as the last segment', async () => {
      const r = await jsonPatch([{ op: 'add', path: '/data/__proto__', value: { polluted: 'yes' } }]);
      expectStatus(r, 422, 'Invalid');
      assert.match(message(r), /__proto__/);
    });

    for (const [name, ct] of [
      ['merge', 'application/merge-patch+json'],
      ['strategic merge', 'application/strategic-merge-patch+json'],
    ] as const) {
      it(`keeps a "__proto__" key of a ${name} patch as an ordinary key`, async () => {
        const r = await req('PATCH', `${CMS}/p`, new Raw('{"data":{"__proto__":"x","b":"2"}}'), ct);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const data = (await live(`${CMS}/p`))['data'] as JsonObject;
        assert.ok(Object.hasOwn(data, '__proto__'), 'the key is stored');
        assert.equal(data['__proto__'], 'x');
        assert.equal(data['b'], '2');
        const nested = await req('PATCH', `${CMS}/p`, new Raw('{"__proto__":{"polluted":"yes"}}'), ct);
        assert.ok(nested.status < 500, JSON.stringify(nested.body));
        assert.equal(nested.body['polluted'], undefined);
      });
    }

    it('keeps a "__proto__" key of a server-side apply body as an ordinary key', async () => {
      const body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p"},"data":{"__proto__":"x"}}';
      const r = await req(
        'PATCH',
        `${CMS}/p?fieldManager=m&force=true`,
        new Raw(body),
        'application/apply-patch+yaml',
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const data = (await live(`${CMS}/p`))['data'] as JsonObject;
      assert.ok(Object.hasOwn(data, '__proto__'));
      assert.equal(data['__proto__'], 'x');
    });

    it('refuses a JSON patch of more than 10,000 operations with 413, as kube-apiserver does', async () => {
      const ops = Array.from({ length: 10_001 }, () => ({ op: 'test', path: '/data/a', value: '1' }));
      const r = await jsonPatch(ops);
      expectStatus(r, 413, 'RequestEntityTooLarge');
      assert.match(message(r), /maximum operations in a JSON patch is 10000, got 10001/);
      const fine = await jsonPatch(ops.slice(0, 10_000));
      assert.equal(fine.status, 200, JSON.stringify(fine.body));
    });

    it('refuses copy operations that would grow the object past 3 MiB in all, before copying', async () => {
      // Each copy doubles `bag` (a field the lab does not type; a ConfigMap's `data` holds only
      // strings): 40 of them would need 2^40 times its size and take the server down.
      const big = 'x'.repeat(64 * 1024);
      assert.equal((await jsonPatch([{ op: 'add', path: '/bag', value: { big } }])).status, 200);
      const doubling = Array.from({ length: 40 }, (_, i) => ({
        op: 'copy',
        from: '/bag',
        path: `/bag/c${i}`,
      }));
      const r = await jsonPatch(doubling);
      expectStatus(r, 422, 'Invalid');
      assert.match(message(r), /accumulated size increase of copy is \d+, exceeding the limit 3145728/);
      const bag = (await live(`${CMS}/p`))['bag'] as JsonObject;
      assert.deepEqual(Object.keys(bag).sort(), ['big'], 'nothing of the refused patch was stored');
      const few = await jsonPatch(doubling.slice(0, 3));
      assert.equal(few.status, 200, JSON.stringify(few.body));
      const after = (await live(`${CMS}/p`))['bag'] as JsonObject;
      assert.deepEqual(Object.keys(after).sort(), ['big', 'c0', 'c1', 'c2']);
      assert.deepEqual(Object.keys(after['c2'] as JsonObject).sort(), ['big', 'c0', 'c1']);
    });
  });

  describe('metadata of every write', () => {
    // Values a field's Go type cannot hold: kube-apiserver's decoder refuses the body (400)
    // before any validation, naming the ObjectMeta field and its type.
    const badTypes: [string, JsonObject, RegExp][] = [
      [
        'finalizers as a string',
        { finalizers: 'x' },
        /string into Go struct field ObjectMeta\.metadata\.finalizers of type \[\]string$/,
      ],
      [
        'finalizers as an object',
        { finalizers: { a: 'b' } },
        /object into Go struct field ObjectMeta\.metadata\.finalizers of type \[\]string$/,
      ],
      [
        'a finalizer that is not a string',
        { finalizers: [1] },
        /number into Go struct field ObjectMeta\.metadata\.finalizers of type string$/,
      ],
      [
        'ownerReferences as a string',
        { ownerReferences: 'x' },
        /string into Go struct field ObjectMeta\.metadata\.ownerReferences of type \[\]v1\.OwnerReference$/,
      ],
      [
        'an owner reference that is not an object',
        { ownerReferences: [7] },
        /number into Go struct field ObjectMeta\.metadata\.ownerReferences of type v1\.OwnerReference$/,
      ],
      [
        'a label value that is not a string',
        { labels: { k: 5 } },
        /number into Go struct field ObjectMeta\.metadata\.labels of type string$/,
      ],
      [
        'annotations as a list',
        { annotations: ['a'] },
        /array into Go struct field ObjectMeta\.metadata\.annotations of type map\[string\]string$/,
      ],
      [
        'managedFields as a string',
        { managedFields: 'x' },
        /string into Go struct field ObjectMeta\.metadata\.managedFields of type \[\]v1\.ManagedFieldsEntry$/,
      ],
    ];
    // Well-typed values kube's validation refuses (422, with field paths).
    const badValues: [string, JsonObject, string, RegExp][] = [
      [
        'a malformed finalizer name',
        { finalizers: ['a b'] },
        'metadata.finalizers',
        /name part must consist/,
      ],
      [
        'an owner reference without uid',
        { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o' }] },
        'metadata.ownerReferences.uid',
        /uid must not be empty/,
      ],
      [
        'an owner reference without kind',
        { ownerReferences: [{ apiVersion: 'v1', name: 'o', uid: 'u' }] },
        'metadata.ownerReferences.kind',
        /kind must not be empty/,
      ],
      [
        'an invalid label key',
        { labels: { 'bad key': 'v' } },
        'metadata.labels',
        /Invalid value: "bad key": name part must consist/,
      ],
      [
        'an invalid label value',
        { labels: { k: 'no spaces' } },
        'metadata.labels',
        /a valid label must be an empty string/,
      ],
      [
        'a managedFields entry of an unknown operation',
        { managedFields: [{ manager: 'm', operation: 'Delete' }] },
        'metadata.managedFields[0].operation',
        /must be `Apply` or `Update`/,
      ],
    ];
    /** POST, PUT, merge patch and (unless managedFields) apply of `meta`, each answered by `expect`. */
    const everyWrite = async (meta: JsonObject, expect: (r: Reply) => void): Promise<void> => {
      expect(await req('POST', CMS, { metadata: { name: 'm', ...meta } }));
      assert.equal((await req('POST', CMS, { metadata: { name: 'm' } })).status, 201);
      const obj = await live(`${CMS}/m`);
      expect(await req('PUT', `${CMS}/m`, { ...obj, metadata: { ...obj.metadata, ...meta } }));
      expect(await req('PATCH', `${CMS}/m`, { metadata: meta }, 'application/merge-patch+json'));
      if (!('managedFields' in meta)) {
        const applied = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm', ...meta } };
        expect(await req('PATCH', `${CMS}/m?fieldManager=f`, applied, 'application/apply-patch+yaml'));
      }
      assert.deepEqual((await live(`${CMS}/m`)).metadata.finalizers, undefined);
    };
    for (const [what, meta, re] of badTypes) {
      it(`refuses ${what} with 400 on POST, PUT, merge patch and apply, as kube's decoder does`, async () => {
        await everyWrite(meta, (r) => {
          expectStatus(r, 400, 'BadRequest');
          assert.match(
            message(r),
            /^ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal /,
          );
          assert.match(message(r), re);
        });
      });
    }
    for (const [what, meta, field, re] of badValues) {
      it(`refuses ${what} with 422 on POST, PUT, merge patch and apply`, async () => {
        await everyWrite(meta, (r) => {
          expectStatus(r, 422, 'Invalid');
          assert.ok(
            causes(r).some((c) => c.field === field && re.test(c.message)),
            JSON.stringify(r.body),
          );
        });
      });
    }

    it('treats metadata.name: null as missing (422 Required) and a number as undecodable (400)', async () => {
      const nul = await req('POST', CMS, { metadata: { name: null } });
      expectStatus(nul, 422, 'Invalid');
      assert.match(message(nul), /metadata.name: Required value/);
      const num = await req('POST', CMS, { metadata: { name: 5 } });
      expectStatus(num, 400, 'BadRequest');
      assert.match(message(num), /number into Go struct field ObjectMeta\.metadata\.name of type string$/);
      const gen = await req('POST', CMS, { metadata: { name: null, generateName: 'g-' } });
      assert.equal(gen.status, 201, JSON.stringify(gen.body));
      const badGen = await req('POST', CMS, { metadata: { generateName: ['g'] } });
      expectStatus(badGen, 400, 'BadRequest');
    });

    it('accepts well-formed labels, finalizers and owner references', async () => {
      const r = await req('POST', CMS, {
        metadata: {
          name: 'good',
          labels: { 'app.kubernetes.io/name': 'web', empty: '' },
          annotations: { 'example.com/note': 'any text at all' },
          finalizers: ['example.com/hold'],
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o', uid: 'u-1', controller: true }],
        },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    });
  });

  describe('CustomResourceDefinitions', () => {
    const create = (crd: unknown) =>
      req('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    const withSpecProp = (x: unknown) =>
      widgetCrd({ type: 'object', properties: { spec: { type: 'object', properties: { x } } } });
    const root = 'spec.versions[0].schema.openAPIV3Schema';

    it('refuses an invalid pattern with 422 naming the field', async () => {
      const r = await create(withSpecProp({ type: 'string', pattern: '(' }));
      expectStatus(r, 422, 'Invalid');
      assert.ok(
        causes(r).some((c) => c.field === `${root}.properties[spec].properties[x].pattern`),
        JSON.stringify(r.body),
      );
      assert.match(message(r), /must be a valid regular expression/);
      assert.equal((await req('GET', WIDGETS)).status, 404, 'the kind is not served');
    });

    it('refuses a null schema node and a non-schema items with 422', async () => {
      const r = await create(withSpecProp(null));
      expectStatus(r, 422, 'Invalid');
      assert.ok(
        causes(r).some((c) => c.field === `${root}.properties[spec].properties[x]`),
        JSON.stringify(r.body),
      );
      const items = await create(withSpecProp({ type: 'array', items: [{ type: 'string' }] }));
      expectStatus(items, 422, 'Invalid');
      assert.ok(causes(items).some((c) => c.field === `${root}.properties[spec].properties[x].items`));
      const type = await create(withSpecProp({ type: 'text' }));
      expectStatus(type, 422, 'Invalid');
      assert.match(message(type), /Unsupported value: "text"/);
    });

    it('refuses an additional printer column whose jsonPath is not a string', async () => {
      const crd = widgetCrd();
      Object.assign(crd.spec.versions[0] as object, {
        additionalPrinterColumns: [{ name: 'X', type: 'string', jsonPath: 5 }],
      });
      const r = await create(crd);
      expectStatus(r, 422, 'Invalid');
      assert.ok(causes(r).some((c) => c.field === 'spec.versions[0].additionalPrinterColumns[0].jsonPath'));
    });

    it('refuses the same defects on update, keeping the served schema', async () => {
      assert.equal((await create(withSpecProp({ type: 'string', pattern: '^a+$' }))).status, 201);
      const path = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com';
      const patch = [
        {
          op: 'replace',
          path: '/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/x/pattern',
          value: '[',
        },
      ];
      expectStatus(await req('PATCH', path, patch, 'application/json-patch+json'), 422, 'Invalid');
      const cr = await req('POST', WIDGETS, {
        apiVersion: 'example.com/v1',
        kind: 'Widget',
        metadata: { name: 'w' },
        spec: { x: 'b' },
      });
      expectStatus(cr, 422, 'Invalid');
      assert.match(message(cr), /should match '\^a\+\$'/);
    });

    it('accepts every CRD the lab ships', async () => {
      const dirOf = join(import.meta.dirname, '..', '..', '..', '..', 'manifests', 'crds');
      const policy = readdirSync(dirOf)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => yaml.load(readFileSync(join(dirOf, f), 'utf8')) as KubeObject);
      for (const crd of [...gatewayApiCrds(), ...policy]) await api.createObject(crd);
    });
  });

  describe('watchers', () => {
    it('ends a watch whose Table rendering fails with an ERROR event; the write still succeeds', async () => {
      await api.close();
      const failing: ApiServerHooks = {
        ...HOOKS,
        toTable: (def, version, objects, opts) => {
          if (objects.some((o) => o.metadata.name === 'boom')) throw new Error('cannot render boom');
          return toTable(def, version, objects, opts);
        },
      };
      api = await open(failing);
      const tableWatch = call(api, 'GET', `${CMS}?watch=true`, undefined, 'application/json', {
        accept: TABLE,
      });
      const plainWatch = call(api, 'GET', `${CMS}?watch=true`);
      await ownerAndDependent(req);
      const boom = await req('POST', CMS, { metadata: { name: 'boom' } });
      assert.equal(boom.status, 201, JSON.stringify(boom.body));
      const ended = await tableWatch.done;
      const last = ended.lines[ended.lines.length - 1] ?? {};
      assert.equal(last['type'], 'ERROR');
      assert.equal((last['object'] as { code: number }).code, 500);
      assert.match(String((last['object'] as { message: string }).message), /cannot render boom/);
      assert.equal((await req('GET', `${CMS}/boom`)).status, 200);
      assert.equal((await req('DELETE', `${CMS}/owner`)).status, 200);
      await api.settled();
      assert.equal((await req('GET', `${CMS}/dep`)).status, 404, 'garbage collection still ran');
      plainWatch.close();
      const names = (await plainWatch.done).lines.map((l) => (l['object'] as KubeObject).metadata.name);
      assert.ok(names.includes('boom') && names.includes('dep'), names.join(','));
    });
  });

  describe('status codes', () => {
    it('answers a garbage continue token with 400', async () => {
      for (const token of ['bnVsbA', 'MTIz', '!!!', 'eyJucyI6MX0']) {
        const r = await req('GET', `${CMS}?limit=1&continue=${token}`);
        expectStatus(r, 400, 'BadRequest');
        assert.match(message(r), /^invalid continue token: continue key is not valid/);
      }
    });

    it('answers limit=abc and other non-integers with 400', async () => {
      for (const limit of ['abc', '1.5', '', '1e3']) {
        const r = await req('GET', `${CMS}?limit=${limit}`);
        expectStatus(r, 400, 'BadRequest');
        assert.match(message(r), /limit/);
      }
      assert.equal((await req('GET', `${CMS}?limit=0`)).status, 200);
    });

    it('answers deeply nested JSON bodies with 400', async () => {
      const deep = '['.repeat(100_000) + ']'.repeat(100_000);
      const post = await req('POST', CMS, new Raw(`{"metadata":{"name":"deep"},"data":${deep}}`));
      expectStatus(post, 400, 'BadRequest');
      assert.match(message(post), /nested more than \d+ levels deep/);
      await req('POST', CMS, { metadata: { name: 'p' } });
      const patch = await req(
        'PATCH',
        `${CMS}/p`,
        new Raw(`{"data":{"x":${deep}}}`),
        'application/merge-patch+json',
      );
      expectStatus(patch, 400, 'BadRequest');
      const steps = '{"a":'.repeat(400) + '1' + '}'.repeat(400);
      const grow = [{ op: 'add', path: '/spec', value: JSON.parse(steps) as unknown }];
      assert.equal((await req('PATCH', `${CMS}/p`, grow, 'application/json-patch+json')).status, 200);
      const deeper = [{ op: 'add', path: `/spec${'/a'.repeat(399)}`, value: JSON.parse(steps) as unknown }];
      const r = await req('PATCH', `${CMS}/p`, deeper, 'application/json-patch+json');
      expectStatus(r, 422, 'Invalid');
      assert.match(message(r), /nested more than \d+ levels deep/);
    });

    it('checks the identity of the object on PUT and PATCH as on POST', async () => {
      await req('POST', CMS, { metadata: { name: 'x', namespace: 'default' }, data: { a: '1' } });
      const obj = await live(`${CMS}/x`);
      const put = (change: (o: KubeObject) => KubeObject) =>
        req('PUT', `${CMS}/x`, change(structuredClone(obj)));
      const apiV = await put((o) => ({ ...o, apiVersion: 'apps/v1' }));
      expectStatus(apiV, 400, 'BadRequest');
      assert.equal(
        message(apiV),
        'the API version in the data (apps/v1) does not match the expected API version (v1)',
      );
      expectStatus(await put((o) => ({ ...o, kind: 'Secret' })), 400, 'BadRequest');
      const ns = await put((o) => ({ ...o, metadata: { ...o.metadata, namespace: 'kube-system' } }));
      expectStatus(ns, 400, 'BadRequest');
      assert.match(message(ns), /namespace of the provided object does not match/);
      const noName = await put((o) => ({ ...o, metadata: { ...o.metadata, name: undefined } }));
      expectStatus(noName, 400, 'BadRequest');
      assert.equal(message(noName), 'the name of the object () does not match the name on the URL (x)');

      const merge = (p: unknown) => req('PATCH', `${CMS}/x`, p, 'application/merge-patch+json');
      const renamed = await merge({ metadata: { name: 'y' } });
      expectStatus(renamed, 400, 'BadRequest');
      assert.equal(message(renamed), 'the name of the object (y) does not match the name on the URL (x)');
      expectStatus(await merge({ metadata: { namespace: 'kube-system' } }), 400, 'BadRequest');
      const kind = await merge({ kind: 'Secret' });
      expectStatus(kind, 422, 'Invalid');
      assert.match(message(kind), /kind: Invalid value: "Secret": must be ConfigMap/);
      const version = await req(
        'PATCH',
        `${CMS}/x`,
        [{ op: 'replace', path: '/apiVersion', value: 'apps/v1' }],
        'application/json-patch+json',
      );
      expectStatus(version, 422, 'Invalid');
      assert.match(message(version), /apiVersion: Invalid value: "apps\/v1": must be v1/);
      const label = await merge({ metadata: { labels: { 'a b': 'c' } } });
      expectStatus(label, 422, 'Invalid');
      const applied = { apiVersion: 'apps/v1', kind: 'ConfigMap', metadata: { name: 'x' } };
      const apply = await req('PATCH', `${CMS}/x?fieldManager=f`, applied, 'application/apply-patch+yaml');
      expectStatus(apply, 400, 'BadRequest');
      assert.match(message(apply), /Incorrect version specified in apply patch/);
      const nsApply = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'other' } };
      expectStatus(
        await req('PATCH', `${CMS}/x?fieldManager=f`, nsApply, 'application/apply-patch+yaml'),
        400,
        'BadRequest',
      );
      const post = await req('POST', CMS, { apiVersion: 'v2', kind: 'ConfigMap', metadata: { name: 'z' } });
      expectStatus(post, 400, 'BadRequest');
      assert.deepEqual((await live(`${CMS}/x`)).metadata.name, 'x');
      assert.equal((await live(`${CMS}/x`)).metadata.resourceVersion, obj.metadata.resourceVersion);
    });

    it('requires resourceVersion on PUT of a custom resource, not of a built-in', async () => {
      await api.createObject(widgetCrd() as unknown as KubeObject);
      const w = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { a: 1 } };
      assert.equal((await req('POST', WIDGETS, w)).status, 201);
      const r = await req('PUT', `${WIDGETS}/w`, { ...w, spec: { a: 2 } });
      expectStatus(r, 422, 'Invalid');
      assert.equal(
        message(r),
        'widgets.example.com "w" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
      );
      const rv = (await live(`${WIDGETS}/w`)).metadata.resourceVersion;
      const ok = await req('PUT', `${WIDGETS}/w`, {
        ...w,
        metadata: { name: 'w', resourceVersion: rv },
        spec: { a: 2 },
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      await req('POST', CMS, { metadata: { name: 'c' } });
      const cm = await req('PUT', `${CMS}/c`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'c' },
        data: { a: 'b' },
      });
      assert.equal(cm.status, 200, JSON.stringify(cm.body));
    });

    it('answers an unsupported Content-Type with 415 and accepts application/yaml', async () => {
      const plain = await req('POST', CMS, new Raw('{"metadata":{"name":"t"}}'), 'text/plain');
      expectStatus(plain, 415, 'UnsupportedMediaType');
      assert.match(message(plain), /application\/json, application\/yaml/);
      const doc = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  a: "1"\n';
      assert.equal((await req('POST', CMS, new Raw(doc), 'application/yaml')).status, 201);
      const rv = (await live(`${CMS}/y`)).metadata.resourceVersion ?? '';
      const put = await req(
        'PUT',
        `${CMS}/y`,
        new Raw(doc.replace('name: y', `name: y\n  resourceVersion: "${rv}"`).replace('"1"', '"2"')),
        'application/yaml; charset=utf-8',
      );
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual(put.body['data'], { a: '2' });
      const bad = await req('POST', CMS, new Raw('a: [b'), 'application/yaml');
      expectStatus(bad, 400, 'BadRequest');
    });
  });

  describe('watch timeoutSeconds', () => {
    it('refuses fractional, negative and non-numeric values with 400', async () => {
      for (const t of ['1.5', '-1', 'abc', '']) {
        const r = await req('GET', `${CMS}?watch=true&timeoutSeconds=${t}`);
        expectStatus(r, 400, 'BadRequest');
        assert.match(message(r), /timeoutSeconds/);
      }
    });

    it('treats 0 as the server default, not as "never"', async () => {
      await api.close();
      api = await open(HOOKS, 0.2);
      const w = call(api, 'GET', `${CMS}?watch=true&timeoutSeconds=0`);
      const ended = await Promise.race([
        w.done.then(() => true),
        new Promise((r) => setTimeout(() => r(false), 3000)),
      ]);
      w.close();
      assert.equal(ended, true, 'the watch ended at the default timeout');
    });

    it('clamps huge values instead of overflowing the timer', async () => {
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(w.name);
      process.on('warning', onWarning);
      try {
        const w = call(api, 'GET', `${CMS}?watch=true&timeoutSeconds=99999999999`);
        let ended = false;
        void w.done.then(() => (ended = true));
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(ended, false, 'the watch is still open');
        w.close();
        await w.done;
        assert.deepEqual(
          warnings.filter((n) => n === 'TimeoutOverflowWarning'),
          [],
        );
      } finally {
        process.off('warning', onWarning);
      }
    });
  });
});

describe('lab/apiserver hardening: stored objects with malformed metadata', () => {
  let dir = '';
  let api: ApiServer;
  const req = (method: string, url: string, body?: unknown, ct?: string) =>
    call(api, method, url, body, ct).done;

  beforeEach(async () => {
    // Written by an older lab that did not validate metadata.
    dir = mkdtempSync(join(tmpdir(), 'wm-harden-'));
    const data = join(dir, 'data');
    mkdirSync(data);
    const bad = (name: string, meta: JsonObject): { resource: string; object: JsonObject } => ({
      resource: 'configmaps',
      object: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace: 'default', uid: `u-${name}`, resourceVersion: '5', ...meta },
      },
    });
    const entries = [
      bad('bad-fin', { finalizers: { a: 'b' } }),
      bad('bad-owner', { ownerReferences: 'y' }),
      bad('bad-owner-item', { ownerReferences: [null, 3, { uid: 7 }] }),
      bad('bad-managed', { managedFields: 'x' }),
    ];
    writeFileSync(join(data, 'snapshot.json'), JSON.stringify({ resourceVersion: 10, entries }));
    api = await openApi(data, { hooks: HOOKS });
  });
  afterEach(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('still collects the dependents of other owners', async () => {
    await ownerAndDependent(req);
    assert.equal((await req('DELETE', `${CMS}/owner`)).status, 200);
    await api.settled();
    assert.equal((await req('GET', `${CMS}/dep`)).status, 404);
  });

  it('deletes them without a 500', async () => {
    for (const name of ['bad-fin', 'bad-owner', 'bad-owner-item']) {
      const r = await req('DELETE', `${CMS}/${name}`);
      assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
      await api.settled();
      assert.equal((await req('GET', `${CMS}/${name}`)).status, 404);
    }
  });

  it('lets a patch repair them', async () => {
    const r = await req(
      'PATCH',
      `${CMS}/bad-fin`,
      { metadata: { finalizers: null } },
      'application/merge-patch+json',
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // Field managers start afresh from managedFields that are not a list.
    const m = await req(
      'PATCH',
      `${CMS}/bad-managed?fieldManager=fixer`,
      { metadata: { managedFields: null }, data: { a: '1' } },
      'application/merge-patch+json',
    );
    assert.equal(m.status, 200, JSON.stringify(m.body));
    const managers = ((m.body['metadata'] as JsonObject)['managedFields'] as JsonObject[]).map(
      (e) => e['manager'],
    );
    assert.deepEqual(managers, ['fixer']);
  });

  it('lets a server-side apply take over an object whose managedFields are not a list', async () => {
    const applied = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'bad-managed' },
      data: { b: '2' },
    };
    const r = await req(
      'PATCH',
      `${CMS}/bad-managed?fieldManager=ci`,
      applied,
      'application/apply-patch+yaml',
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  it('terminates a namespace once the last finalizer in it is removed', async () => {
    const tmp = '/api/v1/namespaces/tmp/configmaps';
    await req('POST', '/api/v1/namespaces', { metadata: { name: 'tmp' } });
    await req('POST', tmp, { metadata: { name: 'held', finalizers: ['example.com/hold'] } });
    assert.ok((await req('DELETE', '/api/v1/namespaces/tmp')).status < 300);
    await api.settled();
    assert.equal((await req('GET', '/api/v1/namespaces/tmp')).status, 200, 'held by the finalizer');
    const r = await req(
      'PATCH',
      `${tmp}/held`,
      { metadata: { finalizers: null } },
      'application/merge-patch+json',
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await api.settled();
    assert.equal((await req('GET', '/api/v1/namespaces/tmp')).status, 404);
  });
});

describe('lab/apiserver hardening over HTTP', () => {
  let dir = '';
  let api: ApiServer;
  let server: Server;
  let port = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wm-harden-http-'));
    api = await openApi(join(dir, 'data'));
    server = createServer((req, res) => api.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (body: Buffer): Promise<{ status: number; json: Record<string, unknown> }> =>
    new Promise((resolve, reject) => {
      const r = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: CMS,
          headers: { authorization: 'Bearer admin', 'content-type': 'application/json' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
            }),
          );
        },
      );
      r.on('error', reject);
      r.end(body);
    });

  it('answers a body over the limit with a 413 Status, not a reset connection', async () => {
    const big = Buffer.from(
      JSON.stringify({ metadata: { name: 'big' }, data: { a: 'x'.repeat(4 * 1024 * 1024) } }),
    );
    const r = await post(big);
    assert.equal(r.status, 413);
    assert.equal(r.json['reason'], 'RequestEntityTooLarge');
    assert.match(String(r.json['message']), /^Request entity too large: limit is 3145728/);
    const ok = await post(Buffer.from(JSON.stringify({ metadata: { name: 'small' } })));
    assert.equal(ok.status, 201, 'the server still serves requests');
  });
});

describe('lab/apiserver object metadata limits', () => {
  it('counts annotation bytes in UTF-8 against the 256 KiB total, and puts no total on labels', async () => {
    const { objectMetaErrors, MAX_ANNOTATION_BYTES } =
      await import('../../../../lab/apiserver/object-meta.ts');
    const underInChars = 'é'.repeat(MAX_ANNOTATION_BYTES / 2 - 10);
    assert.deepEqual(
      objectMetaErrors({ annotations: { a: underInChars } }).map((c) => c.reason),
      [],
    );
    assert.deepEqual(
      objectMetaErrors({ annotations: { a: underInChars + 'é'.repeat(20) } }).map((c) => c.message),
      [`Too long: must have at most ${MAX_ANNOTATION_BYTES} bytes`],
    );
    const labels: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) labels[`k${i}`] = 'v'.repeat(60);
    assert.deepEqual(objectMetaErrors({ labels }), []);
  });
});
