// Rollout arithmetic of the Deployment controller: int-or-percent values, scale up and down,
// RollingUpdate bounded by maxSurge/maxUnavailable step by step, and Recreate.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { V1Pod } from '@kubernetes/client-node';

import { intOrPercent, planRollout, type RolloutPlan } from '../../../../lab/controllers/rollout.ts';
import { isPodReady } from '../../../../lab/kube/objects.ts';

/** A pod of template `hash`, ready or not, created at `created` (a Date as client-node types it). */
function pod(
  name: string,
  hash: string,
  ready: boolean,
  created: Date | string = '2024-05-01T00:00:00Z',
): V1Pod {
  return {
    metadata: {
      name,
      namespace: 'demo',
      labels: { app: 'web', 'pod-template-hash': hash },
      // The cache holds JSON (strings) while client-node's type says Date: accept both.
      creationTimestamp: created as Date,
    },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}

function names(pods: readonly V1Pod[]): string[] {
  return pods.map((p) => p.metadata?.name ?? '').sort();
}

function pods(prefix: string, hash: string, count: number, ready: boolean): V1Pod[] {
  return Array.from({ length: count }, (_, i) => pod(`${prefix}${i}`, hash, ready));
}

describe('lab/controllers/rollout', () => {
  describe('intOrPercent', () => {
    const cases: {
      name: string;
      value: number | string | undefined;
      total: number;
      fallback: string;
      roundUp: boolean;
      want: number;
    }[] = [
      { name: 'a number is taken as is', value: 2, total: 10, fallback: '25%', roundUp: true, want: 2 },
      { name: 'zero stays zero', value: 0, total: 10, fallback: '25%', roundUp: true, want: 0 },
      { name: 'a numeric string', value: '3', total: 10, fallback: '25%', roundUp: false, want: 3 },
      { name: 'percent rounded up', value: '25%', total: 3, fallback: '0', roundUp: true, want: 1 },
      { name: 'percent rounded down', value: '25%', total: 3, fallback: '0', roundUp: false, want: 0 },
      { name: 'exact percent', value: '50%', total: 4, fallback: '0', roundUp: false, want: 2 },
      { name: '100 percent', value: '100%', total: 7, fallback: '0', roundUp: true, want: 7 },
      {
        name: 'undefined → percent fallback up',
        value: undefined,
        total: 10,
        fallback: '25%',
        roundUp: true,
        want: 3,
      },
      {
        name: 'undefined → percent fallback down',
        value: undefined,
        total: 10,
        fallback: '25%',
        roundUp: false,
        want: 2,
      },
      {
        name: 'undefined → numeric fallback',
        value: undefined,
        total: 10,
        fallback: '1',
        roundUp: false,
        want: 1,
      },
      { name: 'garbage is 0', value: 'lots', total: 10, fallback: '25%', roundUp: true, want: 0 },
      { name: 'percent of zero replicas', value: '25%', total: 0, fallback: '0', roundUp: true, want: 0 },
    ];
    for (const c of cases) {
      it(c.name, () => assert.equal(intOrPercent(c.value, c.total, c.fallback, c.roundUp), c.want));
    }
  });

  describe('planRollout (RollingUpdate)', () => {
    const base = { strategy: 'RollingUpdate' as const, maxSurge: 1, maxUnavailable: 0 };

    it('scales up from zero to the full replica count at once', () => {
      const plan = planRollout({ ...base, replicas: 4, newPods: [], oldPods: [] });
      assert.deepEqual(plan, { create: 4, delete: [] });
    });

    it('creates the missing pods when scaling up without old pods (surge does not apply)', () => {
      const plan = planRollout({ ...base, replicas: 5, newPods: pods('n', 'new', 2, true), oldPods: [] });
      assert.deepEqual(plan, { create: 3, delete: [] });
    });

    it('does nothing when the new template has exactly the replicas', () => {
      const plan = planRollout({ ...base, replicas: 3, newPods: pods('n', 'new', 3, true), oldPods: [] });
      assert.deepEqual(plan, { create: 0, delete: [] });
    });

    it('scales down surplus pods: not ready first', () => {
      const newPods = [
        pod('a', 'new', true),
        pod('b', 'new', false),
        pod('c', 'new', true),
        pod('d', 'new', false),
      ];
      const plan = planRollout({ ...base, replicas: 2, newPods, oldPods: [] });
      assert.equal(plan.create, 0);
      assert.deepEqual(names(plan.delete), ['b', 'd']);
    });

    it('scales down surplus pods: newest first among equally ready (regression: Date timestamps were compared as weekday text)', () => {
      // Thu 2024-01-04 is older than Fri 2024-01-05, though "Thu…" sorts after "Fri…" as text.
      const newPods = [
        pod('thu', 'new', true, new Date('2024-01-04T00:00:00Z')),
        pod('fri', 'new', true, new Date('2024-01-05T00:00:00Z')),
        pod('wed', 'new', true, new Date('2024-01-03T00:00:00Z')),
      ];
      const plan = planRollout({ ...base, replicas: 2, newPods, oldPods: [] });
      assert.deepEqual(names(plan.delete), ['fri']);
    });

    it('scales down surplus pods: newest first among equally ready (string timestamps)', () => {
      const newPods = [
        pod('old', 'new', true, '2024-01-04T00:00:00Z'),
        pod('newest', 'new', true, '2024-01-05T10:00:00Z'),
        pod('mid', 'new', true, '2024-01-05T09:00:00Z'),
      ];
      const plan = planRollout({ ...base, replicas: 1, newPods, oldPods: [] });
      assert.deepEqual(names(plan.delete), ['mid', 'newest']);
    });

    it('scales to zero by deleting every pod', () => {
      const plan = planRollout({ ...base, replicas: 0, newPods: pods('n', 'new', 3, true), oldPods: [] });
      assert.deepEqual(plan.create, 0);
      assert.deepEqual(names(plan.delete), ['n0', 'n1', 'n2']);
    });

    it('starts a template change by surging, without removing ready old pods (maxUnavailable 0)', () => {
      const plan = planRollout({ ...base, replicas: 3, newPods: [], oldPods: pods('o', 'old', 3, true) });
      assert.deepEqual(plan, { create: 1, delete: [] });
    });

    it('removes old pods first when maxSurge is 0', () => {
      const plan = planRollout({
        replicas: 3,
        strategy: 'RollingUpdate',
        maxSurge: 0,
        maxUnavailable: 1,
        newPods: [],
        oldPods: pods('o', 'old', 3, true),
      });
      assert.equal(plan.create, 0);
      assert.equal(plan.delete.length, 1);
    });

    it('treats maxSurge 0 and maxUnavailable 0 as maxUnavailable 1 (never stalls)', () => {
      const plan = planRollout({
        replicas: 3,
        strategy: 'RollingUpdate',
        maxSurge: 0,
        maxUnavailable: 0,
        newPods: [],
        oldPods: pods('o', 'old', 3, true),
      });
      assert.equal(plan.create, 0);
      assert.equal(plan.delete.length, 1);
    });

    it('deletes every not-ready old pod at once (they carry no traffic)', () => {
      const oldPods = [pod('o0', 'old', false), pod('o1', 'old', true), pod('o2', 'old', false)];
      const plan = planRollout({ ...base, replicas: 3, newPods: [], oldPods });
      assert.deepEqual(names(plan.delete), ['o0', 'o2']);
    });

    it('removes as many ready old pods as new ready pods allow', () => {
      const plan = planRollout({
        replicas: 4,
        strategy: 'RollingUpdate',
        maxSurge: 2,
        maxUnavailable: 1,
        newPods: pods('n', 'new', 2, true),
        oldPods: pods('o', 'old', 4, true),
      });
      // 6 ready, at least 3 must stay: 3 old pods may go. Room: 4+2-6 = 0 → nothing created.
      assert.equal(plan.create, 0);
      assert.equal(plan.delete.length, 3);
      assert.ok(plan.delete.every((p) => p.metadata?.labels?.['pod-template-hash'] === 'old'));
    });

    it('keeps old pods while new ones are not ready yet', () => {
      const plan = planRollout({
        ...base,
        replicas: 3,
        newPods: pods('n', 'new', 1, false),
        oldPods: pods('o', 'old', 3, true),
      });
      assert.deepEqual(plan, { create: 0, delete: [] });
    });

    interface Step {
      create: number;
      deleteOld: number;
      deleteNew: number;
    }

    /**
     * Runs the controller loop: applies each plan (created pods start not ready), then lets every
     * new pod become ready, checking the surge and availability bounds after each half-step.
     */
    function simulate(opts: {
      replicas: number;
      maxSurge: number;
      maxUnavailable: number;
      old: number;
    }): Step[] {
      const { replicas, maxSurge } = opts;
      const effectiveUnavailable = opts.maxSurge === 0 && opts.maxUnavailable === 0 ? 1 : opts.maxUnavailable;
      let newPods: V1Pod[] = [];
      let oldPods = pods('o', 'old', opts.old, true);
      let serial = 0;
      const steps: Step[] = [];
      for (let i = 0; i < 50; i++) {
        const plan: RolloutPlan = planRollout({
          replicas,
          strategy: 'RollingUpdate',
          maxSurge,
          maxUnavailable: opts.maxUnavailable,
          newPods,
          oldPods,
        });
        if (plan.create === 0 && plan.delete.length === 0) return steps;
        const gone = new Set(plan.delete);
        const step = {
          create: plan.create,
          deleteOld: oldPods.filter((p) => gone.has(p)).length,
          deleteNew: newPods.filter((p) => gone.has(p)).length,
        };
        steps.push(step);
        oldPods = oldPods.filter((p) => !gone.has(p));
        newPods = newPods.filter((p) => !gone.has(p));
        for (let c = 0; c < plan.create; c++) newPods.push(pod(`n${serial++}`, 'new', false));
        const total = oldPods.length + newPods.length;
        assert.ok(total <= replicas + maxSurge, `step ${i}: ${total} pods exceed replicas + maxSurge`);
        const available = [...oldPods, ...newPods].filter(isPodReady).length;
        assert.ok(
          available >= replicas - effectiveUnavailable,
          `step ${i}: only ${available} pods available`,
        );
        newPods = newPods.map((p) => pod(p.metadata?.name ?? '', 'new', true));
      }
      assert.fail('rollout did not converge in 50 steps');
    }

    const progressions: {
      name: string;
      opts: { replicas: number; maxSurge: number; maxUnavailable: number; old: number };
      want: Step[];
    }[] = [
      {
        name: 'maxSurge 1, maxUnavailable 0: one new pod at a time, old removed once it is ready',
        opts: { replicas: 3, maxSurge: 1, maxUnavailable: 0, old: 3 },
        want: [
          { create: 1, deleteOld: 0, deleteNew: 0 },
          { create: 0, deleteOld: 1, deleteNew: 0 },
          { create: 1, deleteOld: 0, deleteNew: 0 },
          { create: 0, deleteOld: 1, deleteNew: 0 },
          { create: 1, deleteOld: 0, deleteNew: 0 },
          { create: 0, deleteOld: 1, deleteNew: 0 },
        ],
      },
      {
        name: 'maxSurge 0, maxUnavailable 1: remove one old, then replace it',
        opts: { replicas: 3, maxSurge: 0, maxUnavailable: 1, old: 3 },
        want: [
          { create: 0, deleteOld: 1, deleteNew: 0 },
          { create: 1, deleteOld: 0, deleteNew: 0 },
          { create: 0, deleteOld: 1, deleteNew: 0 },
          { create: 1, deleteOld: 0, deleteNew: 0 },
          { create: 0, deleteOld: 1, deleteNew: 0 },
          { create: 1, deleteOld: 0, deleteNew: 0 },
        ],
      },
      {
        name: 'maxSurge 0, maxUnavailable 0 behaves as maxUnavailable 1',
        opts: { replicas: 2, maxSurge: 0, maxUnavailable: 0, old: 2 },
        want: [
          { create: 0, deleteOld: 1, deleteNew: 0 },
          { create: 1, deleteOld: 0, deleteNew: 0 },
          { create: 0, deleteOld: 1, deleteNew: 0 },
          { create: 1, deleteOld: 0, deleteNew: 0 },
        ],
      },
      {
        name: 'default 25%/25% of 4 (surge 1, unavailable 1): create one and remove one per step',
        opts: { replicas: 4, maxSurge: 1, maxUnavailable: 1, old: 4 },
        want: [
          { create: 1, deleteOld: 1, deleteNew: 0 },
          { create: 1, deleteOld: 1, deleteNew: 0 },
          { create: 1, deleteOld: 1, deleteNew: 0 },
          { create: 1, deleteOld: 1, deleteNew: 0 },
        ],
      },
      {
        name: 'template change while scaling down from 4 old to 2',
        opts: { replicas: 2, maxSurge: 1, maxUnavailable: 0, old: 4 },
        want: [
          { create: 0, deleteOld: 2, deleteNew: 0 },
          { create: 1, deleteOld: 0, deleteNew: 0 },
          { create: 0, deleteOld: 1, deleteNew: 0 },
          { create: 1, deleteOld: 0, deleteNew: 0 },
          { create: 0, deleteOld: 1, deleteNew: 0 },
        ],
      },
    ];
    for (const c of progressions) {
      it(`progresses step by step until only new pods remain: ${c.name}`, () => {
        const steps = simulate(c.opts);
        assert.deepEqual(steps, c.want);
        const created = steps.reduce((n, s) => n + s.create - s.deleteNew, 0);
        const deletedOld = steps.reduce((n, s) => n + s.deleteOld, 0);
        assert.equal(created, c.opts.replicas);
        assert.equal(deletedOld, c.opts.old);
      });
    }
  });

  describe('planRollout (Recreate)', () => {
    const base = { strategy: 'Recreate' as const, maxSurge: 0, maxUnavailable: 0 };

    it('deletes every old pod before creating anything', () => {
      const oldPods = [pod('o0', 'old', true), pod('o1', 'old', false)];
      const plan = planRollout({ ...base, replicas: 2, newPods: [], oldPods });
      assert.equal(plan.create, 0);
      assert.deepEqual(names(plan.delete), ['o0', 'o1']);
    });

    it('does not create new pods while old ones remain, even when new ones are missing', () => {
      const plan = planRollout({
        ...base,
        replicas: 3,
        newPods: pods('n', 'new', 1, true),
        oldPods: pods('o', 'old', 1, true),
      });
      assert.equal(plan.create, 0);
      assert.deepEqual(names(plan.delete), ['o0']);
    });

    it('creates all new pods once the old ones are gone', () => {
      assert.deepEqual(planRollout({ ...base, replicas: 3, newPods: [], oldPods: [] }), {
        create: 3,
        delete: [],
      });
    });

    it('scales down surplus new pods, not ready first', () => {
      const newPods = [pod('a', 'new', true), pod('b', 'new', false), pod('c', 'new', true)];
      const plan = planRollout({ ...base, replicas: 2, newPods, oldPods: [] });
      assert.deepEqual(plan.create, 0);
      assert.deepEqual(names(plan.delete), ['b']);
    });

    it('is idle at the desired count', () => {
      assert.deepEqual(
        planRollout({ ...base, replicas: 2, newPods: pods('n', 'new', 2, false), oldPods: [] }),
        {
          create: 0,
          delete: [],
        },
      );
    });
  });
});
