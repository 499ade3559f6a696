import assert from 'node:assert/strict';
import { isMeshError } from '../../../common/errors.ts';
import type {
  AuthorizationPolicy,
  Endpoint,
  MeshService,
  NodeSnapshot,
  PolicyScope,
  ServiceKey,
  ServicePort,
  WaypointBinding,
  Workload,
} from '../../../common/ir/index.ts';
import {
  buildNodeState,
  p2cPicker,
  planInbound,
  planOutbound,
  type EndpointPicker,
  type NodeState,
  type OutboundPlan,
  type ResolvedEndpoint,
} from '../../../node-agent/state/index.ts';

const TD = 'spiffe://cluster.local';

function workload(
  name: string,
  ns: string,
  node: string,
  ips: string[],
  extra: Partial<Workload> = {},
): Workload {
  return {
    uid: `uid-${name}`,
    name,
    namespace: ns,
    node,
    ips,
    serviceAccount: name,
    identity: `${TD}/ns/${ns}/sa/${name}`,
    captured: true,
    labels: {},
    namedPorts: {},
    ...extra,
  };
}

function ep(w: Workload, ports: Record<number, number>, ready = true, ip = w.ips[0] ?? ''): Endpoint {
  return { workloadUid: w.uid, ip, node: w.node, ready, ports };
}

function tcp(port: number, name = `p${port}`): ServicePort {
  return { name, port, protocol: 'TCP', appProtocol: 'tcp' };
}

function service(
  ns: string,
  name: string,
  clusterIPs: string[],
  ports: ServicePort[],
  endpoints: Endpoint[],
  waypoint?: WaypointBinding,
): MeshService {
  const key: ServiceKey = `${ns}/${name}`;
  const source = { group: '', kind: 'Service', namespace: ns, name };
  return {
    key,
    namespace: ns,
    name,
    clusterIPs,
    ports,
    endpoints,
    source,
    ...(waypoint ? { waypoint } : {}),
  };
}

function authz(
  name: string,
  scope: PolicyScope,
  action: 'ALLOW' | 'DENY',
  principals: string[],
): AuthorizationPolicy {
  const none = { values: [], not: [] };
  return {
    id: `authorizationpolicy/shop/${name}`,
    source: { group: 'policy.waymesh.io', kind: 'AuthorizationPolicy', namespace: 'shop', name },
    scope,
    action,
    layer: 'L4',
    rules: [{ from: [{ principals: { values: principals, not: [] }, namespaces: none }], to: [], when: [] }],
  };
}

// The world of node-a: a client and api-1 run here, the rest on node-b.
const client = workload('client', 'shop', 'node-a', ['10.1.0.10']);
const api1 = workload('api-1', 'shop', 'node-a', ['10.1.0.11', 'fd00:1::11']);
const api2 = workload('api-2', 'shop', 'node-b', ['10.2.0.11']);
const api3 = workload('api-3', 'shop', 'node-b', ['10.2.0.12']);
const legacy = workload('legacy', 'legacy', 'node-b', ['10.2.0.20'], { captured: false });
const wpPod = workload('waypoint', 'shop', 'node-b', ['10.2.0.30'], { captured: false });
const strictPod = workload('vault', 'shop', 'node-a', ['10.1.0.12'], { mtls: 'STRICT' });
const WAYPOINT: WaypointBinding = {
  gateway: { namespace: 'shop', name: 'waypoint' },
  addresses: ['10.96.0.99'],
  identity: `${TD}/ns/shop/sa/waypoint`,
};

const SERVICES: MeshService[] = [
  // api-2 resolves the named target port to 9090, the others to 8080; api-3 is not ready.
  service(
    'shop',
    'api',
    ['10.96.0.10'],
    [tcp(80), { name: 'dns', port: 53, protocol: 'UDP', appProtocol: 'unknown' }],
    [ep(api1, { 80: 8080 }), ep(api2, { 80: 9090 }), ep(api3, { 80: 8080 }, false)],
  ),
  service('shop', 'cart', ['10.96.0.20'], [tcp(80)], [ep(api2, { 80: 8080 })], WAYPOINT),
  service('shop', 'empty', ['10.96.0.30'], [tcp(80)], [ep(api3, { 80: 8080 }, false)]),
  service('legacy', 'old', ['10.96.0.40'], [tcp(80)], [ep(legacy, { 80: 8000 })]),
  service('shop', 'waypoint', ['10.96.0.99'], [tcp(15008)], [ep(wpPod, { 15008: 15008 })]),
  service(
    'shop',
    'dual',
    ['10.96.0.50', 'fd00::50'],
    [tcp(80)],
    [ep(api1, { 80: 8080 }), ep(api1, { 80: 8080 }, true, 'fd00:1::11')],
  ),
  service(
    'shop',
    'orphan',
    ['10.96.0.60'],
    [tcp(80)],
    [{ workloadUid: 'gone', ip: '10.2.9.9', node: 'x', ready: true, ports: { 80: 80 } }],
  ),
  service('shop', 'nowp', ['10.96.0.70'], [tcp(80)], [], { ...WAYPOINT, addresses: [] }),
  // A waypoint whose own Service is not in the snapshot: its replicas are unknown.
  service('shop', 'far', ['10.96.0.80'], [tcp(80)], [], {
    gateway: { namespace: 'shop', name: 'far-waypoint' },
    addresses: ['10.96.0.98'],
    identity: `${TD}/ns/shop/sa/far-waypoint`,
  }),
];

const POLICIES: AuthorizationPolicy[] = [
  authz('ns-deny', { kind: 'namespace', namespace: 'shop' }, 'DENY', [`${TD}/ns/evil/*`]),
  authz('api-allow', { kind: 'service', service: 'shop/api' }, 'ALLOW', [client.identity]),
  authz('wp-only', { kind: 'waypoint', namespace: 'shop', name: 'waypoint' }, 'ALLOW', ['*']),
  authz('other-ns', { kind: 'namespace', namespace: 'legacy' }, 'DENY', ['*']),
];

function snapshot(over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    kind: 'node',
    version: 'v1',
    trustDomain: 'cluster.local',
    node: 'node-a',
    workloads: [client, api1, api2, api3, legacy, wpPod, strictPod],
    services: SERVICES,
    policies: POLICIES,
    ...over,
  };
}

/** A picker recording what it was offered and taking the `index`th endpoint. */
function fixedPicker(index = 0): EndpointPicker & { offered: string[][] } {
  const offered: string[][] = [];
  return {
    offered,
    pick(ready: readonly ResolvedEndpoint[]): ResolvedEndpoint | undefined {
      offered.push(ready.map((e) => `${e.workload.name}@${e.authority}`));
      return ready[index];
    },
  };
}

describe('node-agent/state', () => {
  let state: NodeState;
  before(() => {
    state = buildNodeState(snapshot());
  });

  describe('buildNodeState', () => {
    it('indexes workloads by uid and by every IP, and the local ones', () => {
      assert.equal(state.workloadsByIp.get('fd00:1::11'), api1);
      assert.equal(state.workloadsByIp.get('10.2.0.20'), legacy);
      assert.equal(state.workloadsByUid.get('uid-api-2'), api2);
      assert.deepEqual([...state.localWorkloads.keys()], ['uid-client', 'uid-api-1', 'uid-vault']);
      assert.equal(state.version, 'v1');
    });

    it('indexes services by key and VIP, TCP ports only', () => {
      assert.equal(state.servicesByKey.get('shop/cart')?.name, 'cart');
      const vip = state.vips.get('10.96.0.10');
      assert.equal(vip?.service.key, 'shop/api');
      assert.deepEqual([...(vip?.ports.keys() ?? [])], [80]);
      assert.equal(vip?.ports.get(80)?.authority, '10.96.0.10:80');
      assert.equal(state.vips.get('fd00::50')?.ports.get(80)?.authority, '[fd00::50]:80');
    });

    it('resolves endpoints per service port, ready or not, skipping unknown workloads', () => {
      const eps = state.endpoints.get('shop/api')?.get(80) ?? [];
      assert.deepEqual(
        eps.map((e) => [e.workload.name, e.authority, e.ready, `${e.hbone.ip}:${e.hbone.port}`]),
        [
          ['api-1', '10.1.0.11:8080', true, '10.1.0.11:15008'],
          ['api-2', '10.2.0.11:9090', true, '10.2.0.11:15008'],
          ['api-3', '10.2.0.12:8080', false, '10.2.0.12:15008'],
        ],
      );
      assert.deepEqual(state.endpoints.get('shop/orphan')?.get(80), []);
    });

    it('records waypoint bindings and addresses', () => {
      assert.equal(state.waypoints.get('shop/cart'), WAYPOINT);
      assert.equal(state.waypoints.has('shop/api'), false);
      assert.ok(state.waypointAddresses.has('10.96.0.99'));
    });

    it('groups policies by scope and lists each local workload’s own', () => {
      assert.deepEqual(
        state.policies.byNamespace.get('shop')?.map((p) => p.id),
        ['authorizationpolicy/shop/ns-deny'],
      );
      assert.deepEqual(
        state.policies.byService.get('shop/api')?.map((p) => p.id),
        ['authorizationpolicy/shop/api-allow'],
      );
      assert.equal(state.policies.byWaypoint.get('shop/waypoint')?.length, 1);
      const names = (uid: string): string[] => (state.policiesByWorkload.get(uid) ?? []).map((p) => p.id);
      // api-1 backs shop/api and shop/dual: namespace policy, then service policy; no waypoint one.
      assert.deepEqual(names('uid-api-1'), [
        'authorizationpolicy/shop/ns-deny',
        'authorizationpolicy/shop/api-allow',
      ]);
      assert.deepEqual(names('uid-client'), ['authorizationpolicy/shop/ns-deny']);
      assert.equal(state.policiesByWorkload.has('uid-api-2'), false, 'remote workloads get no policy list');
    });

    it('is frozen: objects, maps and sets refuse changes', () => {
      assert.ok(Object.isFrozen(state));
      const frozen = (err: unknown): boolean => isMeshError(err, 'NODE_STATE_FROZEN');
      assert.throws(() => (state.workloadsByIp as Map<string, Workload>).set('1.1.1.1', client), frozen);
      assert.throws(() => (state.vips as Map<string, unknown>).delete('10.96.0.10'), frozen);
      assert.throws(() => (state.waypointAddresses as Set<string>).add('1.1.1.1'), frozen);
      assert.throws(() => (state.localWorkloads as Map<string, Workload>).clear(), frozen);
      assert.ok(Object.isFrozen(state.vips.get('10.96.0.10')?.ports.get(80)?.ready));
      assert.equal(state.workloadsByIp.size, 8);
    });

    it('rejects a snapshot with a duplicate workload uid or a bad policy port', () => {
      const invalid = (err: unknown): boolean => isMeshError(err, 'NODE_SNAPSHOT_INVALID');
      assert.throws(() => buildNodeState(snapshot({ workloads: [client, client] })), invalid);
      const none = { values: [], not: [] };
      const badPort: AuthorizationPolicy = {
        ...authz('bad', { kind: 'namespace', namespace: 'shop' }, 'DENY', []),
        rules: [
          {
            from: [],
            to: [{ ports: { values: ['http'], not: [] }, methods: none, paths: none, hosts: none }],
            when: [],
          },
        ],
      };
      assert.throws(() => buildNodeState(snapshot({ policies: [badPort] })), invalid);
    });
  });

  describe('planOutbound', () => {
    interface Case {
      name: string;
      src?: Workload;
      dst: [string, number];
      want: Record<string, unknown>;
      pickIndex?: number;
    }
    const cases: Case[] = [
      {
        name: 'VIP with a waypoint → a waypoint replica, routed by VIP:port',
        dst: ['10.96.0.20', 80],
        want: {
          kind: 'waypoint',
          service: 'shop/cart',
          replica: 'waypoint',
          via: '10.2.0.30:15008',
          authority: '10.96.0.20:80',
          expectedIdentity: WAYPOINT.identity,
        },
      },
      {
        name: 'waypoint whose replicas are not listed → its Service address',
        dst: ['10.96.0.80', 80],
        want: { kind: 'waypoint', replica: undefined, via: '10.96.0.98:15008', authority: '10.96.0.80:80' },
      },
      {
        name: 'every waypoint replica declined by the picker → refuse',
        dst: ['10.96.0.20', 80],
        pickIndex: 5,
        want: { kind: 'refuse' },
      },
      {
        name: 'every endpoint declined by the picker → refuse',
        dst: ['10.96.0.10', 80],
        pickIndex: 5,
        want: { kind: 'refuse' },
      },
      {
        name: 'VIP without a waypoint → a ready endpoint',
        dst: ['10.96.0.10', 80],
        want: {
          kind: 'workload',
          service: 'shop/api',
          workload: 'api-1',
          via: '10.1.0.11:15008',
          authority: '10.1.0.11:8080',
          expectedIdentity: api1.identity,
        },
      },
      {
        name: 'named target port resolved per pod',
        dst: ['10.96.0.10', 80],
        pickIndex: 1,
        want: { kind: 'workload', workload: 'api-2', via: '10.2.0.11:15008', authority: '10.2.0.11:9090' },
      },
      {
        name: 'IPv6 VIP → an endpoint of the same family, bracketed authority',
        dst: ['fd00::50', 80],
        want: {
          kind: 'workload',
          workload: 'api-1',
          via: 'fd00:1::11:15008',
          authority: '[fd00:1::11]:8080',
        },
      },
      { name: 'VIP with no ready endpoint → refuse', dst: ['10.96.0.30', 80], want: { kind: 'refuse' } },
      { name: 'VIP whose endpoints are unknown → refuse', dst: ['10.96.0.60', 80], want: { kind: 'refuse' } },
      { name: 'unknown port of a known VIP → refuse', dst: ['10.96.0.10', 81], want: { kind: 'refuse' } },
      {
        name: 'UDP port of a VIP is not a TCP target → refuse',
        dst: ['10.96.0.10', 53],
        want: { kind: 'refuse' },
      },
      { name: 'waypoint without an address → refuse', dst: ['10.96.0.70', 80], want: { kind: 'refuse' } },
      {
        name: 'VIP whose endpoint is not captured → plain TCP to that endpoint',
        dst: ['10.96.0.40', 80],
        want: { kind: 'passthrough', target: '10.2.0.20:8000' },
      },
      {
        name: 'captured pod IP → that pod, original port',
        dst: ['10.2.0.11', 7000],
        want: {
          kind: 'workload',
          service: undefined,
          workload: 'api-2',
          via: '10.2.0.11:15008',
          authority: '10.2.0.11:7000',
          expectedIdentity: api2.identity,
        },
      },
      {
        name: 'uncaptured pod IP → passthrough',
        dst: ['10.2.0.20', 8000],
        want: { kind: 'passthrough', target: '10.2.0.20:8000' },
      },
      {
        name: 'outside the mesh → passthrough',
        dst: ['93.184.216.34', 443],
        want: { kind: 'passthrough', target: '93.184.216.34:443' },
      },
      {
        name: 'waypoint address → passthrough (HBONE already)',
        dst: ['10.96.0.99', 15008],
        want: { kind: 'passthrough', target: '10.96.0.99:15008' },
      },
      {
        name: 'uncaptured source → passthrough',
        src: wpPod,
        dst: ['10.96.0.20', 80],
        want: { kind: 'passthrough', target: '10.96.0.20:80' },
      },
    ];

    function summary(p: OutboundPlan): Record<string, unknown> {
      switch (p.kind) {
        case 'waypoint':
          return {
            kind: p.kind,
            service: p.service.key,
            replica: p.replica?.name,
            via: `${p.via.ip}:${p.via.port}`,
            authority: p.authority,
            expectedIdentity: p.expectedIdentity,
          };
        case 'workload':
          return {
            kind: p.kind,
            service: p.service?.key,
            workload: p.workload.name,
            via: `${p.via.ip}:${p.via.port}`,
            authority: p.authority,
            expectedIdentity: p.expectedIdentity,
          };
        case 'passthrough':
          return { kind: p.kind, target: `${p.target.ip}:${p.target.port}` };
        case 'refuse':
          return { kind: p.kind };
      }
    }

    for (const c of cases) {
      it(c.name, () => {
        const plan = planOutbound(
          state,
          c.src ?? client,
          { ip: c.dst[0], port: c.dst[1] },
          fixedPicker(c.pickIndex),
        );
        const got = summary(plan);
        assert.deepEqual(Object.fromEntries(Object.keys(c.want).map((k) => [k, got[k]])), c.want);
        if (plan.kind === 'refuse' || plan.kind === 'passthrough') assert.ok(plan.reason.length > 10);
      });
    }

    it('offers the picker only ready endpoints of the VIP’s family', () => {
      const picker = fixedPicker();
      planOutbound(state, client, { ip: '10.96.0.10', port: 80 }, picker);
      planOutbound(state, client, { ip: '10.96.0.50', port: 80 }, picker);
      assert.deepEqual(picker.offered, [
        ['api-1@10.1.0.11:8080', 'api-2@10.2.0.11:9090'],
        ['api-1@10.1.0.11:8080'],
      ]);
    });

    it('does not call the picker when no endpoint is ready', () => {
      const picker = fixedPicker();
      assert.equal(planOutbound(state, client, { ip: '10.96.0.30', port: 80 }, picker).kind, 'refuse');
      assert.deepEqual(picker.offered, []);
    });

    it('names the service and port in refusals', () => {
      const plan = planOutbound(state, client, { ip: '10.96.0.10', port: 81 }, fixedPicker());
      assert.ok(plan.kind === 'refuse' && plan.reason.includes('shop/api') && plan.reason.includes('81'));
    });
  });

  describe('p2cPicker', () => {
    const eps = (names: string[]): ResolvedEndpoint[] =>
      names.map((n, i) => {
        const w = workload(n, 'shop', 'node-b', [`10.3.0.${i + 1}`]);
        return {
          workload: w,
          ip: w.ips[0]!,
          targetPort: 80,
          ready: true,
          authority: `${w.ips[0]}:80`,
          hbone: { ip: w.ips[0]!, port: 15008 },
        };
      });
    const load: Record<string, number> = { a: 5, b: 1, c: 0 };
    const sequence = (values: number[]): (() => number) => {
      let i = 0;
      return () => values[i++ % values.length] ?? 0;
    };
    const table: [string, number[], string][] = [
      ['draws a and c, keeps the idle c', [0.0, 0.5], 'c'],
      ['draws b and a, keeps the less loaded b', [0.4, 0.0], 'b'],
      ['draws c and b, keeps c', [0.99, 0.6], 'c'],
      ['on a tie keeps the first drawn', [0.0, 0.0], 'a'],
    ];
    for (const [label, randoms, want] of table) {
      it(label, () => {
        const outstanding = (uid: string): number => (label.includes('tie') ? 0 : (load[uid.slice(4)] ?? 0));
        assert.equal(
          p2cPicker(sequence(randoms), outstanding).pick(eps(['a', 'b', 'c']))?.workload.name,
          want,
        );
      });
    }

    it('prefers less loaded endpoints over many picks and never picks the busiest', () => {
      let seed = 42;
      const lcg = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const busy: Record<string, number> = { a: 10, b: 0, c: 5 };
      const picker = p2cPicker(lcg, (uid) => busy[uid.slice(4)] ?? 0);
      const list = eps(['a', 'b', 'c']);
      const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
      for (let i = 0; i < 3000; i++) {
        const name = picker.pick(list)?.workload.name ?? '';
        counts[name] = (counts[name] ?? 0) + 1;
      }
      // b wins both of its pairs (2/3), c wins against a (1/3), a loses every pair.
      assert.equal(counts['a'], 0);
      assert.ok(Math.abs((counts['b'] ?? 0) - 2000) < 150, JSON.stringify(counts));
      assert.ok(Math.abs((counts['c'] ?? 0) - 1000) < 150, JSON.stringify(counts));
    });

    it('returns the only endpoint without drawing, undefined for none', () => {
      const never = (): number => assert.fail('random must not be called');
      assert.equal(p2cPicker(never, () => 0).pick(eps(['solo']))?.workload.name, 'solo');
      assert.equal(p2cPicker(never, () => 0).pick([]), undefined);
    });
  });

  describe('planInbound', () => {
    const FRIEND = client.identity;
    const EVIL = `${TD}/ns/evil/sa/bot`;
    interface Case {
      name: string;
      pod?: Workload;
      target: [string, number];
      peer: { identity?: string; ip?: string };
      want: { kind: 'deliver'; port: number } | { kind: 'refuse'; status: number; policy?: string };
    }
    const cases: Case[] = [
      {
        name: 'allowed peer → deliver to the app port',
        target: ['10.1.0.11', 8080],
        peer: { identity: FRIEND },
        want: { kind: 'deliver', port: 8080 },
      },
      {
        name: 'second IP of the pod is its own too',
        target: ['fd00:1::11', 8080],
        peer: { identity: FRIEND },
        want: { kind: 'deliver', port: 8080 },
      },
      {
        name: 'target IP of another pod → 400',
        target: ['10.1.0.10', 8080],
        peer: { identity: FRIEND },
        want: { kind: 'refuse', status: 400 },
      },
      {
        name: 'target on an agent port → 400',
        target: ['10.1.0.11', 15008],
        peer: { identity: FRIEND },
        want: { kind: 'refuse', status: 400 },
      },
      {
        name: 'target port out of range → 400',
        target: ['10.1.0.11', 70000],
        peer: { identity: FRIEND },
        want: { kind: 'refuse', status: 400 },
      },
      {
        name: 'namespace DENY → 403 naming the policy',
        target: ['10.1.0.11', 8080],
        peer: { identity: EVIL },
        want: { kind: 'refuse', status: 403, policy: 'authorizationpolicy/shop/ns-deny' },
      },
      {
        name: 'service ALLOW not matching → 403',
        target: ['10.1.0.11', 8080],
        peer: { identity: `${TD}/ns/shop/sa/other` },
        want: { kind: 'refuse', status: 403, policy: 'authorizationpolicy/shop/api-allow' },
      },
      {
        name: 'plaintext under service ALLOW → 403',
        target: ['10.1.0.11', 8080],
        peer: { ip: '10.1.0.10' },
        want: { kind: 'refuse', status: 403, policy: 'authorizationpolicy/shop/api-allow' },
      },
      {
        name: 'plaintext to a permissive pod without ALLOW → deliver',
        pod: client,
        target: ['10.1.0.10', 80],
        peer: { ip: '10.9.9.9' },
        want: { kind: 'deliver', port: 80 },
      },
      {
        name: 'plaintext to a STRICT pod → 401',
        pod: strictPod,
        target: ['10.1.0.12', 443],
        peer: { ip: '10.9.9.9' },
        want: { kind: 'refuse', status: 401 },
      },
      {
        name: 'mTLS peer to a STRICT pod → deliver',
        pod: strictPod,
        target: ['10.1.0.12', 443],
        peer: { identity: FRIEND },
        want: { kind: 'deliver', port: 443 },
      },
      {
        name: 'a pod not local in this snapshot → 403',
        pod: api2,
        target: ['10.2.0.11', 8080],
        peer: { identity: FRIEND },
        want: { kind: 'refuse', status: 403 },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const plan = planInbound(state, c.pod ?? api1, { ip: c.target[0], port: c.target[1] }, c.peer);
        if (plan.kind === 'deliver') {
          assert.deepEqual({ kind: plan.kind, port: plan.port }, c.want);
          assert.equal(plan.decision.allowed, true);
        } else {
          assert.ok(plan.reason.length > 10);
          const got = {
            kind: plan.kind,
            status: plan.status,
            ...(plan.policy === undefined ? {} : { policy: plan.policy }),
          };
          assert.deepEqual(got, c.want, plan.reason);
        }
      });
    }

    it('uses the pod as the current snapshot knows it (mTLS mode from state)', () => {
      const stale: Workload = { ...strictPod, mtls: undefined };
      const plan = planInbound(state, stale, { ip: '10.1.0.12', port: 443 }, {});
      assert.ok(plan.kind === 'refuse' && plan.status === 401);
    });
  });
});
