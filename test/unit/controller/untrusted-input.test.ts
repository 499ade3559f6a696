/**
 * Inputs that once slipped past the translator (found by fuzzing): names that collide with
 * Object.prototype, empty strings where the Gateway API requires a value, repeated header names,
 * backends the mesh cannot carry, condition messages too long for the API server, and objects
 * whose metadata has the wrong shape.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { RouteTable, ServiceKey, WaypointBinding } from '../../../common/ir/index.ts';
import type { ObjectStatus } from '../../../common/ir/status.ts';
import {
  CONDITION_MESSAGE_MAX,
  conditionMessage,
  withTransitionTimes,
} from '../../../controller/kube/status-merge.ts';
import { worldFromLists } from '../../../controller/kube/world-lists.ts';
import type { WireObject } from '../../../controller/kube/resources.ts';
import { translate } from '../../../controller/translate/index.ts';
import { buildDirectory } from '../../../controller/translate/directory/index.ts';
import { resolveAppProtocol } from '../../../controller/translate/directory/protocol.ts';
import { translateRoutes } from '../../../controller/translate/routes/index.ts';
import type { World } from '../../../controller/translate/world.ts';
import { worldFromYaml } from '../../helpers/golden.ts';

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  clusterIP: 10.96.0.10
  ports: [{ name: http, port: 80 }, { name: dns, port: 53, protocol: UDP }]
---
apiVersion: v1
kind: Service
metadata: { name: outside, namespace: default }
spec: { type: ExternalName, externalName: example.com, ports: [{ name: http, port: 80 }] }
`;

function routeYaml(rule: string): string {
  return `${SERVICES}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec:
  parentRefs: [{ group: '', kind: Service, name: reviews, port: 80 }]
  rules:
${rule}`;
}

const WAYPOINT: WaypointBinding = {
  gateway: { namespace: 'default', name: 'waypoint' },
  addresses: ['10.96.100.1'],
  identity: 'spiffe://cluster.local/ns/default/sa/waypoint',
};

function routes(yamlText: string): { tables: readonly RouteTable[]; statuses: readonly ObjectStatus[] } {
  return translateRoutes(worldFromYaml(yamlText), { waypointOf: (_: ServiceKey) => WAYPOINT });
}

/** The conditions of route `r` on its only parent, by type. */
function conditions(statuses: readonly ObjectStatus[]): Map<string, { reason: string; message: string }> {
  const s = statuses.find((x) => x.source.name === 'r');
  assert.ok(s !== undefined && s.kind === 'route');
  return new Map((s.parents[0]?.conditions ?? []).map((c) => [c.type, c]));
}

describe('controller/translate on untrusted input', () => {
  describe('names that are also Object.prototype members', () => {
    for (const value of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      it(`appProtocol ${value} is not a protocol (the port name decides)`, () => {
        assert.equal(resolveAppProtocol('TCP', value, 'metrics'), 'unknown');
        assert.equal(resolveAppProtocol('TCP', value, 'grpc-api'), 'grpc');
      });
    }

    it('container ports named constructor and __proto__ are named ports of the workload', () => {
      const world = worldFromYaml(`
apiVersion: v1
kind: Namespace
metadata: { name: default, labels: { waymesh.io/dataplane-mode: ambient } }
---
apiVersion: v1
kind: Pod
metadata: { name: p, namespace: default }
spec:
  nodeName: node-a
  serviceAccountName: default
  containers:
    - name: app
      ports: [{ name: constructor, containerPort: 8080 }, { name: __proto__, containerPort: 9090 }]
status: { phase: Running, podIP: 10.0.0.5, podIPs: [{ ip: 10.0.0.5 }] }
`);
      const [w] = buildDirectory(world).workloads;
      assert.ok(w !== undefined);
      assert.ok(Object.hasOwn(w.namedPorts, 'constructor') && Object.hasOwn(w.namedPorts, '__proto__'));
      assert.equal(w.namedPorts['constructor'], 8080);
      assert.equal(w.namedPorts['__proto__'], 9090);
      assert.equal(JSON.stringify(w.namedPorts), '{"__proto__":9090,"constructor":8080}');
    });
  });

  describe('values the Gateway API requires to be non-empty', () => {
    const cases: readonly [string, string][] = [
      ['header match value', `    - matches: [{ headers: [{ name: x-a, value: '' }] }]`],
      ['query param match value', `    - matches: [{ queryParams: [{ name: a, value: '' }] }]`],
      [
        'header modifier set value',
        `    - filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-a, value: '' }] } }]`,
      ],
      [
        'header modifier add value',
        `    - filters: [{ type: ResponseHeaderModifier, responseHeaderModifier: { add: [{ name: x-a, value: '' }] } }]`,
      ],
    ];
    for (const [what, rule] of cases) {
      it(`an empty ${what} makes the rule UnsupportedValue`, () => {
        const out = routes(routeYaml(`${rule}\n      backendRefs: [{ name: reviews, port: 80 }]`));
        const accepted = conditions(out.statuses).get('Accepted');
        assert.equal(accepted?.reason, 'UnsupportedValue');
        assert.match(accepted?.message ?? '', /non-empty value/);
        assert.equal(out.tables.length, 0);
      });
    }
  });

  it('repeated header modifier names: the first of equivalent names counts, removes are unique', () => {
    const out = routes(
      routeYaml(`    - filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{ name: X-A, value: first }, { name: x-a, value: second }]
            add: [{ name: x-b, value: one }, { name: X-B, value: two }, { name: x-c, value: three }]
            remove: [x-d, X-D, x-e]
      backendRefs: [{ name: reviews, port: 80 }]`),
    );
    const filter = out.tables[0]?.producer[0]?.filters[0];
    assert.deepEqual(filter, {
      type: 'RequestHeaderModifier',
      set: [{ name: 'x-a', value: 'first' }],
      add: [
        { name: 'x-b', value: 'one' },
        { name: 'x-c', value: 'three' },
      ],
      remove: ['x-d', 'x-e'],
    });
  });

  describe('backends the mesh cannot carry', () => {
    it('an ExternalName Service is BackendNotFound, saying why', () => {
      const out = routes(routeYaml(`    - backendRefs: [{ name: outside, port: 80 }]`));
      const refs = conditions(out.statuses).get('ResolvedRefs');
      assert.equal(refs?.reason, 'BackendNotFound');
      assert.match(refs?.message ?? '', /ExternalName/);
      assert.deepEqual(out.tables[0]?.producer[0]?.backends, [
        { kind: 'invalid', weight: 1, reason: 'BackendNotFound' },
      ]);
    });

    it('a UDP-only port is UnsupportedProtocol; a missing port stays BackendNotFound', () => {
      const udp = conditions(routes(routeYaml(`    - backendRefs: [{ name: reviews, port: 53 }]`)).statuses);
      assert.equal(udp.get('ResolvedRefs')?.reason, 'UnsupportedProtocol');
      assert.match(udp.get('ResolvedRefs')?.message ?? '', /port 53 is not TCP/);
      const none = conditions(routes(routeYaml(`    - backendRefs: [{ name: reviews, port: 54 }]`)).statuses);
      assert.equal(none.get('ResolvedRefs')?.reason, 'BackendNotFound');
    });
  });

  describe('condition messages', () => {
    it('are cut to the API server bound, saying how much was left out', () => {
      const long = 'x'.repeat(100_000);
      const cut = conditionMessage(long);
      assert.ok(
        cut.length <= CONDITION_MESSAGE_MAX && cut.length > CONDITION_MESSAGE_MAX - 40,
        `${cut.length}`,
      );
      assert.match(cut, /… \(\d+ more characters\)$/);
      const kept = Number(/\((\d+) more/.exec(cut)?.[1]);
      assert.equal(cut.indexOf(' …') + kept, long.length);
      assert.equal(conditionMessage('short'), 'short');
    });

    it('never split a surrogate pair', () => {
      for (let shift = 0; shift < 4; shift++) {
        const cut = conditionMessage(`${'a'.repeat(shift)}${'😀'.repeat(40_000)}`);
        assert.ok(cut.length <= CONDITION_MESSAGE_MAX);
        assert.doesNotMatch(cut, /[\ud800-\udbff](?![\udc00-\udfff])/, `shift ${shift}`);
      }
    });

    it('a route with thousands of bad rules gets a writable status that keeps its transition time', () => {
      const bad = Array.from(
        { length: 2000 },
        (_, i) => `    - matches: [{ path: { type: Exact, value: 'no-slash-${i}' } }]`,
      );
      const out = routes(routeYaml(bad.join('\n')));
      const s = out.statuses.find((x) => x.source.name === 'r');
      assert.ok(s?.kind === 'route');
      const desired = s.parents[0]?.conditions ?? [];
      assert.ok(desired.some((c) => c.message.length > CONDITION_MESSAGE_MAX));
      const first = withTransitionTimes(desired, [], '2026-01-01T00:00:00Z');
      for (const c of first) assert.ok(String(c['message']).length <= CONDITION_MESSAGE_MAX);
      const again = withTransitionTimes(desired, first, '2026-02-02T00:00:00Z');
      assert.deepEqual(again, first);
    });
  });

  describe('objects whose metadata has the wrong shape', () => {
    it('are left out of the World, and translate() does not throw', () => {
      const good = worldFromYaml(routeYaml(`    - backendRefs: [{ name: reviews, port: 80 }]`));
      const junk = [
        null,
        7,
        { spec: {} },
        { metadata: null },
        { metadata: { name: 5, namespace: 'default' } },
        { metadata: { name: 'n', namespace: 3 } },
        { metadata: { name: 'a', namespace: 'default', annotations: { x: 5 } }, spec: {} },
      ] as unknown as WireObject[];
      const lists: Record<string, readonly unknown[]> = {
        services: [...good.services, ...junk],
        httpRoutes: [...good.httpRoutes, ...junk],
        gateways: junk,
        pods: junk,
        namespaces: junk,
        authorizationPolicies: junk,
        rateLimitPolicies: junk,
        referenceGrants: junk,
        endpointSlices: junk,
      };
      const world: World = worldFromLists('cluster.local', (f) => (lists[f] ?? []) as readonly WireObject[]);
      assert.equal(world.services.length, good.services.length);
      assert.equal(world.httpRoutes.length, good.httpRoutes.length);
      assert.equal(world.gateways.length, 0);
      const { ir, statuses } = translate(world);
      assert.equal(ir.services.length, 1);
      assert.ok(statuses.some((s) => s.source.name === 'r'));
    });
  });

  it('many consumer namespaces and many parents still bind each route once, in namespace order', () => {
    const docs = [SERVICES];
    for (let i = 0; i < 50; i++) {
      docs.push(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: c${i}, namespace: ns-${String(49 - i).padStart(2, '0')} }
spec:
  parentRefs:
    - { group: '', kind: Service, name: reviews, namespace: default, port: 80 }
    - { group: '', kind: Service, name: reviews, namespace: default, sectionName: http }
  rules: [{ backendRefs: [{ name: reviews, namespace: default, port: 80 }] }]`);
    }
    const out = routes(docs.join('\n---\n'));
    const consumers = out.tables[0]?.consumers ?? {};
    const names = Object.keys(consumers);
    assert.equal(names.length, 50);
    assert.deepEqual(names, [...names].sort());
    for (const ns of names) assert.equal(consumers[ns]?.length, 1, ns);
  });
});
