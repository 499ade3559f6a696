// Field managers of ordinary writes over the lab API server's HTTP verbs (patch/update.ts): who
// is recorded, and what a server-side apply then conflicts with, as on a real cluster.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverSideApply, strategicMergePatch, trackUpdate } from '../../../../lab/apiserver/patch/index.ts';
import type { ApiServer } from '../../../../lab/apiserver/server.ts';
import { call, openApi, type Reply } from './harness.ts';

const CMS = '/api/v1/namespaces/default/configmaps';
type Entry = { manager: string; operation: string; subresource?: string; fieldsV1: Record<string, unknown> };

describe('lab/apiserver field managers of ordinary writes', () => {
  let dir = '';
  let api: ApiServer;
  const req = (method: string, url: string, body?: unknown, ct?: string, ua?: string): Promise<Reply> =>
    call(api, method, url, body, ct, ua === undefined ? {} : { 'user-agent': ua }).done;
  const managers = async (url: string): Promise<Entry[]> =>
    ((await req('GET', url)).body['metadata'] as { managedFields?: Entry[] }).managedFields ?? [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wm-fm-'));
    api = await openApi(join(dir, 'data'), { hooks: { strategicMergePatch, serverSideApply, trackUpdate } });
  });
  afterEach(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records create, update and patch under fieldManager or the User-Agent prefix', async () => {
    const created = await req(
      'POST',
      `${CMS}?fieldManager=kubectl-create`,
      { metadata: { name: 'c' }, data: { a: '1', b: '1' } },
      undefined,
      'kubectl/v1.31.0 (linux/amd64) kubernetes/abc',
    );
    assert.equal(created.status, 201);
    const put = await req(
      'PUT',
      `${CMS}/c`,
      { metadata: { name: 'c' }, data: { a: '2', b: '1' } },
      undefined,
      'editor/1.0',
    );
    assert.equal(put.status, 200);
    const patched = await req(
      'PATCH',
      `${CMS}/c?fieldManager=kubectl-label`,
      { metadata: { labels: { team: 'mesh' } } },
      'application/merge-patch+json',
    );
    assert.equal(patched.status, 200);
    const byName = new Map((await managers(`${CMS}/c`)).map((e) => [e.manager, e]));
    assert.deepEqual([...byName.keys()], ['kubectl-create', 'editor', 'kubectl-label']);
    assert.deepEqual(byName.get('kubectl-create')?.fieldsV1, { 'f:data': { '.': {}, 'f:b': {} } });
    assert.deepEqual(byName.get('editor')?.fieldsV1, { 'f:data': { 'f:a': {} } });
    assert.deepEqual(byName.get('kubectl-label')?.fieldsV1, {
      'f:metadata': { 'f:labels': { '.': {}, 'f:team': {} } },
    });
    assert.ok([...byName.values()].every((e) => e.operation === 'Update'));
  });

  it('a server-side apply conflicts with the Update manager of a field, naming it', async () => {
    await req('POST', CMS, { metadata: { name: 'c' }, data: { a: '1' } }, undefined, 'kubectl/v1.31.0');
    await req('PUT', `${CMS}/c`, { metadata: { name: 'c' }, data: { a: '2' } }, undefined, 'editor/1.0');
    const applied = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '3' } };
    const r = await req('PATCH', `${CMS}/c?fieldManager=ci`, applied, 'application/apply-patch+yaml');
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.match(String(r.body['message']), /conflict with "editor" using v1: \.data\.a/);
    const forced = await req(
      'PATCH',
      `${CMS}/c?fieldManager=ci&force=true`,
      applied,
      'application/apply-patch+yaml',
    );
    assert.equal(forced.status, 200);
    const after = await managers(`${CMS}/c`);
    assert.deepEqual(
      after.map((e) => `${e.manager}/${e.operation}`),
      ['kubectl/Update', 'ci/Apply'],
      'the forced apply took .data.a from editor, whose entry was left empty',
    );
  });

  it('refuses an invalid fieldManager with 400 and stores nothing', async () => {
    const r = await req('POST', `${CMS}?fieldManager=${'m'.repeat(129)}`, { metadata: { name: 'x' } });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(String(r.body['message']), /invalid field manager/);
    assert.equal((await req('GET', `${CMS}/x`)).status, 404);
  });

  it('the server records its own objects under kube-apiserver', async () => {
    const ns = await managers('/api/v1/namespaces/default');
    assert.deepEqual(
      ns.map((e) => e.manager),
      ['kube-apiserver'],
    );
  });
});
