import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { deleteAll, setOf } from '../../../../lab/apiserver/patch/fields.ts';
import { serverSideApply } from '../../../../lab/apiserver/patch/index.ts';
import { ApiError } from '../../../../lab/apiserver/types.ts';
import type { Json, JsonObject, KubeObject } from '../../../../lab/apiserver/types.ts';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:05:00Z';

function deployment(spec: JsonObject, metadata: JsonObject = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', ...metadata },
    spec,
  };
}

const opts = (manager: string, force = false, now = T1) => ({
  manager,
  force,
  kind: 'Deployment',
  builtin: true,
  now,
});

/** A live object as the server stores it after an apply by `manager`. */
function created(applied: KubeObject, manager: string): KubeObject {
  const obj = serverSideApply(undefined, applied, opts(manager, false, T0));
  obj.metadata.uid = 'u1';
  obj.metadata.resourceVersion = '5';
  obj.metadata.creationTimestamp = T0;
  obj.metadata.generation = 1;
  return obj;
}

const template = (image: string, extra: JsonObject = {}): JsonObject => ({
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'web', image, ...extra }] },
});

describe('lab/apiserver/patch serverSideApply', () => {
  it('creates the object with a FieldsV1 managedFields entry', () => {
    const obj = serverSideApply(
      undefined,
      deployment({ replicas: 2, template: template('nginx:1') }, { labels: { app: 'web' } }),
      opts('kubectl', false, T0),
    );
    assert.deepEqual(obj.metadata.managedFields, [
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'apps/v1',
        time: T0,
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
          'f:spec': {
            'f:replicas': {},
            'f:template': {
              'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
              'f:spec': {
                'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:image': {}, 'f:name': {} } },
              },
            },
          },
        },
      },
    ]);
    assert.equal(obj.spec && (obj.spec as JsonObject)['replicas'], 2);
  });

  it('re-apply by the same manager removes fields it no longer applies', () => {
    const live = created(
      deployment({ replicas: 2, paused: false, template: template('nginx:1') }),
      'kubectl',
    );
    const next = serverSideApply(
      live,
      deployment({ replicas: 3, template: template('nginx:2') }),
      opts('kubectl'),
    );
    const spec = next['spec'] as JsonObject;
    assert.equal(spec['replicas'], 3);
    assert.equal(spec['paused'], undefined);
    assert.deepEqual(((spec['template'] as JsonObject)['spec'] as JsonObject)['containers'], [
      { name: 'web', image: 'nginx:2' },
    ]);
    assert.equal(next.metadata.uid, 'u1');
    assert.equal(next.metadata.resourceVersion, '5');
    assert.equal(next.metadata.generation, 1);
    assert.equal((next.metadata.managedFields?.[0] as JsonObject)['time'], T1);
  });

  it('keeps a field another manager also owns', () => {
    let live = created(deployment({ replicas: 2, paused: false }), 'a');
    live = serverSideApply(live, deployment({ replicas: 2, paused: false }), opts('b'));
    live = serverSideApply(live, deployment({ replicas: 2 }), opts('a'));
    assert.equal((live['spec'] as JsonObject)['paused'], false);
    assert.deepEqual(
      live.metadata.managedFields?.map((e) => (e as JsonObject)['manager']),
      ['a', 'b'],
    );
  });

  it('a different value owned by another manager is a 409 Conflict worded as Kubernetes does', () => {
    const live = created(deployment({ replicas: 2 }), 'x');
    live.metadata.managedFields = [
      {
        manager: 'kubectl-client-side-apply',
        operation: 'Update',
        apiVersion: 'apps/v1',
        time: T0,
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': { 'f:replicas': {} } },
      },
    ];
    assert.throws(
      () => serverSideApply(live, deployment({ replicas: 5 }), opts('kubectl')),
      (err: unknown) => {
        assert.ok(err instanceof ApiError);
        assert.equal(err.code, 409);
        assert.equal(err.reason, 'Conflict');
        assert.equal(
          err.message,
          'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas',
        );
        assert.deepEqual(err.details, {
          causes: [
            {
              reason: 'FieldManagerConflict',
              message: 'conflict with "kubectl-client-side-apply" using apps/v1',
              field: '.spec.replicas',
            },
          ],
        });
        return true;
      },
    );
  });

  it('lists several conflicts grouped by manager', () => {
    const live = created(deployment({ replicas: 2, template: template('nginx:1') }), 'ci');
    assert.throws(
      () =>
        serverSideApply(live, deployment({ replicas: 3, template: template('nginx:2') }), opts('kubectl')),
      (err: unknown) => {
        assert.ok(err instanceof ApiError);
        assert.equal(
          err.message,
          'Apply failed with 2 conflicts: conflicts with "ci":\n- .spec.replicas\n- .spec.template.spec.containers[name="web"].image',
        );
        return true;
      },
    );
  });

  it('the same value owned by another manager is shared, not a conflict', () => {
    const live = created(deployment({ replicas: 2 }), 'ci');
    const next = serverSideApply(live, deployment({ replicas: 2 }), opts('kubectl'));
    assert.deepEqual(
      next.metadata.managedFields?.map((e) => (e as JsonObject)['fieldsV1']),
      [{ 'f:spec': { 'f:replicas': {} } }, { 'f:spec': { 'f:replicas': {} } }],
    );
  });

  it('force moves ownership of the conflicting field', () => {
    const live = created(deployment({ replicas: 2, paused: true }), 'ci');
    const next = serverSideApply(live, deployment({ replicas: 7 }), opts('kubectl', true));
    assert.equal((next['spec'] as JsonObject)['replicas'], 7);
    assert.deepEqual(
      next.metadata.managedFields?.map((e) => [(e as JsonObject)['manager'], (e as JsonObject)['fieldsV1']]),
      [
        ['ci', { 'f:spec': { 'f:paused': {} } }],
        ['kubectl', { 'f:spec': { 'f:replicas': {} } }],
      ],
    );
  });

  it('a live object without managedFields belongs to before-first-apply', () => {
    const live = deployment({ replicas: 1 }, { uid: 'u', resourceVersion: '1' });
    assert.throws(
      () => serverSideApply(live, deployment({ replicas: 2 }), opts('kubectl')),
      /conflict with "before-first-apply" using apps\/v1: \.spec\.replicas/,
    );
  });

  it("containers merge by name: another manager's container survives", () => {
    let live = created(deployment({ template: template('nginx:1') }), 'a');
    live = serverSideApply(
      live,
      deployment({ template: { spec: { containers: [{ name: 'sidecar', image: 'proxy' }] } } }),
      opts('b'),
    );
    const containers = (((live['spec'] as JsonObject)['template'] as JsonObject)['spec'] as JsonObject)[
      'containers'
    ];
    assert.deepEqual(containers, [
      { name: 'web', image: 'nginx:1' },
      { name: 'sidecar', image: 'proxy' },
    ]);
  });

  it('never applies status or server-owned metadata', () => {
    const live = created(deployment({ replicas: 1 }), 'a');
    live['status'] = { replicas: 1 };
    const applied = deployment({ replicas: 1 }, { uid: 'evil', resourceVersion: '99', generation: 42 });
    applied['status'] = { replicas: 100 };
    const next = serverSideApply(live, applied, opts('a'));
    assert.deepEqual(next['status'], { replicas: 1 });
    assert.equal(next.metadata.uid, 'u1');
    assert.equal(next.metadata.resourceVersion, '5');
    assert.equal(next.metadata.generation, 1);
  });

  it('custom resources treat lists as atomic', () => {
    const cr = (hosts: Json): KubeObject => ({
      apiVersion: 'x.io/v1',
      kind: 'Widget',
      metadata: { name: 'w' },
      spec: { hosts },
    });
    const o = { manager: 'm', force: false, kind: 'Widget', builtin: false, now: T0 };
    const live = serverSideApply(undefined, cr([{ name: 'a' }]), o);
    const next = serverSideApply(live, cr([{ name: 'b' }]), o);
    assert.deepEqual((next['spec'] as JsonObject)['hosts'], [{ name: 'b' }]);
    assert.deepEqual((next.metadata.managedFields?.[0] as JsonObject)['fieldsV1'], {
      'f:spec': { 'f:hosts': {} },
    });
  });

  it('refuses a keyed list item without its key (422) and an empty manager (400)', () => {
    assert.throws(
      () =>
        serverSideApply(
          undefined,
          deployment({ template: { spec: { containers: [{ image: 'x' }] } } }),
          opts('m'),
        ),
      (err: unknown) =>
        err instanceof ApiError && err.code === 422 && /omits key field "name"/.test(err.message),
    );
    assert.throws(
      () => serverSideApply(undefined, deployment({}), opts('')),
      (err: unknown) => err instanceof ApiError && err.code === 400,
    );
  });

  it('an item this manager stops applying is removed from a keyed list; finalizers form a set', () => {
    const live = created(
      deployment(
        {
          template: {
            spec: {
              containers: [
                { name: 'a', image: 'a' },
                { name: 'b', image: 'b' },
              ],
            },
          },
        },
        { finalizers: ['x.io/one', 'x.io/two'] },
      ),
      'm',
    );
    assert.deepEqual((live.metadata.managedFields?.[0] as JsonObject)['fieldsV1'], {
      'f:metadata': { 'f:finalizers': { 'v:"x.io/one"': {}, 'v:"x.io/two"': {} } },
      'f:spec': {
        'f:template': {
          'f:spec': {
            'f:containers': {
              'k:{"name":"a"}': { '.': {}, 'f:image': {}, 'f:name': {} },
              'k:{"name":"b"}': { '.': {}, 'f:image': {}, 'f:name': {} },
            },
          },
        },
      },
    });
    const next = serverSideApply(
      live,
      deployment(
        { template: { spec: { containers: [{ name: 'a', image: 'a' }] } } },
        { finalizers: ['x.io/two'] },
      ),
      opts('m'),
    );
    assert.deepEqual(next.metadata.finalizers, ['x.io/two']);
    assert.deepEqual(
      (((next['spec'] as JsonObject)['template'] as JsonObject)['spec'] as JsonObject)['containers'],
      [{ name: 'a', image: 'a' }],
    );
  });

  it('container ports are keyed by containerPort and protocol (53/TCP and 53/UDP coexist)', () => {
    const ports: Json = [{ containerPort: 53, protocol: 'UDP' }, { containerPort: 53 }];
    const live = created(deployment({ template: { spec: { containers: [{ name: 'dns', ports }] } } }), 'm');
    const set = (live.metadata.managedFields?.[0] as JsonObject)['fieldsV1'] as JsonObject;
    const containers = (
      (((set['f:spec'] as JsonObject)['f:template'] as JsonObject)['f:spec'] as JsonObject)[
        'f:containers'
      ] as JsonObject
    )['k:{"name":"dns"}'] as JsonObject;
    assert.deepEqual(Object.keys(containers['f:ports'] as JsonObject), [
      'k:{"containerPort":53,"protocol":"UDP"}',
      'k:{"containerPort":53,"protocol":"TCP"}',
    ]);
    assert.throws(
      () =>
        serverSideApply(
          undefined,
          deployment({
            template: {
              spec: {
                containers: [
                  { name: 'a', ports: [{ containerPort: 80 }, { containerPort: 80, protocol: 'TCP' }] },
                ],
              },
            },
          }),
          opts('m'),
        ),
      (err: unknown) =>
        err instanceof ApiError && err.code === 422 && /duplicate entries for key/.test(err.message),
    );
  });

  it('keeps a "__proto__" key of the applied object as an ordinary key', () => {
    const applied = JSON.parse(
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"__proto__":{"polluted":"yes"}}}',
    ) as KubeObject;
    const out = serverSideApply(undefined, applied, { ...opts('m'), kind: 'ConfigMap' });
    const data = out['data'] as Record<string, unknown>;
    assert.ok(Object.hasOwn(data, '__proto__'));
    assert.deepEqual(data['__proto__'], { polluted: 'yes' });
    assert.equal(Object.getPrototypeOf(data), Object.prototype);
  });

  it('field paths through "__proto__" (from stored managedFields) never touch Object.prototype', () => {
    const proto = Object.prototype as Record<string, unknown>;
    Object.defineProperty(proto, 'wmCanary', { value: 1, configurable: true, writable: true });
    try {
      const set = setOf([['__proto__', 'f:polluted']]);
      assert.equal(proto['f:polluted'], undefined);
      assert.ok(Object.hasOwn(set, '__proto__'));
      deleteAll({ data: {} }, [['f:__proto__', 'f:wmCanary']]);
      assert.equal(proto['wmCanary'], 1, 'Object.prototype kept its property');
      const live = created(deployment({ replicas: 1 }), 'a');
      live.metadata.managedFields = [
        { manager: 'a', operation: 'Apply', fieldsV1: { 'f:__proto__': { 'f:wmCanary': {} } } },
      ];
      serverSideApply(live, deployment({ replicas: 2 }), opts('a'));
      assert.equal(proto['wmCanary'], 1, 'apply kept it too');
    } finally {
      delete proto['f:polluted'];
      delete proto['wmCanary'];
    }
  });

  it('removing the last applied label removes the labels map', () => {
    const live = created(deployment({ replicas: 1 }, { labels: { app: 'web' } }), 'a');
    const next = serverSideApply(live, deployment({ replicas: 1 }), opts('a'));
    assert.equal(next.metadata.labels, undefined);
    assert.equal(next.metadata.name, 'web');
  });

  describe('taking over from client-side kubectl apply', () => {
    const LAST = 'kubectl.kubernetes.io/last-applied-configuration';
    /** A live object as plain `kubectl apply` leaves it: no managedFields, the annotation set. */
    function clientSideApplied(
      spec: JsonObject,
      lastSpec: JsonObject = spec,
      extra: JsonObject = {},
    ): KubeObject {
      const config = deployment(lastSpec);
      return deployment(spec, {
        uid: 'u',
        resourceVersion: '1',
        annotations: { [LAST]: JSON.stringify(config), ...extra },
      });
    }

    it('lets kubectl take the fields the annotation lists, as if forced', () => {
      const live = clientSideApplied({ replicas: 1, paused: false });
      const next = serverSideApply(live, deployment({ replicas: 3, paused: false }), opts('kubectl'));
      assert.equal((next['spec'] as JsonObject)['replicas'], 3);
      const kubectl = next.metadata.managedFields?.find((e) => (e as JsonObject)['manager'] === 'kubectl');
      assert.deepEqual((kubectl as JsonObject)['fieldsV1'], {
        'f:spec': { 'f:paused': {}, 'f:replicas': {} },
      });
    });

    it('still refuses conflicts on fields the annotation does not list, naming only those', () => {
      const live = clientSideApplied({ replicas: 1, paused: false }, { replicas: 1 });
      assert.throws(
        () => serverSideApply(live, deployment({ replicas: 3, paused: true }), opts('kubectl')),
        (err: unknown) =>
          err instanceof ApiError &&
          err.code === 409 &&
          /1 conflict: conflict with "before-first-apply" using apps\/v1: \.spec\.paused$/.test(err.message),
      );
    });

    it('only for manager kubectl; another manager gets the conflict', () => {
      const live = clientSideApplied({ replicas: 1 });
      assert.throws(
        () => serverSideApply(live, deployment({ replicas: 3 }), opts('helm')),
        /conflict with "before-first-apply" using apps\/v1: \.spec\.replicas/,
      );
    });

    it('an unreadable annotation allows nothing', () => {
      const live = deployment(
        { replicas: 1 },
        { uid: 'u', resourceVersion: '1', annotations: { [LAST]: '{' } },
      );
      assert.throws(() => serverSideApply(live, deployment({ replicas: 3 }), opts('kubectl')), /conflict/);
    });

    it('rewrites the annotation to the new configuration, keys sorted as kube encodes them', () => {
      const live = clientSideApplied({ replicas: 1 });
      const applied = deployment({ replicas: 3 }, { annotations: { team: 'a' } });
      const next = serverSideApply(live, applied, opts('kubectl'));
      const text = next.metadata.annotations?.[LAST] ?? '';
      assert.equal(
        text,
        '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{"team":"a"},"name":"web","namespace":"default"},"spec":{"replicas":3}}\n',
      );
      assert.equal(next.metadata.annotations?.['team'], 'a');
    });

    it('drops the annotation when the new one would pass the 256 KiB total', () => {
      const live = clientSideApplied({ replicas: 1 });
      const applied = deployment({ replicas: 3 }, { annotations: { big: 'x'.repeat(140 * 1024) } });
      const next = serverSideApply(live, applied, opts('kubectl'));
      assert.equal(next.metadata.annotations?.[LAST], undefined);
      assert.equal(next.metadata.annotations?.['big']?.length, 140 * 1024);
    });

    it('adds no annotation to an object that had none', () => {
      const live = created(deployment({ replicas: 1 }), 'kubectl');
      const next = serverSideApply(live, deployment({ replicas: 2 }), opts('kubectl'));
      assert.equal(next.metadata.annotations, undefined);
    });
  });
});

describe('lab/apiserver/patch serverSideApply on large objects', function () {
  // A 3 MiB apply body holds ~100,000 fields. Compared field by field against every other
  // manager's fields (as before), two managers applying them kept the API server's only thread
  // busy for hours; through sets it takes a few seconds. The timeout only catches the quadratic case.
  this.timeout(60_000);
  const N = 50_000;
  const cm = (n: number, value: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'big', namespace: 'default' },
    data: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value])),
  });
  const o = (manager: string, force = false) => ({
    manager,
    force,
    kind: 'ConfigMap',
    builtin: true,
    now: T1,
  });

  it('shares, conflicts on and gives up fields of many managers in time', () => {
    const a = serverSideApply(undefined, cm(N, 'x'), o('a'));
    const shared = serverSideApply(a, cm(N, 'x'), o('b'));
    assert.equal(shared.metadata.managedFields?.length, 2, 'both managers own the same values');
    assert.throws(
      () => serverSideApply(shared, cm(N, 'y'), o('b')),
      (err: unknown) => err instanceof ApiError && err.code === 409,
    );
    // a applies fewer fields: those b also owns stay, none is removed.
    const fewer = serverSideApply(shared, cm(N / 2, 'x'), o('a'));
    assert.equal(Object.keys(fewer['data'] as JsonObject).length, N);
    // b gives them all up: the ones only b owned now are removed.
    const gone = serverSideApply(fewer, cm(10, 'x'), o('b'));
    assert.equal(Object.keys(gone['data'] as JsonObject).length, N / 2);
  });

  it('does the same for list items matched by merge key', () => {
    const M = 20_000;
    const dep = (n: number, image: string): KubeObject =>
      deployment({
        template: {
          spec: { containers: Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image })) },
        },
      });
    const containers = (obj: KubeObject): JsonObject[] =>
      ((obj['spec'] as JsonObject)['template'] as { spec: { containers: JsonObject[] } }).spec.containers;
    const a = serverSideApply(undefined, dep(M, 'x'), opts('a'));
    const shared = serverSideApply(a, dep(M, 'x'), opts('b'));
    assert.throws(
      () => serverSideApply(shared, dep(M, 'y'), opts('b')),
      (err: unknown) => err instanceof ApiError && err.code === 409,
    );
    const fewer = serverSideApply(shared, dep(M / 2, 'x'), opts('a'));
    assert.equal(containers(fewer).length, M);
    const gone = serverSideApply(fewer, dep(10, 'x'), opts('b'));
    assert.equal(containers(gone).length, M / 2);
    assert.deepEqual(containers(gone)[M / 2 - 1], { name: `c${M / 2 - 1}`, image: 'x' });
  });
});
