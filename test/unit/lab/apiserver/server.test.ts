import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiServer } from '../../../../lab/apiserver/server.ts';
import { call, openApi, type Reply } from './harness.ts';

describe('lab/apiserver server (in-process)', () => {
  let dir = '';
  let api: ApiServer;
  const open = (history = 1000): Promise<ApiServer> =>
    openApi(join(dir, 'data'), { watchHistorySize: history, bookmarkIntervalMs: 20 });
  const req = (method: string, url: string, body?: unknown, ct?: string): Promise<Reply> =>
    call(api, method, url, body, ct).done;
  const cms = '/api/v1/namespaces/default/configmaps';

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wm-api-'));
    api = await open();
  });
  afterEach(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the standard namespaces and the kubernetes service at .1', async () => {
    const ns = await req('GET', '/api/v1/namespaces');
    assert.deepEqual(
      (ns.body['items'] as { metadata: { name: string } }[]).map((n) => n.metadata.name),
      ['default', 'kube-node-lease', 'kube-public', 'kube-system'],
    );
    const svc = await req('GET', '/api/v1/namespaces/default/services/kubernetes');
    assert.equal((svc.body['spec'] as { clusterIP: string }).clusterIP, '10.96.0.1');
  });

  it('holds an owner in Foreground deletion until blocking dependents are gone', async () => {
    const owner = await req('POST', cms, { metadata: { name: 'owner' } });
    const uid = (owner.body['metadata'] as { uid: string }).uid;
    await req('POST', cms, {
      metadata: {
        name: 'dep',
        ownerReferences: [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid, blockOwnerDeletion: true },
        ],
      },
    });
    await req('POST', cms, {
      metadata: {
        name: 'held',
        finalizers: ['test/hold'],
        ownerReferences: [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid, blockOwnerDeletion: true },
        ],
      },
    });
    const del = await req('DELETE', `${cms}/owner`, { propagationPolicy: 'Foreground' });
    assert.equal(del.status, 202);
    assert.deepEqual((del.body['metadata'] as { finalizers: string[] }).finalizers, ['foregroundDeletion']);
    await api.settled();
    assert.equal((await req('GET', `${cms}/dep`)).status, 404);
    assert.equal((await req('GET', `${cms}/owner`)).status, 200, 'held dependent blocks the owner');
    await req('PATCH', `${cms}/held`, { metadata: { finalizers: null } }, 'application/merge-patch+json');
    await api.settled();
    assert.equal((await req('GET', `${cms}/held`)).status, 404);
    assert.equal((await req('GET', `${cms}/owner`)).status, 404);
  });

  it('orphans dependents with propagationPolicy=Orphan', async () => {
    const owner = await req('POST', cms, { metadata: { name: 'owner' } });
    const uid = (owner.body['metadata'] as { uid: string }).uid;
    await req('POST', cms, {
      metadata: {
        name: 'dep',
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid }],
      },
    });
    await req('DELETE', `${cms}/owner?propagationPolicy=Orphan`);
    await api.settled();
    assert.equal((await req('GET', `${cms}/owner`)).status, 404);
    const dep = await req('GET', `${cms}/dep`);
    assert.equal(dep.status, 200);
    assert.equal((dep.body['metadata'] as { ownerReferences?: unknown }).ownerReferences, undefined);
  });

  it('terminates a namespace: 403 on create while terminating, removed once empty', async () => {
    await req('POST', '/api/v1/namespaces', { metadata: { name: 'tmp' } });
    await req('POST', '/api/v1/namespaces/tmp/configmaps', {
      metadata: { name: 'f', finalizers: ['test/hold'] },
    });
    await req('DELETE', '/api/v1/namespaces/tmp');
    await api.settled();
    const ns = await req('GET', '/api/v1/namespaces/tmp');
    assert.equal((ns.body['status'] as { phase: string }).phase, 'Terminating');
    const denied = await req('POST', '/api/v1/namespaces/tmp/configmaps', { metadata: { name: 'new' } });
    assert.equal(denied.status, 403);
    assert.match(String(denied.body['message']), /because it is being terminated/);
    await req(
      'PATCH',
      '/api/v1/namespaces/tmp/configmaps/f',
      [{ op: 'remove', path: '/metadata/finalizers' }],
      'application/json-patch+json',
    );
    await api.settled();
    assert.equal((await req('GET', '/api/v1/namespaces/tmp')).status, 404);
    assert.equal((await req('DELETE', '/api/v1/namespaces/default')).status, 403);
  });

  it('allocates, protects and frees ClusterIPs', async () => {
    const svcs = '/api/v1/namespaces/default/services';
    const a = await req('POST', svcs, {
      metadata: { name: 'a' },
      spec: { clusterIP: '10.96.0.50', ports: [{ port: 80 }] },
    });
    assert.equal((a.body['spec'] as { clusterIP: string }).clusterIP, '10.96.0.50');
    assert.equal(
      (await req('POST', svcs, { metadata: { name: 'b' }, spec: { clusterIP: '10.96.0.50' } })).status,
      422,
    );
    const h = await req('POST', svcs, { metadata: { name: 'h' }, spec: { clusterIP: 'None' } });
    assert.deepEqual((h.body['spec'] as { clusterIPs: string[] }).clusterIPs, ['None']);
    const change = await req(
      'PATCH',
      `${svcs}/a`,
      { spec: { clusterIP: '10.96.0.51' } },
      'application/merge-patch+json',
    );
    assert.equal(change.status, 422);
    assert.match(String(change.body['message']), /field is immutable/);
    const dry = await req('POST', `${svcs}?dryRun=All`, {
      metadata: { name: 'dry' },
      spec: { clusterIP: '10.96.0.60' },
    });
    assert.equal(dry.status, 201);
    assert.equal((await req('GET', `${svcs}/dry`)).status, 404);
    await req('DELETE', `${svcs}/a`);
    await api.settled();
    assert.equal(
      (await req('POST', svcs, { metadata: { name: 'c' }, spec: { clusterIP: '10.96.0.50' } })).status,
      201,
    );
    assert.equal(
      (await req('POST', svcs, { metadata: { name: 'd' }, spec: { clusterIP: '10.96.0.60' } })).status,
      201,
      'dry-run released its IP',
    );
  });

  it('splits status writes from spec writes and tracks generation', async () => {
    const deps = '/apis/apps/v1/namespaces/default/deployments';
    const d = await req('POST', deps, {
      metadata: { name: 'd' },
      spec: { replicas: 1 },
      status: { replicas: 99 },
    });
    assert.deepEqual(d.body['status'], {});
    const st = await req(
      'PATCH',
      `${deps}/d/status`,
      { spec: { replicas: 7 }, status: { readyReplicas: 1 } },
      'application/merge-patch+json',
    );
    assert.equal((st.body['spec'] as { replicas: number }).replicas, 1);
    assert.equal((st.body['spec'] as { strategy: { type: string } }).strategy.type, 'RollingUpdate');
    assert.deepEqual(st.body['status'], { readyReplicas: 1 });
    assert.equal((st.body['metadata'] as { generation: number }).generation, 1);
    const sp = await req(
      'PATCH',
      `${deps}/d`,
      { spec: { replicas: 3 }, status: { readyReplicas: 50 } },
      'application/merge-patch+json',
    );
    assert.equal((sp.body['metadata'] as { generation: number }).generation, 2);
    assert.deepEqual(sp.body['status'], { readyReplicas: 1 });
    assert.equal(
      (await req('PATCH', `${deps}/d`, '{}', 'application/strategic-merge-patch+json')).status,
      415,
    );
  });

  it('pages lists with limit/continue and removes unscheduled pods at once', async () => {
    for (const n of ['a', 'b', 'c'])
      await req('POST', cms, { metadata: { name: n, labels: { page: 'yes' } } });
    const p1 = await req('GET', `${cms}?limit=2&labelSelector=page%3Dyes`);
    const meta = p1.body['metadata'] as { continue: string; remainingItemCount: number };
    assert.equal((p1.body['items'] as unknown[]).length, 2);
    assert.equal(meta.remainingItemCount, 1);
    const p2 = await req('GET', `${cms}?limit=2&labelSelector=page%3Dyes&continue=${meta.continue}`);
    assert.deepEqual(
      (p2.body['items'] as { metadata: { name: string } }[]).map((i) => i.metadata.name),
      ['c'],
    );
    await req('POST', '/api/v1/namespaces/default/pods', {
      metadata: { name: 'p' },
      spec: { containers: [] },
    });
    assert.equal((await req('DELETE', '/api/v1/namespaces/default/pods/p')).status, 200);
    assert.equal((await req('GET', '/api/v1/namespaces/default/pods/p')).status, 404);
  });

  it('watches: selector transitions, replay from a resourceVersion, bookmarks', async () => {
    const a = await req('POST', cms, { metadata: { name: 'w', labels: { app: 'x' } } });
    const rv = (a.body['metadata'] as { resourceVersion: string }).resourceVersion;
    const w = call(
      api,
      'GET',
      `${cms}?watch=true&labelSelector=app%3Dx&allowWatchBookmarks=true&resourceVersion=${rv}`,
    );
    await req('PATCH', `${cms}/w`, { data: { k: '1' } }, 'application/merge-patch+json');
    await req('PATCH', `${cms}/w`, { metadata: { labels: { app: 'y' } } }, 'application/merge-patch+json');
    await new Promise((r) => setTimeout(r, 60));
    w.close();
    const got = await w.done;
    const types = got.lines.map((l) => l['type']);
    assert.deepEqual(
      types.filter((t) => t !== 'BOOKMARK'),
      ['MODIFIED', 'DELETED'],
    );
    assert.ok(types.includes('BOOKMARK'));
    const replay = call(api, 'GET', `${cms}?watch=true&resourceVersion=${rv}&timeoutSeconds=1`);
    setTimeout(replay.close, 30);
    assert.deepEqual(
      (await replay.done).lines.map((l) => l['type']),
      ['MODIFIED', 'MODIFIED'],
    );
  });

  it('answers a watch from a compacted resourceVersion with a 410 ERROR event', async () => {
    await api.close();
    api = await open(2);
    for (const n of ['a', 'b', 'c', 'd']) await req('POST', cms, { metadata: { name: n } });
    const got = await call(api, 'GET', `${cms}?watch=true&resourceVersion=1`).done;
    assert.equal(got.status, 200);
    assert.equal(got.lines[0]?.['type'], 'ERROR');
    const status = got.lines[0]?.['object'] as { code: number; reason: string };
    assert.deepEqual([status.code, status.reason], [410, 'Expired']);
  });

  it('restores objects, resourceVersions and the counter after reopening', async () => {
    await req('POST', cms, { metadata: { name: 'keep' }, data: { a: 'b' } });
    const before = await req('GET', cms);
    await api.close();
    api = await open();
    const after = await req('GET', cms);
    assert.deepEqual(after.body['items'], before.body['items']);
    assert.equal(
      (after.body['metadata'] as { resourceVersion: string }).resourceVersion,
      (before.body['metadata'] as { resourceVersion: string }).resourceVersion,
    );
    const next = await req('POST', cms, { metadata: { name: 'n' } });
    assert.equal(
      Number((next.body['metadata'] as { resourceVersion: string }).resourceVersion),
      Number((before.body['metadata'] as { resourceVersion: string }).resourceVersion) + 1,
    );
  });
});
