/**
 * Resilience of the control plane (issue 7 §4), driven by kubectl in one lab:
 * - both controller pods killed (and kept down) under traffic: a held TCP connection through
 *   the node agents never stalls or drops, new HTTP requests keep working on the proxies' last
 *   config, and an HTTPRoute changed while the controller is down takes effect when it returns;
 * - the API server's connections cut (the lab's in-cluster API forwarder killed): informers
 *   resume without restarting anything;
 * - the API server restarted (supervisor killed, `waymesh lab up`): objects and uids are kept,
 *   and a route applied afterwards gets status and takes effect.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'mocha';
import {
  apply,
  configConverged,
  curl,
  eventually,
  getJson,
  settledRoute,
  WAYPOINT_PODS,
} from '../../helpers/journey.ts';
import { useLab } from '../../helpers/lab.ts';
import {
  apiForwarderPids,
  failures,
  forceDelete,
  holdEstablished,
  holdReport,
  holdTcp,
  httpStream,
  podFacts,
  restartSupervisor,
  setReplicas,
  setUpResilienceLab,
  streamResults,
  streamStarted,
  type PodFacts,
} from '../../helpers/resilience.ts';

const CONTROLLER = 'app.kubernetes.io/name=waymesh-controller';
const AGENT = 'app.kubernetes.io/name=waymesh-node-agent';

/** HTTPRoute `name` on Service echo setting response header `x-gen: gen` (on `path`, if given). */
function route(name: string, gen: string, path?: string): string {
  const matches = path === undefined ? '' : `matches: [{ path: { type: PathPrefix, value: ${path} } }]\n    `;
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 80 }]
  rules:
  - ${matches}filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: { set: [{ name: x-gen, value: ${gen} }] }
    backendRefs: [{ name: echo, port: 80 }]
`;
}

const uids = (pods: readonly PodFacts[]): string[] => pods.map((p) => p.uid).sort();

describe('resilience: controller and API server restarts (e2e, kubectl)', function () {
  this.timeout(240_000);
  const lab = useLab('rcp');
  const gen = async (path = '/'): Promise<string | undefined> =>
    (await curl(lab, 'shop/client-1', `http://echo${path}`)).headers['x-gen'];

  before(async function () {
    this.timeout(240_000);
    await setUpResilienceLab(lab);
    apply(lab, route('echo', 'v1'));
    await eventually('route v1 in force', async () => ((await gen()) === 'v1' ? true : undefined), 30_000);
    await configConverged(lab, 'shop/client-1');
  });

  it('keeps connections and config while both controllers are down, and applies changes made meanwhile', async () => {
    const waypointsBefore = await podFacts(lab, 'shop', WAYPOINT_PODS);
    const hold = holdTcp(lab, 'shop/client-1', 'echo-2', 9000);
    const stream = httpStream(
      lab,
      'shop/client-1',
      'http://echo/',
      ...['--count', '600', '--concurrency', '2', '--interval-ms', '100', '--timeout-ms', '3000'],
    );
    try {
      await holdEstablished(hold);
      await streamStarted(stream);
      const controllers = await podFacts(lab, 'waymesh-system', CONTROLLER);
      assert.equal(controllers.length, 2, 'two controller replicas');
      await setReplicas(lab, 'waymesh-system', 'waymesh-controller', 0);
      await forceDelete(lab, 'waymesh-system', ...controllers.map((c) => c.name));
      await eventually('no controller pod', async () =>
        (await podFacts(lab, 'waymesh-system', CONTROLLER)).length === 0 ? true : undefined,
      );
      const downAt = Date.now();
      // Fresh connections (curl opens its own) still work on the proxies' last config.
      assert.equal(await gen(), 'v1', 'new requests work while the controller is down');
      apply(lab, route('echo', 'v2'));
      await sleep(3000);
      assert.equal(await gen(), 'v1', 'nothing pushes the change while the controller is down');

      await setReplicas(lab, 'waymesh-system', 'waymesh-controller', 2);
      await lab.kubectl(
        '-n',
        'waymesh-system',
        'rollout',
        'status',
        'deployment/waymesh-controller',
        '--timeout=90s',
      );
      const backAt = Date.now();
      await eventually('route v2 after the controller returned', async () =>
        (await gen()) === 'v2' ? true : undefined,
      );
      const seenMs = Date.now() - backAt;
      // Seen once means one waypoint replica has it; the change is applied when every one does.
      await configConverged(
        lab,
        'shop/client-1',
        waypointsBefore.map((p) => p.ip),
      );
      const appliedMs = Date.now() - backAt;
      for (let i = 0; i < 6; i++) assert.equal(await gen(), 'v2', `request ${i} after convergence`);
      await sleep(1000);
      const r = holdReport(hold);
      assert.equal(r.failure, undefined, `the held connection failed: ${r.failure ?? ''}`);
      assert.ok(!hold.ended(), `the held connection ended: ${hold.stderr()}`);
      assert.ok(r.ok >= 20, `round trips on the held connection: ${r.ok}`);
      assert.ok(r.maxGapMs < 1500, `longest pause on the held connection: ${r.maxGapMs} ms`);
      const results = streamResults(stream);
      const during = results.filter((x) => x.startAt >= downAt && x.endAt <= backAt);
      assert.ok(during.length >= 20, `requests sent while the controller was down: ${during.length}`);
      assert.deepEqual(failures(results), [], 'no request failed');
      assert.deepEqual(
        uids(await podFacts(lab, 'shop', WAYPOINT_PODS)),
        uids(waypointsBefore),
        'the returning controller re-created no waypoint pod',
      );
      console.log(
        `      controller down ${backAt - downAt} ms; change seen ${seenMs} ms and on every waypoint ${appliedMs} ms after rollout`,
      );
    } finally {
      await Promise.all([hold.stop(), stream.stop()]);
    }
  });

  it('resumes informers when the API server connections are cut (in-lab forwarder killed)', async () => {
    const controllers = await podFacts(lab, 'waymesh-system', CONTROLLER);
    const agents = await podFacts(lab, 'waymesh-system', AGENT);
    const pids = apiForwarderPids(lab);
    assert.ok(pids.length >= 1, 'found the lab’s API forwarder');
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await eventually('a new forwarder', () =>
      Promise.resolve(apiForwarderPids(lab).some((p) => !pids.includes(p)) ? true : undefined),
    );
    const t0 = Date.now();
    apply(lab, route('echo-b', 'b', '/b'));
    const status = await settledRoute(lab, 'httproute', 'shop', 'echo-b');
    assert.equal(status['Accepted'], 'True/Accepted');
    await eventually(
      'route echo-b in traffic',
      async () => ((await gen('/b')) === 'b' ? true : undefined),
      30_000,
    );
    const seenMs = Date.now() - t0;
    await configConverged(lab, 'shop/client-1');
    console.log(
      `      new route seen ${seenMs} ms and on every waypoint ${Date.now() - t0} ms after the cut`,
    );
    for (let i = 0; i < 4; i++) {
      assert.equal(await gen('/b'), 'b', `request ${i} to the new route`);
      assert.equal(await gen('/'), 'v2', `request ${i}: the other route is unchanged`);
    }
    const same = (before: readonly PodFacts[], after: readonly PodFacts[]): void => {
      assert.deepEqual(uids(after), uids(before));
      assert.deepEqual(
        after.map((p) => p.restarts),
        before.map((p) => p.restarts),
        'no container restarted',
      );
    };
    same(controllers, await podFacts(lab, 'waymesh-system', CONTROLLER));
    same(agents, await podFacts(lab, 'waymesh-system', AGENT));
  });

  it('keeps every object and uid when the API server restarts, and informers resume', async () => {
    interface Meta {
      metadata: { uid: string };
    }
    const uidOf = async (...args: string[]): Promise<string> =>
      (await getJson<Meta>(lab, ...args)).metadata.uid;
    const deployments = async (): Promise<string[]> => [
      await uidOf('-n', 'shop', 'deployment', 'waypoint'),
      await uidOf('-n', 'waymesh-system', 'deployment', 'waymesh-controller'),
      await uidOf('-n', 'shop', 'gateway', 'waypoint'),
    ];
    const before = {
      deployments: await deployments(),
      controllers: uids(await podFacts(lab, 'waymesh-system', CONTROLLER)),
      waypoints: uids(await podFacts(lab, 'shop', WAYPOINT_PODS)),
      routes: await lab.kubectl('get', 'httproutes,gateways,services,deployments', '-A', '-o', 'name'),
    };
    const t0 = Date.now();
    await restartSupervisor(lab);
    await lab.kubectl(
      '-n',
      'waymesh-system',
      'rollout',
      'status',
      'deployment/waymesh-controller',
      '--timeout=90s',
    );
    console.log(`      API server back and controllers ready in ${Date.now() - t0} ms`);
    assert.deepEqual(await deployments(), before.deployments, 'Deployments and Gateway kept their uids');
    assert.equal(
      await lab.kubectl('get', 'httproutes,gateways,services,deployments', '-A', '-o', 'name'),
      before.routes,
      'no object lost or added',
    );
    assert.deepEqual(uids(await podFacts(lab, 'waymesh-system', CONTROLLER)), before.controllers);
    assert.deepEqual(uids(await podFacts(lab, 'shop', WAYPOINT_PODS)), before.waypoints);

    apply(lab, route('echo-c', 'c', '/c'));
    const status = await settledRoute(lab, 'httproute', 'shop', 'echo-c');
    assert.equal(status['Accepted'], 'True/Accepted');
    await eventually(
      'route echo-c in traffic',
      async () => ((await gen('/c')) === 'c' ? true : undefined),
      60_000,
    );
    await configConverged(lab, 'shop/client-1');
    for (let i = 0; i < 4; i++) {
      assert.equal(await gen('/c'), 'c', `request ${i} to the new route`);
      assert.equal(await gen('/'), 'v2', `request ${i}: the other route is unchanged`);
    }
  });
});
