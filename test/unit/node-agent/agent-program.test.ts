/** The node agent program's pure parts: reconcile planning, flag/env settings and Pod narrowing. */
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { isMeshError } from '../../../common/errors.ts';
import type { Workload } from '../../../common/ir/index.ts';
import { podInfoFrom } from '../../../node-agent/kube.ts';
import { parseAgentSettings } from '../../../node-agent/program/options.ts';
import { captureKey, identityChanges, planReconcile } from '../../../node-agent/program/reconcile.ts';
import { buildNodeState } from '../../../node-agent/state/index.ts';

const w = (name: string, over: Partial<Workload> = {}): Workload => ({
  uid: name,
  name,
  namespace: 'ns',
  node: 'n1',
  ips: ['10.0.0.1'],
  serviceAccount: 'sa',
  identity: `spiffe://td/ns/ns/sa/${over.serviceAccount ?? 'sa'}`,
  captured: true,
  labels: {},
  namedPorts: {},
  ...over,
});
const state = (workloads: Workload[]) =>
  buildNodeState({
    kind: 'node',
    version: 'v',
    node: 'n1',
    trustDomain: 'td',
    workloads,
    services: [],
    policies: [],
  });
const ROOT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('node agent program', () => {
  describe('planReconcile', () => {
    const rec = (x: Workload) => ({ namespace: x.namespace, name: x.name, key: captureKey(x) });
    const cases: {
      name: string;
      workloads: Workload[];
      captured: Workload[];
      capture: string[];
      release: string[];
    }[] = [
      {
        name: 'new local pods are captured',
        workloads: [w('a'), w('b')],
        captured: [],
        capture: ['a', 'b'],
        release: [],
      },
      {
        name: 'captured and unchanged: nothing to do',
        workloads: [w('a')],
        captured: [w('a')],
        capture: [],
        release: [],
      },
      {
        name: 'remote and uncaptured are not captured',
        workloads: [w('r', { node: 'n2' }), w('u', { captured: false })],
        captured: [],
        capture: [],
        release: [],
      },
      {
        name: 'gone from the snapshot: released',
        workloads: [],
        captured: [w('a')],
        capture: [],
        release: ['a'],
      },
      {
        name: 'opted out: released',
        workloads: [w('a', { captured: false })],
        captured: [w('a')],
        capture: [],
        release: ['a'],
      },
      {
        name: 'new addresses: captured again',
        workloads: [w('a', { ips: ['10.0.0.9'] })],
        captured: [w('a')],
        capture: ['a'],
        release: [],
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const plan = planReconcile(state(c.workloads), new Map(c.captured.map((x) => [x.uid, rec(x)])));
        assert.deepEqual(
          plan.capture.map((x) => x.uid),
          c.capture,
        );
        assert.deepEqual(plan.release, c.release);
      });
    }
    it('lists each identity of the captured local pods once', () => {
      const plan = planReconcile(
        state([
          w('a'),
          w('b'),
          w('c', { serviceAccount: 'other' }),
          w('d', { captured: false, serviceAccount: 'x' }),
        ]),
        new Map(),
      );
      assert.deepEqual(plan.identities, ['spiffe://td/ns/ns/sa/other', 'spiffe://td/ns/ns/sa/sa']);
    });
    it('identityChanges prefetches new ids and forgets unused ones', () => {
      assert.deepEqual(identityChanges(new Set(['a', 'b']), ['b', 'c']), { prefetch: ['c'], forget: ['a'] });
    });
  });

  describe('parseAgentSettings', () => {
    const env = { NODE_NAME: 'n1', WAYMESH_CA_ROOT: ROOT, HOST_IP: '10.250.0.2' };
    it('takes the environment, with DESIGN.md defaults', () => {
      const s = parseAgentSettings([], env);
      assert.equal(s.node, 'n1');
      assert.equal(s.trustDomain, 'cluster.local');
      assert.equal(s.controller, 'waymesh-controller.waymesh-system.svc:15012');
      assert.equal(s.hostIp, '10.250.0.2');
      assert.deepEqual(
        [s.ops.adminHost, s.ops.adminPort, s.ops.metricsPort, s.ops.readyPort],
        ['127.0.0.1', 15000, 15020, 15021],
      );
      assert.equal(s.configFile, undefined);
    });
    it('lets flags win over the environment', () => {
      const s = parseAgentSettings(
        [
          '--node',
          'n9',
          '--controller',
          '127.0.0.1:1',
          '--config-file',
          '/tmp/s.yaml',
          '--admin-port',
          '0',
          '--metrics-port',
          '9',
          '--ready-port',
          '10',
          '--trust-domain',
          'example.org',
        ],
        { ...env, WAYMESH_CONTROLLER_ADDRESS: 'x:1' },
      );
      assert.deepEqual(
        [s.node, s.controller, s.configFile, s.trustDomain],
        ['n9', '127.0.0.1:1', '/tmp/s.yaml', 'example.org'],
      );
      assert.deepEqual([s.ops.adminPort, s.ops.metricsPort, s.ops.readyPort], [0, 9, 10]);
    });
    const bad: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
      ['no node name', [], { WAYMESH_CA_ROOT: ROOT }, /node name/],
      ['no CA root', [], { NODE_NAME: 'n1' }, /WAYMESH_CA_ROOT/],
      ['a bad port', ['--ready-port', '70000'], env, /--ready-port/],
      ['an unknown flag', ['--nope'], env, /nope/],
    ];
    for (const [what, argv, e, re] of bad) {
      it(`refuses ${what} with NODE_AGENT_CONFIG`, () => {
        assert.throws(
          () => parseAgentSettings(argv, e),
          (err) => isMeshError(err, 'NODE_AGENT_CONFIG') && re.test(err.message),
        );
      });
    }
  });

  describe('podInfoFrom', () => {
    it('narrows a Pod, preferring podIPs', () => {
      const p = podInfoFrom({
        metadata: { uid: 'u', namespace: 'ns', name: 'p', annotations: { a: 'b', n: 1 } },
        status: { podIP: '10.0.0.1', podIPs: [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }] },
      });
      assert.deepEqual(p, {
        uid: 'u',
        namespace: 'ns',
        name: 'p',
        annotations: { a: 'b' },
        ips: ['10.0.0.1', 'fd00::1'],
      });
    });
    it('falls back to podIP, and refuses objects without identity', () => {
      assert.deepEqual(
        podInfoFrom({ metadata: { uid: 'u', namespace: 'ns', name: 'p' }, status: { podIP: '10.0.0.2' } })
          ?.ips,
        ['10.0.0.2'],
      );
      assert.equal(podInfoFrom({ metadata: { name: 'p' } }), undefined);
      assert.equal(podInfoFrom('nope'), undefined);
    });
  });
});
