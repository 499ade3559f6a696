// Node choice of the lab's scheduler: Ready and schedulable nodes only, nodeSelector, least
// loaded first (terminated and terminating pods do not count), ties by name, reasons.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { V1Node, V1Pod } from '@kubernetes/client-node';

import { silentLogger } from '../../../../common/log.ts';
import { chooseNode, schedulePass } from '../../../../lab/controllers/scheduler.ts';
import type { LabApi } from '../../../../lab/kube/rest.ts';

function node(
  name: string,
  opts: { ready?: boolean | 'Unknown'; unschedulable?: boolean; labels?: Record<string, string> } = {},
): V1Node {
  const ready = opts.ready ?? true;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(opts.labels ?? {}) } },
    spec: opts.unschedulable === undefined ? {} : { unschedulable: opts.unschedulable },
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False' },
        { type: 'Ready', status: ready === 'Unknown' ? 'Unknown' : ready ? 'True' : 'False' },
      ],
    },
  };
}

function pod(
  name: string,
  opts: { nodeName?: string; nodeSelector?: Record<string, string>; phase?: string; deleting?: boolean } = {},
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'demo',
      ...(opts.deleting === true ? { deletionTimestamp: new Date('2024-05-01T00:00:00Z') } : {}),
    },
    spec: {
      containers: [{ name: 'c', image: 'waymesh/echo' }],
      ...(opts.nodeName === undefined ? {} : { nodeName: opts.nodeName }),
      ...(opts.nodeSelector === undefined ? {} : { nodeSelector: opts.nodeSelector }),
    },
    status: { phase: opts.phase ?? 'Running' },
  };
}

describe('lab/controllers/scheduler chooseNode', () => {
  const cases: {
    name: string;
    pod: V1Pod;
    nodes: V1Node[];
    pods?: V1Pod[];
    want: string;
  }[] = [
    { name: 'the only Ready node', pod: pod('p'), nodes: [node('n1')], want: 'n1' },
    {
      name: 'skips a node that is not Ready',
      pod: pod('p'),
      nodes: [node('a', { ready: false }), node('b')],
      want: 'b',
    },
    {
      name: 'skips a node whose Ready condition is Unknown',
      pod: pod('p'),
      nodes: [node('a', { ready: 'Unknown' }), node('b')],
      want: 'b',
    },
    {
      name: 'skips a node without conditions',
      pod: pod('p'),
      nodes: [{ metadata: { name: 'a' } }, node('b')],
      want: 'b',
    },
    {
      name: 'skips an unschedulable (cordoned) node',
      pod: pod('p'),
      nodes: [node('a', { unschedulable: true }), node('b')],
      want: 'b',
    },
    {
      name: 'unschedulable false is schedulable',
      pod: pod('p'),
      nodes: [node('a', { unschedulable: false }), node('b')],
      want: 'a',
    },
    {
      name: 'honours nodeSelector',
      pod: pod('p', { nodeSelector: { disk: 'ssd' } }),
      nodes: [node('a', { labels: { disk: 'hdd' } }), node('b', { labels: { disk: 'ssd' } })],
      want: 'b',
    },
    {
      name: 'nodeSelector with several keys needs all of them',
      pod: pod('p', { nodeSelector: { disk: 'ssd', zone: 'z2' } }),
      nodes: [
        node('a', { labels: { disk: 'ssd', zone: 'z1' } }),
        node('b', { labels: { disk: 'ssd', zone: 'z2' } }),
        node('c', { labels: { zone: 'z2' } }),
      ],
      want: 'b',
    },
    {
      name: 'nodeSelector on the hostname label',
      pod: pod('p', { nodeSelector: { 'kubernetes.io/hostname': 'c' } }),
      nodes: [node('a'), node('b'), node('c')],
      want: 'c',
    },
    {
      name: 'prefers the node with the fewest pods',
      pod: pod('p'),
      nodes: [node('a'), node('b')],
      pods: [pod('x1', { nodeName: 'a' }), pod('x2', { nodeName: 'a' }), pod('y1', { nodeName: 'b' })],
      want: 'b',
    },
    {
      name: 'breaks ties by node name',
      pod: pod('p'),
      nodes: [node('c'), node('b'), node('a')],
      pods: [pod('x', { nodeName: 'a' }), pod('y', { nodeName: 'b' }), pod('z', { nodeName: 'c' })],
      want: 'a',
    },
    {
      name: 'ignores succeeded and failed pods when counting load',
      pod: pod('p'),
      nodes: [node('a'), node('b')],
      pods: [
        pod('done1', { nodeName: 'a', phase: 'Succeeded' }),
        pod('done2', { nodeName: 'a', phase: 'Failed' }),
        pod('y', { nodeName: 'b' }),
      ],
      want: 'a',
    },
    {
      name: 'ignores terminating pods when counting load',
      pod: pod('p'),
      nodes: [node('a'), node('b')],
      pods: [
        pod('t1', { nodeName: 'a', deleting: true }),
        pod('t2', { nodeName: 'a', deleting: true }),
        pod('y', { nodeName: 'b' }),
      ],
      want: 'a',
    },
    {
      name: 'counts pending pods already bound to a node',
      pod: pod('p'),
      nodes: [node('a'), node('b')],
      pods: [pod('x', { nodeName: 'a', phase: 'Pending' })],
      want: 'b',
    },
    {
      name: 'unbound pods do not count toward any node',
      pod: pod('p'),
      nodes: [node('b'), node('a')],
      pods: [pod('u1'), pod('u2'), pod('y', { nodeName: 'b' })],
      want: 'a',
    },
    {
      name: 'the least loaded node is skipped when it does not fit',
      pod: pod('p', { nodeSelector: { disk: 'ssd' } }),
      nodes: [node('a'), node('b', { labels: { disk: 'ssd' } })],
      pods: [pod('x', { nodeName: 'b' }), pod('y', { nodeName: 'b' })],
      want: 'b',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(chooseNode(c.pod, c.nodes, c.pods ?? []), { node: c.want, reason: '' });
    });
  }

  const misses: { name: string; pod: V1Pod; nodes: V1Node[]; want: RegExp }[] = [
    { name: 'no nodes at all', pod: pod('p'), nodes: [], want: /^0\/0 nodes are available/ },
    {
      name: 'no Ready node',
      pod: pod('p'),
      nodes: [node('a', { ready: false }), node('b', { unschedulable: true })],
      want: /^0\/2 nodes are available: none is Ready and matches nodeSelector \{\}$/,
    },
    {
      name: 'no node matches the nodeSelector',
      pod: pod('p', { nodeSelector: { disk: 'ssd' } }),
      nodes: [node('a'), node('b'), node('c', { labels: { disk: 'hdd' } })],
      want: /^0\/3 nodes are available: .*nodeSelector \{"disk":"ssd"\}$/,
    },
  ];
  for (const c of misses) {
    it(`no fit: ${c.name}`, () => {
      const got = chooseNode(c.pod, c.nodes, []);
      assert.equal(got.node, undefined);
      assert.match(got.reason, c.want);
    });
  }
});

/** An in-memory stand-in for the API: records bindings, accepts events and status patches. */
function recordingApi(): { api: LabApi; bindings: { pod: string; node: string }[] } {
  const bindings: { pod: string; node: string }[] = [];
  const fake = {
    request: (method: string, path: string, body?: unknown): Promise<unknown> => {
      const m = /^\/api\/v1\/namespaces\/[^/]+\/pods\/([^/]+)\/binding$/.exec(path);
      if (method === 'POST' && m !== null) {
        const target = (body as { target: { name: string } }).target;
        bindings.push({ pod: m[1] ?? '', node: target.name });
      }
      return Promise.resolve({});
    },
    patch: (): Promise<unknown> => Promise.resolve({}),
  };
  return { api: fake as unknown as LabApi, bindings };
}

describe('lab/controllers/scheduler schedulePass', () => {
  it('spreads pods created together over the nodes (regression: one pass put them all on one node)', async () => {
    const { api, bindings } = recordingApi();
    const nodes = [node('a'), node('b'), node('c')];
    const pods = [pod('p1'), pod('p2'), pod('p3'), pod('p4'), pod('bound', { nodeName: 'a' })];
    await schedulePass(api, { pods: () => pods, nodes: () => nodes }, silentLogger);
    assert.deepEqual(bindings, [
      { pod: 'p1', node: 'b' },
      { pod: 'p2', node: 'c' },
      { pod: 'p3', node: 'a' },
      { pod: 'p4', node: 'b' },
    ]);
  });

  it('leaves bound and terminating pods alone', async () => {
    const { api, bindings } = recordingApi();
    const pods = [pod('bound', { nodeName: 'a' }), pod('going', { deleting: true })];
    await schedulePass(api, { pods: () => pods, nodes: () => [node('a')] }, silentLogger);
    assert.deepEqual(bindings, []);
  });
});
