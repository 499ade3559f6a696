// Field types of built-in kinds, refused with kube-apiserver's decode error (400) when a value
// cannot be held by the field's Go type (lab/apiserver/builtin-types.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkBuiltinTypes } from '../../../../lab/apiserver/builtin-types.ts';
import { serverSideApply, strategicMergePatch, trackUpdate } from '../../../../lab/apiserver/patch/index.ts';
import type { ApiServer } from '../../../../lab/apiserver/server.ts';
import { ApiError, type KubeObject, type ResourceDef } from '../../../../lab/apiserver/types.ts';
import { call, openApi, type Reply } from './harness.ts';

const CMS = '/api/v1/namespaces/default/configmaps';
const DEPLOYS = '/apis/apps/v1/namespaces/default/deployments';

const def = (kind: string, plural: string, group = ''): ResourceDef => ({
  group,
  kind,
  listKind: `${kind}List`,
  plural,
  singular: kind.toLowerCase(),
  shortNames: [],
  categories: [],
  namespaced: true,
  versions: [],
  builtin: true,
  verbs: [],
});

/** The message checkBuiltinTypes throws for `obj`, or undefined when it passes. */
function refusal(d: ResourceDef, obj: Record<string, unknown>): string | undefined {
  try {
    checkBuiltinTypes(d, 'v1', obj as unknown as KubeObject);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof ApiError && err.code === 400 && err.reason === 'BadRequest', String(err));
    return err.message;
  }
}

const podSpec = (container: Record<string, unknown>) => ({
  containers: [{ name: 'app', image: 'waymesh/echo', ...container }],
});

describe('lab/apiserver built-in field types', () => {
  const DEPLOYMENT = def('Deployment', 'deployments', 'apps');
  const deployment = (spec: Record<string, unknown>) => ({ apiVersion: 'apps/v1', kind: 'Deployment', spec });

  it('names the struct, the JSON path and the Go type as kube does', () => {
    assert.equal(
      refusal(def('ConfigMap', 'configmaps'), { data: { port: 8080 } }),
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string',
    );
    assert.match(
      refusal(
        DEPLOYMENT,
        deployment({ template: { spec: podSpec({ env: [{ name: 'PORT', value: 8080 }] }) } }),
      ) ?? '',
      /cannot unmarshal number into Go struct field EnvVar\.spec\.template\.spec\.containers\.env\.value of type string$/,
    );
    assert.match(
      refusal(DEPLOYMENT, deployment({ template: { spec: podSpec({ args: ['--port', 8080] }) } })) ?? '',
      /Go struct field Container\.spec\.template\.spec\.containers\.args of type string$/,
    );
    assert.match(
      refusal(def('Pod', 'pods'), { spec: podSpec({ ports: [{ containerPort: '8080' }] }) }) ?? '',
      /cannot unmarshal string into Go struct field ContainerPort\.spec\.containers\.ports\.containerPort of type int32$/,
    );
    assert.match(
      refusal(DEPLOYMENT, deployment({ replicas: 1.5 })) ?? '',
      /cannot unmarshal number 1\.5 into Go struct field DeploymentSpec\.spec\.replicas of type int32$/,
    );
    assert.match(
      refusal(DEPLOYMENT, deployment({ replicas: 2 ** 31 })) ?? '',
      /cannot unmarshal number 2147483648 into Go struct field DeploymentSpec\.spec\.replicas/,
    );
    assert.match(
      refusal(DEPLOYMENT, deployment({ template: { spec: { containers: { app: {} } } } })) ?? '',
      /cannot unmarshal object into Go struct field PodSpec\.spec\.template\.spec\.containers of type \[\]v1\.Container$/,
    );
    assert.match(
      refusal(def('Service', 'services'), { spec: { selector: { app: true }, ports: [{ port: 80 }] } }) ?? '',
      /cannot unmarshal bool into Go struct field ServiceSpec\.spec\.selector of type string$/,
    );
    assert.match(
      refusal(def('Service', 'services'), { spec: { ports: [{ port: '80' }] } }) ?? '',
      /Go struct field ServicePort\.spec\.ports\.port of type int32$/,
    );
    assert.equal(
      refusal(def('Secret', 'secrets'), { data: { token: 'not base64!' } }),
      'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3',
    );
    // Every byte in the alphabet but the length: where the incomplete last quantum starts.
    assert.match(refusal(def('Secret', 'secrets'), { data: { t: 'abcde' } }) ?? '', /at input byte 4$/);
    assert.match(refusal(def('Secret', 'secrets'), { data: { t: 'abc' } }) ?? '', /at input byte 0$/);
  });

  it('accepts well-typed objects, null values and fields it does not type', () => {
    assert.equal(refusal(def('ConfigMap', 'configmaps'), { data: { a: '1', b: null }, extra: 5 }), undefined);
    assert.equal(refusal(def('Secret', 'secrets'), { data: { t: 'c2VjcmV0', e: '' } }), undefined);
    assert.equal(
      refusal(
        DEPLOYMENT,
        deployment({
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: podSpec({
              args: ['--port', '8080'],
              env: [{ name: 'A', value: '1' }],
              ports: [{ containerPort: 8080 }],
            }),
          },
        }),
      ),
      undefined,
    );
    // Custom resources are checked against their own schemas, not here.
    assert.equal(
      refusal({ ...def('Widget', 'widgets', 'example.com'), builtin: false }, { data: { a: 1 } }),
      undefined,
    );
  });
});

describe('lab/apiserver built-in field types over HTTP', () => {
  let dir = '';
  let api: ApiServer;
  const req = (method: string, url: string, body?: unknown, ct?: string): Promise<Reply> =>
    call(api, method, url, body, ct).done;
  const refused = (r: Reply, re: RegExp): void => {
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body['reason'], 'BadRequest');
    assert.match(String(r.body['message']), re);
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wm-types-'));
    api = await openApi(join(dir, 'data'), { hooks: { strategicMergePatch, serverSideApply, trackUpdate } });
  });
  afterEach(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a mistyped field on create, update, patch and apply, and keeps the live object', async () => {
    const DATA = /ConfigMap\.data of type string/;
    refused(await req('POST', CMS, { metadata: { name: 'c' }, data: { port: 8080 } }), DATA);
    assert.equal((await req('GET', `${CMS}/c`)).status, 404);
    assert.equal((await req('POST', CMS, { metadata: { name: 'c' }, data: { port: '8080' } })).status, 201);
    refused(await req('PUT', `${CMS}/c`, { metadata: { name: 'c' }, data: { port: 8080 } }), DATA);
    refused(await req('PATCH', `${CMS}/c`, { data: { port: 8080 } }, 'application/merge-patch+json'), DATA);
    refused(
      await req(
        'PATCH',
        `${CMS}/c`,
        [{ op: 'replace', path: '/data/port', value: 8080 }],
        'application/json-patch+json',
      ),
      DATA,
    );
    const applied = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { port: 8080 } };
    refused(await req('PATCH', `${CMS}/c?fieldManager=ci`, applied, 'application/apply-patch+yaml'), DATA);
    assert.deepEqual((await req('GET', `${CMS}/c`)).body['data'], { port: '8080' });
  });

  it('refuses an env value that is a number in a Deployment template (the YAML `value: 8080` mistake)', async () => {
    const r = await req('POST', DEPLOYS, {
      metadata: { name: 'web' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [{ name: 'web', image: 'waymesh/echo', env: [{ name: 'PORT', value: 8080 }] }],
          },
        },
      },
    });
    refused(
      r,
      /^Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal number into Go struct field EnvVar\.spec\.template\.spec\.containers\.env\.value of type string$/,
    );
    assert.equal((await req('GET', `${DEPLOYS}/web`)).status, 404);
  });
});
