import assert from 'node:assert/strict';
import { isMeshError } from '../../../common/errors.ts';
import { buildDirectory } from '../../../controller/translate/directory/index.ts';
import { translateRoutes } from '../../../controller/translate/routes/index.ts';
import {
  BENCH_WORLD,
  syntheticNodeNames,
  syntheticWorld,
  type SyntheticWorldOptions,
} from '../../../bench/synthetic-world.ts';

const SMALL: SyntheticWorldOptions = {
  seed: 7,
  namespaces: 10,
  nodes: 3,
  services: 40,
  pods: 120,
  routes: 30,
  waypoints: 4,
  authorizationPolicies: 8,
  rateLimitPolicies: 6,
};

describe('bench/synthetic-world', () => {
  it('has the sizes it was asked for', () => {
    const w = syntheticWorld(SMALL);
    assert.equal(w.namespaces.length, 10);
    assert.equal(w.services.length, 40);
    assert.equal(w.pods.length, 120);
    assert.equal(w.httpRoutes.length + w.grpcRoutes.length, 30);
    assert.ok(w.grpcRoutes.length > 0, 'some GRPCRoutes');
    assert.equal(w.gateways.length, 4);
    assert.equal(Object.keys(w.waypointReadyReplicas).length, 4);
    assert.equal(w.authorizationPolicies.length, 8);
    assert.equal(w.rateLimitPolicies.length, 6);
    // One EndpointSlice per application Service (the waypoints' Services use their selector).
    assert.equal(w.endpointSlices.length, 40 - 4);
    const nodes = new Set(w.pods.map((p) => p.spec?.nodeName));
    assert.deepEqual([...nodes].sort(), syntheticNodeNames(3));
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = JSON.stringify(syntheticWorld(SMALL));
    assert.equal(JSON.stringify(syntheticWorld(SMALL)), a);
    assert.notEqual(JSON.stringify(syntheticWorld({ ...SMALL, seed: 8 })), a);
  });

  it('is frozen deeply, like the controller World', () => {
    const w = syntheticWorld(SMALL);
    assert.ok(Object.isFrozen(w));
    assert.ok(Object.isFrozen(w.pods));
    assert.ok(Object.isFrozen(w.httpRoutes[0]?.spec));
  });

  it('translates to something real: waypoints bound, consumer routes, route tables', () => {
    const w = syntheticWorld(SMALL);
    const directory = buildDirectory(w);
    assert.equal(directory.workloads.length > 100, true);
    assert.ok(
      directory.services.some((s) => s.waypoint !== undefined),
      'some Service has a waypoint',
    );
    const routes = translateRoutes(w, { waypointOf: (s) => directory.waypointOf(s) });
    assert.ok(routes.tables.length > 0);
    assert.ok(
      routes.tables.some((t) => Object.keys(t.consumers).length > 0),
      'some table carries consumer routes',
    );
    assert.equal(routes.statuses.length, 30);
  });

  it('rejects sizes it cannot honour', () => {
    assert.throws(
      () => syntheticWorld({ ...SMALL, waypoints: 11 }),
      (e: unknown) => isMeshError(e, 'BENCH_BAD_SIZES'),
    );
  });

  it('the benchmark size is the one issue 4 asks for', () => {
    assert.equal(BENCH_WORLD.services, 2000);
    assert.equal(BENCH_WORLD.pods, 10000);
    assert.equal(BENCH_WORLD.routes, 2000);
    assert.equal(BENCH_WORLD.waypoints, 50);
    assert.equal(BENCH_WORLD.namespaces, 100);
    assert.equal(BENCH_WORLD.nodes, 20);
  });
});
