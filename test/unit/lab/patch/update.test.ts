import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { managerOf } from '../../../../lab/apiserver/field-manager.ts';
import { serverSideApply, trackUpdate } from '../../../../lab/apiserver/patch/index.ts';
import { ANCIENT_CHANGES, type UpdateOptions } from '../../../../lab/apiserver/patch/update.ts';
import { ApiError } from '../../../../lab/apiserver/types.ts';
import type { Json, JsonObject, KubeObject } from '../../../../lab/apiserver/types.ts';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:05:00Z';

const opts = (manager: string, now = T1, subresource = ''): UpdateOptions => ({
  manager,
  kind: 'Deployment',
  builtin: true,
  apiVersion: 'apps/v1',
  subresource,
  now,
});

function deployment(replicas: number, extra: JsonObject = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'default',
      uid: 'u1',
      resourceVersion: '7',
      creationTimestamp: T0,
      generation: 1,
      labels: { app: 'web' },
    },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, ...extra },
    status: { replicas },
  };
}

/** `obj` as stored after a write by `manager` (its managedFields recorded). */
function written(live: KubeObject | undefined, obj: KubeObject, manager: string, now = T0): KubeObject {
  obj.metadata.managedFields = trackUpdate(live, obj, opts(manager, now));
  return obj;
}

type Entry = { manager: string; operation: string; time: string; fieldsV1: JsonObject; subresource?: string };
const entries = (o: KubeObject): Entry[] => (o.metadata.managedFields ?? []) as unknown as Entry[];
const entryOf = (o: KubeObject, manager: string): Entry | undefined =>
  entries(o).find((e) => e.manager === manager);

describe('lab/apiserver/patch trackUpdate (ownership of ordinary writes)', () => {
  it('a create makes its manager own every field but status and server-owned metadata', () => {
    const obj = written(undefined, deployment(2), 'kubectl-create');
    assert.deepEqual(obj.metadata.managedFields, [
      {
        manager: 'kubectl-create',
        operation: 'Update',
        apiVersion: 'apps/v1',
        time: T0,
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
          'f:spec': { 'f:replicas': {}, 'f:selector': { 'f:matchLabels': { '.': {}, 'f:app': {} } } },
        },
      },
    ]);
  });

  it('an update takes the fields it changes from other managers and leaves the rest', () => {
    const live = written(undefined, deployment(2), 'kubectl-create');
    const next = written(
      live,
      { ...structuredClone(live), spec: { ...(live['spec'] as JsonObject), replicas: 5 } },
      'kubectl-edit',
      T1,
    );
    assert.deepEqual(entryOf(next, 'kubectl-edit')?.fieldsV1, { 'f:spec': { 'f:replicas': {} } });
    assert.equal(entryOf(next, 'kubectl-edit')?.time, T1);
    const creator = entryOf(next, 'kubectl-create');
    assert.deepEqual(creator?.fieldsV1, {
      'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
      'f:spec': { 'f:selector': { 'f:matchLabels': { '.': {}, 'f:app': {} } } },
    });
    assert.equal(creator?.time, T0, 'an entry that only lost fields keeps its time');
  });

  it('a removed field leaves every manager; an emptied entry is dropped', () => {
    const live = written(undefined, deployment(2, { paused: true }), 'a');
    const b = written(
      live,
      { ...structuredClone(live), spec: { ...(live['spec'] as JsonObject), paused: false } },
      'b',
      T1,
    );
    const spec = { ...(b['spec'] as JsonObject) };
    delete spec['paused'];
    const c = written(b, { ...structuredClone(b), spec }, 'c', T1);
    assert.equal(entryOf(c, 'b'), undefined, "b's only field is gone, so is b");
    assert.equal(entryOf(c, 'c'), undefined, 'c added and changed nothing');
    assert.doesNotMatch(JSON.stringify(c.metadata.managedFields), /paused/);
  });

  it('a write that changes nothing keeps every entry as it was', () => {
    const live = written(undefined, deployment(2), 'kubectl-create');
    const again = written(live, structuredClone(live), 'kubectl-create', T1);
    assert.deepEqual(again.metadata.managedFields, live.metadata.managedFields);
    const other = written(live, structuredClone(live), 'someone', T1);
    assert.deepEqual(
      other.metadata.managedFields,
      live.metadata.managedFields,
      'no entry for a no-op writer',
    );
  });

  it('a status write owns status fields only, in an entry of its own subresource', () => {
    const live = written(undefined, deployment(2), 'kubectl-create');
    const next = structuredClone(live);
    next['status'] = { replicas: 2, readyReplicas: 2 };
    next.metadata.managedFields = trackUpdate(live, next, opts('kube-controller-manager', T1, 'status'));
    const e = entryOf(next, 'kube-controller-manager');
    assert.equal(e?.subresource, 'status');
    // Only what changed: `replicas` kept its value and stays unowned.
    assert.deepEqual(e?.fieldsV1, { 'f:status': { 'f:readyReplicas': {} } });
    assert.deepEqual(entryOf(next, 'kubectl-create'), entryOf(live, 'kubectl-create'));
  });

  it('the managedFields a main-resource write carries are its starting point', () => {
    const live = written(undefined, deployment(2), 'kubectl-create');
    const next = structuredClone(live);
    // A client resetting ownership (kube: sending managedFields replaces them).
    next.metadata.managedFields = [
      {
        manager: 'adopted',
        operation: 'Update',
        apiVersion: 'apps/v1',
        time: T0,
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': { 'f:replicas': {} } },
      },
    ] as Json[];
    const out = trackUpdate(live, next, opts('kubectl-replace', T1)) as unknown as Entry[];
    assert.deepEqual(
      out.map((e) => e.manager),
      ['adopted'],
    );
  });

  it('keeps ten Update managers; older ones merge into ancient-changes', () => {
    let obj = written(undefined, deployment(1), 'm00', '2026-01-01T00:00:00Z');
    for (let i = 1; i <= 11; i++) {
      const next = structuredClone(obj);
      const labels = next.metadata.labels as Record<string, string>;
      labels[`k${i}`] = 'v';
      obj = written(
        obj,
        next,
        `m${String(i).padStart(2, '0')}`,
        `2026-01-01T00:${String(i).padStart(2, '0')}:00Z`,
      );
    }
    const updates = entries(obj).filter((e) => e.operation === 'Update');
    assert.equal(updates.length, 10);
    const ancient = entryOf(obj, ANCIENT_CHANGES);
    assert.ok(ancient !== undefined, 'the oldest entries were merged');
    assert.equal(entryOf(obj, 'm00'), undefined);
    assert.equal(entryOf(obj, 'm01'), undefined);
    assert.equal(entryOf(obj, 'm02'), undefined);
    const fields = JSON.stringify(ancient.fieldsV1);
    for (const f of ['f:replicas', 'f:k1', 'f:k2'])
      assert.ok(fields.includes(f), `${f} kept by ${ANCIENT_CHANGES}`);
    assert.ok(entryOf(obj, 'm11') !== undefined);
  });

  it('a later server-side apply of a field an Update manager owns with another value conflicts', () => {
    const live = written(undefined, deployment(2), 'kubectl-create');
    const edited = written(
      live,
      { ...structuredClone(live), spec: { ...(live['spec'] as JsonObject), replicas: 5 } },
      'kubectl-edit',
      T1,
    );
    const applied: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default' },
      spec: { replicas: 3 },
    };
    const ssa = { manager: 'kubectl', force: false, kind: 'Deployment', builtin: true, now: T1 };
    assert.throws(
      () => serverSideApply(edited, applied, ssa),
      (e: unknown) =>
        e instanceof ApiError &&
        e.code === 409 &&
        /conflict with "kubectl-edit" using apps\/v1: \.spec\.replicas/.test(e.message),
    );
    // The same value is shared, not a conflict; forcing takes it.
    serverSideApply(edited, { ...applied, spec: { replicas: 5 } }, ssa);
    const forced = serverSideApply(edited, applied, { ...ssa, force: true });
    assert.equal(entryOf(forced, 'kubectl-edit'), undefined);
  });
});

describe('lab/apiserver managerOf', () => {
  it('takes fieldManager, else the User-Agent up to its first slash', () => {
    assert.equal(managerOf('kubectl-edit', 'kubectl/v1.31.0 (linux/amd64)'), 'kubectl-edit');
    assert.equal(managerOf(undefined, 'kubectl/v1.31.0 (linux/amd64) kubernetes/abc'), 'kubectl');
    assert.equal(managerOf('', 'controller/1.0'), 'controller');
    assert.equal(managerOf(undefined, undefined), '');
    assert.equal(managerOf(undefined, 'x'.repeat(300)).length, 128);
  });

  it('refuses a fieldManager over 128 bytes or with an unprintable character (400)', () => {
    for (const bad of ['m'.repeat(129), 'bad\nname']) {
      assert.throws(
        () => managerOf(bad, undefined),
        (e: unknown) => e instanceof ApiError && e.code === 400 && /invalid field manager/.test(e.message),
      );
    }
  });
});
