// Helpers over Kubernetes objects: label selectors, plain map selectors, controller owner
// references, the short template hash, and pod readiness / goneness.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { V1LabelSelector, V1Pod, V1PodCondition } from '@kubernetes/client-node';

import {
  controllerRef,
  isPodGone,
  isPodReady,
  matchesMap,
  matchesSelector,
  ownedBy,
  shortHash,
} from '../../../../lab/kube/objects.ts';

function pod(opts: {
  conditions?: V1PodCondition[];
  phase?: string;
  deleting?: boolean;
  owners?: { uid: string; controller?: boolean }[];
}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace: 'demo',
      ...(opts.deleting === true ? { deletionTimestamp: new Date('2024-05-01T00:00:00Z') } : {}),
      ...(opts.owners === undefined
        ? {}
        : {
            ownerReferences: opts.owners.map((o) => ({
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              name: 'd',
              uid: o.uid,
              ...(o.controller === undefined ? {} : { controller: o.controller }),
            })),
          }),
    },
    status: {
      ...(opts.phase === undefined ? {} : { phase: opts.phase }),
      ...(opts.conditions === undefined ? {} : { conditions: opts.conditions }),
    },
  };
}

const LABELS = { app: 'web', tier: 'front', empty: '' };

describe('lab/kube/objects', () => {
  describe('matchesSelector', () => {
    const cases: {
      name: string;
      selector: V1LabelSelector | undefined;
      labels?: Record<string, string>;
      want: boolean;
    }[] = [
      { name: 'undefined selector matches nothing', selector: undefined, want: false },
      { name: 'empty selector matches everything', selector: {}, want: true },
      { name: 'empty selector matches unlabelled objects', selector: {}, labels: undefined, want: true },
      {
        name: 'matchLabels all present',
        selector: { matchLabels: { app: 'web', tier: 'front' } },
        want: true,
      },
      { name: 'matchLabels value differs', selector: { matchLabels: { app: 'db' } }, want: false },
      { name: 'matchLabels key missing', selector: { matchLabels: { zone: 'a' } }, want: false },
      {
        name: 'matchLabels with an empty value',
        selector: { matchLabels: { empty: '' } },
        want: true,
      },
      {
        name: 'matchLabels on unlabelled object',
        selector: { matchLabels: { app: 'web' } },
        labels: undefined,
        want: false,
      },
      {
        name: 'In with a listed value',
        selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'web'] }] },
        want: true,
      },
      {
        name: 'In with an unlisted value',
        selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] },
        want: false,
      },
      {
        name: 'In with the key missing',
        selector: { matchExpressions: [{ key: 'zone', operator: 'In', values: [''] }] },
        want: false,
      },
      {
        name: 'In matches an empty label value listed as ""',
        selector: { matchExpressions: [{ key: 'empty', operator: 'In', values: [''] }] },
        want: true,
      },
      {
        name: 'NotIn with a listed value',
        selector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] },
        want: false,
      },
      {
        name: 'NotIn with an unlisted value',
        selector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['db'] }] },
        want: true,
      },
      {
        name: 'NotIn with the key missing matches',
        selector: { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] },
        want: true,
      },
      {
        name: 'Exists with the key present',
        selector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] },
        want: true,
      },
      {
        name: 'Exists with an empty-valued key',
        selector: { matchExpressions: [{ key: 'empty', operator: 'Exists' }] },
        want: true,
      },
      {
        name: 'Exists with the key missing',
        selector: { matchExpressions: [{ key: 'zone', operator: 'Exists' }] },
        want: false,
      },
      {
        name: 'DoesNotExist with the key missing',
        selector: { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] },
        want: true,
      },
      {
        name: 'DoesNotExist with the key present',
        selector: { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] },
        want: false,
      },
      {
        name: 'matchLabels and matchExpressions are ANDed (both hold)',
        selector: {
          matchLabels: { app: 'web' },
          matchExpressions: [
            { key: 'tier', operator: 'In', values: ['front'] },
            { key: 'zone', operator: 'DoesNotExist' },
          ],
        },
        want: true,
      },
      {
        name: 'matchLabels and matchExpressions are ANDed (one expression fails)',
        selector: {
          matchLabels: { app: 'web' },
          matchExpressions: [
            { key: 'tier', operator: 'In', values: ['front'] },
            { key: 'app', operator: 'NotIn', values: ['web'] },
          ],
        },
        want: false,
      },
      {
        name: 'keys are not inherited from Object.prototype',
        selector: { matchExpressions: [{ key: 'toString', operator: 'Exists' }] },
        want: false,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const labels = 'labels' in c ? c.labels : LABELS;
        assert.equal(matchesSelector(c.selector, labels), c.want);
      });
    }
  });

  describe('matchesMap', () => {
    const cases: {
      name: string;
      selector: Record<string, string> | undefined;
      labels: Record<string, string> | undefined;
      want: boolean;
    }[] = [
      { name: 'undefined selector selects nothing', selector: undefined, labels: LABELS, want: false },
      { name: 'empty selector selects nothing', selector: {}, labels: LABELS, want: false },
      { name: 'every pair present', selector: { app: 'web', tier: 'front' }, labels: LABELS, want: true },
      { name: 'one value differs', selector: { app: 'web', tier: 'back' }, labels: LABELS, want: false },
      { name: 'key missing', selector: { zone: 'a' }, labels: LABELS, want: false },
      { name: 'unlabelled object', selector: { app: 'web' }, labels: undefined, want: false },
    ];
    for (const c of cases) {
      it(c.name, () => assert.equal(matchesMap(c.selector, c.labels), c.want));
    }
  });

  describe('ownedBy', () => {
    const cases: {
      name: string;
      owners?: { uid: string; controller?: boolean }[];
      uid: string | undefined;
      want: boolean;
    }[] = [
      {
        name: 'controller reference with the uid',
        owners: [{ uid: 'u1', controller: true }],
        uid: 'u1',
        want: true,
      },
      {
        name: 'second of several references',
        owners: [
          { uid: 'u0', controller: false },
          { uid: 'u1', controller: true },
        ],
        uid: 'u1',
        want: true,
      },
      {
        name: 'non-controller reference',
        owners: [{ uid: 'u1', controller: false }],
        uid: 'u1',
        want: false,
      },
      { name: 'reference without controller flag', owners: [{ uid: 'u1' }], uid: 'u1', want: false },
      { name: 'other uid', owners: [{ uid: 'u2', controller: true }], uid: 'u1', want: false },
      { name: 'no references', uid: 'u1', want: false },
      { name: 'undefined owner uid', owners: [{ uid: '', controller: true }], uid: undefined, want: false },
    ];
    for (const c of cases) {
      it(c.name, () =>
        assert.equal(ownedBy(pod(c.owners === undefined ? {} : { owners: c.owners }), c.uid), c.want),
      );
    }
  });

  describe('controllerRef', () => {
    it('points at the owner as its controller and blocks its deletion', () => {
      assert.deepEqual(
        controllerRef({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'web', namespace: 'demo', uid: 'uid-1' },
        }),
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: 'web',
          uid: 'uid-1',
          controller: true,
          blockOwnerDeletion: true,
        },
      );
    });

    it('round-trips through ownedBy', () => {
      const owner = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds', uid: 'uid-9' } };
      const child: V1Pod = { metadata: { name: 'c', ownerReferences: [controllerRef(owner)] } };
      assert.equal(ownedBy(child, 'uid-9'), true);
    });

    it('uses empty strings for missing fields', () => {
      assert.deepEqual(controllerRef({}), {
        apiVersion: '',
        kind: '',
        name: '',
        uid: '',
        controller: true,
        blockOwnerDeletion: true,
      });
    });
  });

  describe('shortHash', () => {
    it('is deterministic and 10 lowercase hex characters by default', () => {
      const a = shortHash({ spec: { containers: [{ name: 'c', image: 'waymesh/echo' }] } });
      assert.match(a, /^[0-9a-f]{10}$/);
      assert.equal(a, shortHash({ spec: { containers: [{ name: 'c', image: 'waymesh/echo' }] } }));
    });

    it('honours the requested length', () => {
      assert.match(shortHash('x', 5), /^[0-9a-f]{5}$/);
      assert.equal(shortHash('x', 5), shortHash('x').slice(0, 5));
    });

    it('changes when the value changes', () => {
      assert.notEqual(shortHash({ image: 'waymesh/echo:1' }), shortHash({ image: 'waymesh/echo:2' }));
    });

    it('is the sha256 of the JSON text', () => {
      // sha256("\"abc\"") starts with 6cc43f858f
      assert.equal(shortHash('abc'), '6cc43f858f');
    });
  });

  describe('isPodReady', () => {
    const cases: { name: string; conditions?: V1PodCondition[]; want: boolean }[] = [
      { name: 'no status conditions', want: false },
      { name: 'Ready True', conditions: [{ type: 'Ready', status: 'True' }], want: true },
      { name: 'Ready False', conditions: [{ type: 'Ready', status: 'False' }], want: false },
      { name: 'Ready Unknown', conditions: [{ type: 'Ready', status: 'Unknown' }], want: false },
      {
        name: 'only ContainersReady True',
        conditions: [
          { type: 'ContainersReady', status: 'True' },
          { type: 'Ready', status: 'False' },
        ],
        want: false,
      },
      {
        name: 'Ready True among others',
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Ready', status: 'True' },
        ],
        want: true,
      },
    ];
    for (const c of cases) {
      it(c.name, () =>
        assert.equal(isPodReady(pod(c.conditions === undefined ? {} : { conditions: c.conditions })), c.want),
      );
    }
  });

  describe('isPodGone', () => {
    const cases: { name: string; phase?: string; deleting?: boolean; want: boolean }[] = [
      { name: 'running pod', phase: 'Running', want: false },
      { name: 'pending pod', phase: 'Pending', want: false },
      { name: 'pod without status phase', want: false },
      { name: 'succeeded pod', phase: 'Succeeded', want: true },
      { name: 'failed pod', phase: 'Failed', want: true },
      { name: 'terminating running pod', phase: 'Running', deleting: true, want: true },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const p = pod({
          ...(c.phase === undefined ? {} : { phase: c.phase }),
          ...(c.deleting === undefined ? {} : { deleting: c.deleting }),
        });
        assert.equal(isPodGone(p), c.want);
      });
    }
  });
});

describe('lab/kube/objects shortHash key order', () => {
  it('hashes equal templates with different key order equally (regression: a reordered template started a rollout)', () => {
    assert.equal(
      shortHash({ a: 1, b: { c: 2, d: [1, { e: 1, f: 2 }] } }),
      shortHash({ b: { d: [1, { f: 2, e: 1 }], c: 2 }, a: 1 }),
    );
    assert.notEqual(shortHash({ a: 1 }), shortHash({ a: 2 }));
  });
});
