import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'mocha';
import { isMeshError } from '../../../common/errors.ts';
import type { AppProtocol } from '../../../common/ir/index.ts';
import { buildDirectory } from '../../../controller/translate/directory/index.ts';
import { resolveAppProtocol } from '../../../controller/translate/directory/protocol.ts';
import { mtlsMode } from '../../../controller/translate/directory/workloads.ts';
import type { World } from '../../../controller/translate/world.ts';
import { expectGolden, goldenCases, worldFromYaml } from '../../helpers/golden.ts';

const DIR = join(import.meta.dirname, '../../golden/directory');

function load(name: string): World {
  return worldFromYaml(readFileSync(join(DIR, `${name}.in.yaml`), 'utf8'));
}

describe('controller/translate/directory', () => {
  describe('golden cases', () => {
    const cases = goldenCases(DIR);
    it('has one case per rule of issue 4 §2/§3', () => {
      assert.equal(cases.length, 14);
    });
    for (const [name, path] of cases) {
      it(name, () => {
        const dir = buildDirectory(worldFromYaml(readFileSync(path, 'utf8')));
        expectGolden(DIR, name, 'directory', { workloads: dir.workloads, services: dir.services });
        expectGolden(DIR, name, 'status', dir.statuses);
      });
    }
  });

  describe('resolveAppProtocol', () => {
    const table: readonly [string | undefined, string, AppProtocol][] = [
      ['http', 'x', 'http'],
      ['HTTP', 'x', 'http'],
      ['kubernetes.io/h2c', 'x', 'http2'],
      ['http2', 'x', 'http2'],
      ['grpc', 'tcp-x', 'grpc'],
      ['tcp', 'http', 'tcp'],
      ['https', 'http', 'tcp'],
      ['kubernetes.io/ws', 'x', 'http'],
      ['example.com/custom', 'grpc-x', 'grpc'],
      [undefined, 'http', 'http'],
      [undefined, 'http-api', 'http'],
      [undefined, 'HTTP2-api', 'http2'],
      [undefined, 'grpc-orders', 'grpc'],
      [undefined, 'grpc-web', 'http'],
      [undefined, 'tcp-db', 'tcp'],
      [undefined, 'httpx', 'unknown'],
      [undefined, 'metrics', 'unknown'],
      [undefined, '', 'unknown'],
    ];
    for (const [app, name, want] of table) {
      it(`appProtocol=${String(app)} name=${JSON.stringify(name)} → ${want}`, () => {
        assert.equal(resolveAppProtocol('TCP', app, name), want);
      });
    }
    it('non-TCP ports are unknown whatever they say', () => {
      assert.equal(resolveAppProtocol('UDP', 'http', 'http-dns'), 'unknown');
      assert.equal(resolveAppProtocol('SCTP', undefined, 'grpc'), 'unknown');
    });
  });

  describe('waypointOf', () => {
    it('returns the binding of a bound Service and undefined otherwise', () => {
      const dir = buildDirectory(load('waypoint-cross-namespace'));
      assert.deepEqual(dir.waypointOf('billing/payments'), {
        gateway: { namespace: 'mesh-infra', name: 'edge' },
        addresses: ['10.96.9.5'],
        identity: 'spiffe://cluster.local/ns/mesh-infra/sa/edge',
      });
      assert.equal(dir.waypointOf('billing/ledger')?.gateway.name, 'shared');
      assert.equal(dir.waypointOf('billing/invoices'), undefined);
      assert.equal(dir.waypointOf('mesh-infra/edge'), undefined);
      assert.equal(dir.waypointOf('nowhere/nothing'), undefined);
    });
    it('agrees with services[].waypoint in every case', () => {
      for (const [name] of goldenCases(DIR)) {
        const dir = buildDirectory(load(name));
        for (const s of dir.services)
          assert.deepEqual(dir.waypointOf(s.key), s.waypoint, `${name}: ${s.key}`);
      }
    });
  });

  describe('invariants', () => {
    it('every endpoint names a listed workload or none, and only mesh pods are captured', () => {
      for (const [name] of goldenCases(DIR)) {
        const world = load(name);
        const dir = buildDirectory(world);
        const uids = new Set(dir.workloads.map((w) => w.uid));
        for (const s of dir.services)
          for (const e of s.endpoints)
            assert.ok(e.workloadUid === '' || uids.has(e.workloadUid), `${name}: ${e.ip}`);
        for (const w of dir.workloads.filter((x) => x.captured))
          assert.ok(w.ips.length > 0, `${name}: ${w.name}`);
      }
    });
    it('output does not depend on input order', () => {
      for (const [name] of goldenCases(DIR)) {
        const world = load(name);
        const reversed: World = {
          ...world,
          namespaces: [...world.namespaces].reverse(),
          pods: [...world.pods].reverse(),
          services: [...world.services].reverse(),
          endpointSlices: [...world.endpointSlices].reverse(),
          gatewayClasses: [...world.gatewayClasses].reverse(),
          gateways: [...world.gateways].reverse(),
        };
        const a = buildDirectory(world);
        const b = buildDirectory(reversed);
        assert.deepEqual(
          JSON.parse(JSON.stringify({ w: b.workloads, s: b.services, st: b.statuses })),
          JSON.parse(JSON.stringify({ w: a.workloads, s: a.services, st: a.statuses })),
          name,
        );
      }
    });
  });

  describe('untrusted input', () => {
    it('skips malformed objects instead of throwing', () => {
      const world = worldFromYaml(`
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {waymesh.io/dataplane-mode: ambient, waymesh.io/use-waypoint: 7}}
---
apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: shop, labels: "nope"}
spec: {containers: "x", serviceAccountName: "Not_A_Name"}
status: {podIPs: "10.0.0.1", phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: shop}
spec: {containers: [{ports: [{name: web, containerPort: 70000}, {name: 5, containerPort: 80}]}]}
status: {podIPs: [{ip: "999.1.1.1"}, {ip: 10.0.0.2}], phase: Running}
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: shop}
spec: {clusterIPs: [None], ports: [{port: "80"}, {port: 81, protocol: QUIC}, {port: 82}], selector: [1]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec: {gatewayClassName: waymesh-waypoint, listeners: "mesh"}
`);
      const dir = buildDirectory(world);
      assert.deepEqual(
        dir.workloads.map((w) => [w.name, w.ips, w.namedPorts, w.captured]),
        [['ok', ['10.0.0.2'], {}, true]],
      );
      assert.deepEqual(dir.services[0]?.ports, [
        { name: '', port: 82, protocol: 'TCP', appProtocol: 'unknown' },
      ]);
      assert.deepEqual(dir.services[0]?.clusterIPs, []);
      assert.equal(dir.waypointOf('shop/svc'), undefined);
      const gw = dir.statuses.find((s) => s.kind === 'gateway');
      assert.equal(gw?.kind === 'gateway' ? gw.conditions[0]?.reason : undefined, 'ListenersNotValid');
    });
    it('throws a MeshError only for an invalid trust domain (controller config)', () => {
      const world = { ...worldFromYaml(''), trustDomain: 'Bad Domain' };
      assert.throws(
        () => buildDirectory(world),
        (e: unknown) => isMeshError(e, 'SPIFFE_ID_INVALID'),
      );
    });
    it('uses the configured trust domain in identities', () => {
      const world = worldFromYaml(
        readFileSync(join(DIR, 'waypoint-service-label.in.yaml'), 'utf8'),
        'example.org',
      );
      const dir = buildDirectory(world);
      assert.equal(
        dir.waypointOf('shop/reviews')?.identity,
        'spiffe://example.org/ns/shop/sa/reviews-waypoint',
      );
      assert.ok(dir.workloads.every((w) => w.identity.startsWith('spiffe://example.org/ns/')));
    });
  });
});

describe('controller/translate/directory mtlsMode', () => {
  it('takes the pod label over the namespace label, any case, and ignores other values', () => {
    assert.equal(mtlsMode({}, {}), undefined);
    assert.equal(mtlsMode({}, { 'waymesh.io/mtls-mode': 'STRICT' }), 'STRICT');
    assert.equal(
      mtlsMode({ 'waymesh.io/mtls-mode': 'permissive' }, { 'waymesh.io/mtls-mode': 'strict' }),
      undefined,
    );
    assert.equal(mtlsMode({ 'waymesh.io/mtls-mode': 'Strict' }, undefined), 'STRICT');
    assert.equal(
      mtlsMode({ 'waymesh.io/mtls-mode': 'sometimes' }, { 'waymesh.io/mtls-mode': 'strict' }),
      'STRICT',
    );
  });
});
