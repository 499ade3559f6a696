// The pod status a kubelet reports for its containers' states: phase, conditions,
// container statuses (running / waiting / terminated, lastState) and stable transition times.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { V1ContainerStatus, V1Pod, V1PodCondition } from '@kubernetes/client-node';

import { podStatus, type ContainerState } from '../../../../lab/kubelet/container-state.ts';

const NET = { podIP: '10.244.1.4', hostIP: '10.0.0.1', startTime: '2024-05-01T00:00:00.000Z' };
const STARTED = '2024-05-01T00:00:01.000Z';
const FINISHED = '2024-05-01T00:00:09.000Z';

/** A container state; `state` picks a typical shape the pod worker produces. */
function cs(
  name: string,
  state: 'creating' | 'running' | 'ready' | 'exited0' | 'exited1' | 'crashloop' | 'pullError',
  opts: { init?: boolean; final?: boolean; restartCount?: number } = {},
): ContainerState {
  const base: ContainerState = {
    spec: { name, image: `waymesh/${name}` },
    init: opts.init ?? false,
    restartCount: opts.restartCount ?? 0,
    ready: false,
    final: opts.final ?? false,
  };
  switch (state) {
    case 'creating':
      return base;
    case 'running':
      return { ...base, pid: 100, startedAt: STARTED };
    case 'ready':
      return { ...base, pid: 101, startedAt: STARTED, ready: true };
    case 'exited0':
    case 'exited1': {
      const code = state === 'exited0' ? 0 : 1;
      return {
        ...base,
        pid: 102,
        startedAt: STARTED,
        terminated: {
          exitCode: code,
          reason: code === 0 ? 'Completed' : 'Error',
          startedAt: STARTED,
          finishedAt: FINISHED,
        },
      };
    }
    case 'crashloop':
      // As the worker leaves it after an exit with restartPolicy Always: pid cleared, waiting set.
      return {
        ...base,
        restartCount: opts.restartCount ?? 1,
        waiting: { reason: 'CrashLoopBackOff', message: 'back-off 1s' },
        terminated: { exitCode: 2, reason: 'Error', startedAt: STARTED, finishedAt: FINISHED },
        lastTerminated: { exitCode: 2, reason: 'Error', startedAt: STARTED, finishedAt: FINISHED },
      };
    case 'pullError':
      return { ...base, waiting: { reason: 'ErrImagePull', message: 'not in the catalogue' } };
  }
}

function pod(conditions: V1PodCondition[] = []): V1Pod {
  return { metadata: { name: 'p', namespace: 'demo' }, spec: { containers: [] }, status: { conditions } };
}

interface Status {
  phase: string;
  conditions: { type: string; status: string; lastTransitionTime: string; reason?: string }[];
  containerStatuses: V1ContainerStatus[];
  initContainerStatuses?: V1ContainerStatus[];
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP: string;
  hostIPs: { ip: string }[];
  startTime: string;
  qosClass: string;
}

function status(
  containers: ContainerState[],
  opts: { pod?: V1Pod; terminating?: boolean; podIP?: string | null } = {},
): Status {
  const net =
    opts.podIP === null
      ? { hostIP: NET.hostIP, startTime: NET.startTime }
      : { ...NET, ...(opts.podIP === undefined ? {} : { podIP: opts.podIP }) };
  return podStatus(opts.pod ?? pod(), containers, net, opts.terminating ?? false) as unknown as Status;
}

function conditions(s: Status): Record<string, string> {
  return Object.fromEntries(s.conditions.map((c) => [c.type, c.status]));
}

describe('lab/kubelet/container-state podStatus', () => {
  describe('phase', () => {
    const cases: { name: string; containers: ContainerState[]; want: string }[] = [
      { name: 'no container started yet', containers: [cs('a', 'creating')], want: 'Pending' },
      { name: 'image cannot be pulled', containers: [cs('a', 'pullError')], want: 'Pending' },
      {
        name: 'init container running',
        containers: [cs('init', 'running', { init: true }), cs('a', 'creating')],
        want: 'Pending',
      },
      {
        name: 'init done, app container starting',
        containers: [cs('init', 'exited0', { init: true }), cs('a', 'creating')],
        want: 'Pending',
      },
      { name: 'a container running', containers: [cs('a', 'running'), cs('b', 'creating')], want: 'Running' },
      { name: 'a container ready', containers: [cs('a', 'ready')], want: 'Running' },
      { name: 'crash looping (restarted)', containers: [cs('a', 'crashloop')], want: 'Running' },
      {
        name: 'one container exited, not final (about to restart)',
        containers: [cs('a', 'exited1'), cs('b', 'creating')],
        want: 'Running',
      },
      {
        name: 'all final and exited 0',
        containers: [cs('a', 'exited0', { final: true })],
        want: 'Succeeded',
      },
      {
        name: 'all final with init containers, all exited 0',
        containers: [cs('init', 'exited0', { init: true, final: true }), cs('a', 'exited0', { final: true })],
        want: 'Succeeded',
      },
      {
        name: 'all final, one exited 1',
        containers: [cs('a', 'exited0', { final: true }), cs('b', 'exited1', { final: true })],
        want: 'Failed',
      },
      {
        name: 'one final and one still running',
        containers: [cs('a', 'exited0', { final: true }), cs('b', 'running')],
        want: 'Running',
      },
      {
        name: 'all final but one never ran',
        containers: [cs('a', 'exited0', { final: true }), cs('b', 'creating', { final: true })],
        want: 'Failed',
      },
    ];
    for (const c of cases) {
      it(c.name, () => assert.equal(status(c.containers).phase, c.want));
    }
  });

  describe('conditions', () => {
    const cases: {
      name: string;
      containers: ContainerState[];
      terminating?: boolean;
      podIP?: string | null;
      want: Record<string, string>;
    }[] = [
      {
        name: 'all app containers ready',
        containers: [cs('a', 'ready'), cs('b', 'ready')],
        want: {
          PodReadyToStartContainers: 'True',
          Initialized: 'True',
          Ready: 'True',
          ContainersReady: 'True',
          PodScheduled: 'True',
        },
      },
      {
        name: 'one app container not ready',
        containers: [cs('a', 'ready'), cs('b', 'running')],
        want: {
          PodReadyToStartContainers: 'True',
          Initialized: 'True',
          Ready: 'False',
          ContainersReady: 'False',
          PodScheduled: 'True',
        },
      },
      {
        name: 'terminating: Ready False although containers are ready',
        containers: [cs('a', 'ready')],
        terminating: true,
        want: {
          PodReadyToStartContainers: 'True',
          Initialized: 'True',
          Ready: 'False',
          ContainersReady: 'True',
          PodScheduled: 'True',
        },
      },
      {
        name: 'init container still running',
        containers: [cs('init', 'running', { init: true }), cs('a', 'creating')],
        want: {
          PodReadyToStartContainers: 'True',
          Initialized: 'False',
          Ready: 'False',
          ContainersReady: 'False',
          PodScheduled: 'True',
        },
      },
      {
        name: 'init container failed',
        containers: [cs('init', 'exited1', { init: true }), cs('a', 'creating')],
        want: {
          PodReadyToStartContainers: 'True',
          Initialized: 'False',
          Ready: 'False',
          ContainersReady: 'False',
          PodScheduled: 'True',
        },
      },
      {
        name: 'init containers done and app ready',
        containers: [
          cs('i1', 'exited0', { init: true }),
          cs('i2', 'exited0', { init: true }),
          cs('a', 'ready'),
        ],
        want: {
          PodReadyToStartContainers: 'True',
          Initialized: 'True',
          Ready: 'True',
          ContainersReady: 'True',
          PodScheduled: 'True',
        },
      },
      {
        name: 'no sandbox address yet',
        containers: [cs('a', 'creating')],
        podIP: null,
        want: {
          PodReadyToStartContainers: 'False',
          Initialized: 'True',
          Ready: 'False',
          ContainersReady: 'False',
          PodScheduled: 'True',
        },
      },
      {
        name: 'a pod of only init containers is never Ready',
        containers: [cs('init', 'exited0', { init: true })],
        want: {
          PodReadyToStartContainers: 'True',
          Initialized: 'True',
          Ready: 'False',
          ContainersReady: 'False',
          PodScheduled: 'True',
        },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const s = status(c.containers, {
          ...(c.terminating === undefined ? {} : { terminating: c.terminating }),
          ...(c.podIP === undefined ? {} : { podIP: c.podIP }),
        });
        assert.deepEqual(conditions(s), c.want);
        assert.deepEqual(
          s.conditions.map((x) => x.type),
          ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'],
        );
      });
    }

    it('gives reasons to False conditions only', () => {
      const s = status([cs('init', 'running', { init: true }), cs('a', 'creating')]);
      const byType = new Map(s.conditions.map((x) => [x.type, x]));
      assert.equal(byType.get('Initialized')?.reason, 'ContainersNotInitialized');
      assert.equal(byType.get('Ready')?.reason, 'ContainersNotReady');
      assert.equal(byType.get('ContainersReady')?.reason, 'ContainersNotReady');
      assert.equal(byType.get('PodScheduled')?.reason, undefined);
      const ready = status([cs('a', 'ready')]);
      assert.ok(ready.conditions.every((x) => x.reason === undefined));
    });

    it('keeps lastTransitionTime of a condition whose status did not change (string or Date)', () => {
      const before = pod([
        { type: 'Ready', status: 'True', lastTransitionTime: '2024-04-01T00:00:00Z' as unknown as Date },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: new Date('2024-04-02T00:00:00Z') },
        { type: 'Initialized', status: 'False', lastTransitionTime: new Date('2024-04-03T00:00:00Z') },
      ]);
      const t0 = Date.now();
      const s = status([cs('a', 'ready')], { pod: before });
      const byType = new Map(s.conditions.map((x) => [x.type, x.lastTransitionTime]));
      assert.equal(byType.get('Ready'), '2024-04-01T00:00:00Z');
      assert.equal(byType.get('ContainersReady'), '2024-04-02T00:00:00.000Z');
      // Initialized went False → True: a new transition time, now.
      const changed = Date.parse(byType.get('Initialized') ?? '');
      assert.ok(changed >= t0 - 1000 && changed <= Date.now() + 1000, `Initialized at ${changed}`);
      // Conditions the pod did not have before start now as well.
      assert.ok(Date.parse(byType.get('PodScheduled') ?? '') >= t0 - 1000);
    });

    it('moves lastTransitionTime when a status flips', () => {
      const before = pod([
        { type: 'Ready', status: 'True', lastTransitionTime: new Date('2024-04-01T00:00:00Z') },
      ]);
      const s = status([cs('a', 'ready')], { pod: before, terminating: true });
      const ready = s.conditions.find((x) => x.type === 'Ready');
      assert.equal(ready?.status, 'False');
      assert.notEqual(ready?.lastTransitionTime, '2024-04-01T00:00:00.000Z');
    });
  });

  describe('container statuses', () => {
    it('reports running, waiting and terminated states', () => {
      const s = status([cs('a', 'ready'), cs('b', 'pullError'), cs('c', 'creating'), cs('d', 'exited1')]);
      assert.deepEqual(s.containerStatuses, [
        {
          name: 'a',
          image: 'waymesh/a',
          imageID: '',
          containerID: 'lab://101',
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: STARTED } },
          lastState: {},
        },
        {
          name: 'b',
          image: 'waymesh/b',
          imageID: '',
          ready: false,
          started: false,
          restartCount: 0,
          state: { waiting: { reason: 'ErrImagePull', message: 'not in the catalogue' } },
          lastState: {},
        },
        {
          name: 'c',
          image: 'waymesh/c',
          imageID: '',
          ready: false,
          started: false,
          restartCount: 0,
          state: { waiting: { reason: 'ContainerCreating' } },
          lastState: {},
        },
        {
          name: 'd',
          image: 'waymesh/d',
          imageID: '',
          containerID: 'lab://102',
          ready: false,
          started: false,
          restartCount: 0,
          state: {
            terminated: { exitCode: 1, reason: 'Error', startedAt: STARTED, finishedAt: FINISHED },
          },
          lastState: {},
        },
      ]);
    });

    it('reports a crash loop as waiting with the last termination and the restart count', () => {
      const [got] = status([cs('a', 'crashloop', { restartCount: 3 })]).containerStatuses;
      assert.deepEqual(got?.state, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 1s' } });
      assert.deepEqual(got?.lastState, {
        terminated: { exitCode: 2, reason: 'Error', startedAt: STARTED, finishedAt: FINISHED },
      });
      assert.equal(got?.restartCount, 3);
      assert.equal(got?.started, false);
    });

    it('reports a restarted container that runs again as running with its lastState', () => {
      const restarted: ContainerState = {
        ...cs('a', 'running', { restartCount: 1 }),
        lastTerminated: { exitCode: 137, reason: 'Error', finishedAt: FINISHED },
      };
      const [got] = status([restarted]).containerStatuses;
      assert.deepEqual(got?.state, { running: { startedAt: STARTED } });
      assert.deepEqual(got?.lastState, {
        terminated: { exitCode: 137, reason: 'Error', finishedAt: FINISHED },
      });
      assert.equal(got?.restartCount, 1);
    });

    it('lists init containers separately, only when there are some', () => {
      const s = status([cs('init', 'exited0', { init: true }), cs('a', 'running')]);
      assert.deepEqual(
        s.initContainerStatuses?.map((x) => [x.name, Object.keys(x.state ?? {})[0]]),
        [['init', 'terminated']],
      );
      assert.deepEqual(
        s.containerStatuses.map((x) => x.name),
        ['a'],
      );
      assert.equal(Object.hasOwn(status([cs('a', 'running')]), 'initContainerStatuses'), false);
    });
  });

  describe('addresses', () => {
    it('reports host and pod IPs, start time and QoS class', () => {
      const s = status([cs('a', 'running')]);
      assert.equal(s.hostIP, '10.0.0.1');
      assert.deepEqual(s.hostIPs, [{ ip: '10.0.0.1' }]);
      assert.equal(s.podIP, '10.244.1.4');
      assert.deepEqual(s.podIPs, [{ ip: '10.244.1.4' }]);
      assert.equal(s.startTime, NET.startTime);
      assert.equal(s.qosClass, 'BestEffort');
    });

    it('omits the pod IP before the sandbox has one', () => {
      const s = status([cs('a', 'creating')], { podIP: null });
      assert.equal(Object.hasOwn(s, 'podIP'), false);
      assert.equal(Object.hasOwn(s, 'podIPs'), false);
    });
  });
});
