/**
 * The controller's kube side against the lab API server, in process over HTTPS on loopback:
 * WorldSource (informers → frozen World, missing policy CRDs tolerated) and StatusWriter
 * (merging our route parents / gateway / policy status, never touching other controllers').
 */
import assert from 'node:assert/strict';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Condition, ObjectStatus } from '../../common/ir/status.ts';
import { createLogger } from '../../common/log.ts';
import { isKubeStatus, KubeRest, type KubeClient } from '../../controller/kube/rest.ts';
import { StatusWriter } from '../../controller/kube/status-writer.ts';
import { WorldSource } from '../../controller/kube/world-source.ts';
import type { CustomObject, World } from '../../controller/translate/world.ts';
import { policyCrds, startTestApiServer, type TestApiServer } from '../helpers/apiserver.ts';

const ADMIN = 'controller-kube-admin';
const OURS = 'waymesh.io/mesh-controller';
const OTHER = 'example.com/other-controller';
const GW = '/apis/gateway.networking.k8s.io/v1';
const ROUTE = `${GW}/namespaces/demo/httproutes/r1`;
const AP = '/apis/policy.waymesh.io/v1alpha1/namespaces/demo/authorizationpolicies';
const T1 = new Date('2026-01-01T00:00:00Z');
const T2 = new Date('2026-02-01T00:00:00Z');

type Obj = Record<string, unknown>;

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function cond(type: string, status: Condition['status'], reason: string, message = '', gen = 1): Condition {
  return { type, status, reason, message, observedGeneration: gen };
}

const webParent = { group: '', kind: 'Service', name: 'web', port: 80 };
const goneParent = { group: '', kind: 'Service', name: 'gone' };

function routeStatus(resolved: Condition, parents = [webParent]): ObjectStatus {
  return {
    kind: 'route',
    source: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'demo', name: 'r1' },
    parents: parents.map((parentRef) => ({
      parentRef,
      conditions: [cond('Accepted', 'True', 'Accepted', 'bound to demo/web'), resolved],
    })),
  };
}

const resolvedOk = cond('ResolvedRefs', 'True', 'ResolvedRefs', 'all references resolved');

describe('controller kube side (WorldSource, StatusWriter) against the lab API server', function () {
  this.timeout(60_000);
  const logLines: string[] = [];
  const logger = createLogger({ level: 'debug', sink: { write: (l) => logLines.push(l) } });
  let lab: TestApiServer | undefined;
  let rest: KubeRest;
  let kc: KubeConfig;
  let source: WorldSource | undefined;
  let changes = 0;
  let clock = T1;

  const obj = async (path: string): Promise<Obj> => {
    const o = await rest.find(path);
    assert.ok(o !== undefined && typeof o === 'object', `${path} exists`);
    return o as Obj;
  };
  const statusOf = async (path: string): Promise<Obj> => ((await obj(path))['status'] ?? {}) as Obj;
  const rvOf = async (path: string): Promise<string> =>
    String(((await obj(path))['metadata'] as Obj)['resourceVersion']);
  const parentsOf = async (): Promise<Obj[]> => ((await statusOf(ROUTE))['parents'] ?? []) as Obj[];
  /** A snapshot that already holds `path` at its current resourceVersion. */
  const freshWorld = async (
    pick: (w: World) => readonly CustomObject[],
    name: string,
    path: string,
  ): Promise<World> => {
    const rv = await rvOf(path);
    const src = source;
    assert.ok(src);
    return waitFor(`${name} at rv ${rv} in the snapshot`, () => {
      const w = src.snapshot();
      return pick(w).some((o) => o.metadata.name === name && o.metadata.resourceVersion === rv)
        ? w
        : undefined;
    });
  };
  const writer = (): StatusWriter =>
    new StatusWriter({ client: rest, logger, controllerName: OURS, now: () => clock });

  before(async () => {
    lab = await startTestApiServer({ name: 'controller-kube', adminToken: ADMIN });
    kc = lab.kubeConfig;
    rest = new KubeRest(kc);
    await rest.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'demo', labels: { 'waymesh.io/dataplane-mode': 'ambient' } },
    });
    await rest.create('/api/v1/namespaces/demo/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'demo' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }] },
    });
  });

  after(async () => {
    await source?.stop();
    await lab?.close();
  });

  describe('WorldSource', () => {
    it('syncs without the policy CRDs, warns, and picks policies up once the CRDs exist', async () => {
      source = new WorldSource({
        kubeConfig: kc,
        trustDomain: 'cluster.local',
        logger,
        onChange: () => changes++,
        backoff: { initialMs: 50, maxMs: 200 },
      });
      await source.start();
      assert.equal(source.synced, true);
      assert.ok(changes >= 1, 'onChange fires once everything synced');
      const warnings = logLines
        .map((l) => JSON.parse(l) as Obj)
        .filter((l) => l['level'] === 'warn' && String(l['msg']).includes('CRD not installed'));
      assert.deepEqual(warnings.map((w) => w['path']).sort(), [
        '/apis/policy.waymesh.io/v1alpha1/authorizationpolicies',
        '/apis/policy.waymesh.io/v1alpha1/ratelimitpolicies',
      ]);
      const w = source.snapshot();
      assert.deepEqual(w.authorizationPolicies, []);
      assert.equal(w.trustDomain, 'cluster.local');
      assert.ok(w.services.some((s) => s.metadata?.namespace === 'demo' && s.metadata.name === 'web'));

      for (const crd of policyCrds()) await lab?.api.createObject(crd);
      await rest.create(AP, {
        apiVersion: 'policy.waymesh.io/v1alpha1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'allow-web', namespace: 'demo' },
        spec: { targetRefs: [{ group: '', kind: 'Service', name: 'web' }], action: 'ALLOW', rules: [{}] },
      });
      const ap = await waitFor('the policy in the snapshot', () =>
        source?.snapshot().authorizationPolicies.find((p) => p.metadata.name === 'allow-web'),
      );
      assert.equal(ap.spec?.['action'], 'ALLOW');
      assert.ok(logLines.some((l) => l.includes('resource is now served')));
    });

    it('reflects adds, updates and deletes in frozen, sorted snapshots', async () => {
      const src = source;
      assert.ok(src);
      const before = changes;
      for (const name of ['web-2', 'web-1'])
        await rest.create('/api/v1/namespaces/demo/pods', {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: 'demo', labels: { app: 'web' } },
          spec: { serviceAccountName: 'default', containers: [{ name: 'app', image: 'echo' }] },
        });
      await rest.create(`${GW}/namespaces/demo/httproutes`, {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'r1', namespace: 'demo' },
        spec: { parentRefs: [webParent, goneParent], rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] },
      });
      await rest.create('/apis/apps/v1/namespaces/demo/deployments', {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name: 'wp',
          namespace: 'demo',
          labels: { 'gateway.networking.k8s.io/gateway-name': 'wp' },
        },
        spec: {
          selector: { matchLabels: { app: 'wp' } },
          template: {
            metadata: { labels: { app: 'wp' } },
            spec: { containers: [{ name: 'wp', image: 'waypoint' }] },
          },
        },
      });
      await rest.mergePatch('/apis/apps/v1/namespaces/demo/deployments/wp/status', {
        status: { replicas: 2, readyReplicas: 2 },
      });
      const w = await waitFor('pods, route and waypoint replicas', () => {
        const s = src.snapshot();
        return s.pods.length === 2 && s.httpRoutes.length === 1 && s.waypointReadyReplicas['demo/wp'] === 2
          ? s
          : undefined;
      });
      assert.deepEqual(
        w.pods.map((p) => p.metadata?.name),
        ['web-1', 'web-2'],
      );
      assert.deepEqual(w.waypointReadyReplicas, { 'demo/wp': 2 });
      assert.ok(
        Object.isFrozen(w) && Object.isFrozen(w.pods) && Object.isFrozen(w.pods[0]?.metadata?.labels),
      );
      assert.throws(() => {
        (w.pods as unknown[]).push({});
      }, TypeError);
      assert.ok(changes > before, 'events after sync call onChange');

      await rest.mergePatch('/api/v1/namespaces/demo/services/web', {
        metadata: { labels: { 'waymesh.io/use-waypoint': 'wp' } },
      });
      await rest.delete('/api/v1/namespaces/demo/pods/web-2');
      const w2 = await waitFor('the label and the deletion', () => {
        const s = src.snapshot();
        const web = s.services.find((x) => x.metadata?.name === 'web');
        return web?.metadata?.labels?.['waymesh.io/use-waypoint'] === 'wp' && s.pods.length === 1
          ? s
          : undefined;
      });
      assert.deepEqual(
        w2.pods.map((p) => p.metadata?.name),
        ['web-1'],
      );
      // The earlier snapshot is a copy: later events do not change it.
      assert.equal(w.pods.length, 2);
    });
  });

  describe('StatusWriter', () => {
    it('writes our route parents, keeps another controller’s entry and removes our stale one', async () => {
      await rest.mergePatch(`${ROUTE}/status`, {
        status: {
          parents: [
            {
              parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' },
              controllerName: OTHER,
              conditions: [
                {
                  type: 'Accepted',
                  status: 'True',
                  reason: 'Accepted',
                  message: 'theirs',
                  lastTransitionTime: '2025-01-01T00:00:00Z',
                },
              ],
            },
            {
              parentRef: goneParent,
              controllerName: OURS,
              conditions: [
                {
                  type: 'Accepted',
                  status: 'True',
                  reason: 'Accepted',
                  message: 'stale',
                  lastTransitionTime: '2025-01-01T00:00:00Z',
                },
              ],
            },
          ],
        },
      });
      const world = await freshWorld((w) => w.httpRoutes, 'r1', ROUTE);
      clock = T1;
      const r = await writer().apply([routeStatus(resolvedOk)], world);
      assert.deepEqual(r, { written: 1, unchanged: 1, failed: 0 }, 'the route written, the policy unchanged');
      const parents = await parentsOf();
      assert.deepEqual(
        parents.map((p) => [p['controllerName'], (p['parentRef'] as Obj)['name']]),
        [
          [OTHER, 'edge'],
          [OURS, 'web'],
        ],
      );
      assert.equal((parents[0]?.['conditions'] as Obj[])[0]?.['message'], 'theirs');
      const ours = parents[1]?.['conditions'] as Obj[];
      assert.deepEqual(
        ours.map((c) => [
          c['type'],
          c['status'],
          c['reason'],
          c['observedGeneration'],
          c['lastTransitionTime'],
        ]),
        [
          ['Accepted', 'True', 'Accepted', 1, '2026-01-01T00:00:00Z'],
          ['ResolvedRefs', 'True', 'ResolvedRefs', 1, '2026-01-01T00:00:00Z'],
        ],
      );
    });

    it('does not write when nothing changed (resourceVersion stays)', async () => {
      const world = await freshWorld((w) => w.httpRoutes, 'r1', ROUTE);
      const rv = await rvOf(ROUTE);
      clock = T2;
      const r = await writer().apply([routeStatus(resolvedOk)], world);
      assert.deepEqual(r, { written: 0, unchanged: 2, failed: 0 });
      assert.equal(await rvOf(ROUTE), rv);
    });

    it('keeps lastTransitionTime of unchanged conditions and sets it on changed ones', async () => {
      const world = await freshWorld((w) => w.httpRoutes, 'r1', ROUTE);
      clock = T2;
      const broken = cond('ResolvedRefs', 'False', 'BackendNotFound', 'service demo/nope not found');
      const r = await writer().apply([routeStatus(broken)], world);
      assert.equal(r.written, 1);
      const ours = (await parentsOf()).find((p) => p['controllerName'] === OURS);
      assert.deepEqual(
        (ours?.['conditions'] as Obj[]).map((c) => [c['type'], c['reason'], c['lastTransitionTime']]),
        [
          ['Accepted', 'Accepted', '2026-01-01T00:00:00Z'],
          ['ResolvedRefs', 'BackendNotFound', '2026-02-01T00:00:00Z'],
        ],
      );
    });

    it('retries a conflicting write once from a fresh GET, keeping what changed meanwhile', async () => {
      const stale = await freshWorld((w) => w.httpRoutes, 'r1', ROUTE);
      const current = await parentsOf();
      await rest.mergePatch(`${ROUTE}/status`, {
        status: {
          parents: [
            ...current,
            {
              parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge-2' },
              controllerName: OTHER,
              conditions: [
                {
                  type: 'Accepted',
                  status: 'True',
                  reason: 'Accepted',
                  message: 'late',
                  lastTransitionTime: '2025-01-01T00:00:00Z',
                },
              ],
            },
          ],
        },
      });
      const calls: string[] = [];
      const counting: KubeClient = {
        find: (path) => {
          calls.push('GET');
          return rest.find(path);
        },
        mergePatch: async (path, patch) => {
          try {
            const out = await rest.mergePatch(path, patch);
            calls.push('PATCH 200');
            return out;
          } catch (err) {
            calls.push(`PATCH ${isKubeStatus(err, 409) ? 409 : 'error'}`);
            throw err;
          }
        },
      };
      const conflicting = new StatusWriter({ client: counting, logger, now: () => clock });
      const r = await conflicting.apply([routeStatus(resolvedOk)], stale);
      assert.deepEqual(calls, ['PATCH 409', 'GET', 'PATCH 200']);
      assert.equal(r.written, 1);
      assert.equal(r.failed, 0);
      const parents = await parentsOf();
      assert.deepEqual(
        parents.map((p) => (p['parentRef'] as Obj)['name']),
        ['edge', 'edge-2', 'web'],
      );
      const ours = parents.find((p) => p['controllerName'] === OURS);
      assert.equal((ours?.['conditions'] as Obj[])[1]?.['reason'], 'ResolvedRefs');
    });

    it('removes our entries from a route that no longer gets a status', async () => {
      const world = await freshWorld((w) => w.httpRoutes, 'r1', ROUTE);
      const r = await writer().apply([], world);
      assert.equal(r.written, 1);
      const parents = await parentsOf();
      assert.deepEqual(
        parents.map((p) => p['controllerName']),
        [OTHER, OTHER],
      );
    });

    it('writes gateway and gateway class status', async () => {
      await rest.create(`${GW}/gatewayclasses`, {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'GatewayClass',
        metadata: { name: 'waymesh-waypoint' },
        spec: { controllerName: 'waymesh.io/waypoint-controller' },
      });
      await rest.create(`${GW}/namespaces/demo/gateways`, {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'wp', namespace: 'demo' },
        spec: {
          gatewayClassName: 'waymesh-waypoint',
          listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
        },
      });
      const gwPath = `${GW}/namespaces/demo/gateways/wp`;
      const world = await freshWorld((w) => w.gateways, 'wp', gwPath);
      clock = T1;
      const statuses: ObjectStatus[] = [
        {
          kind: 'gatewayclass',
          source: {
            group: 'gateway.networking.k8s.io',
            kind: 'GatewayClass',
            namespace: '',
            name: 'waymesh-waypoint',
          },
          conditions: [cond('Accepted', 'True', 'Accepted', 'handled by waymesh')],
        },
        {
          kind: 'gateway',
          source: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'demo', name: 'wp' },
          conditions: [
            cond('Accepted', 'True', 'Accepted'),
            cond('Programmed', 'True', 'Programmed', '2 ready'),
          ],
          addresses: ['10.96.0.50'],
          listeners: [
            { name: 'mesh', attachedRoutes: 1, conditions: [cond('Accepted', 'True', 'Accepted')] },
          ],
        },
      ];
      const r = await writer().apply(statuses, world);
      assert.equal(r.failed, 0);
      assert.ok(r.written >= 2, `gateway and class written (${JSON.stringify(r)})`);
      const gs = await statusOf(gwPath);
      assert.deepEqual(gs['addresses'], [{ type: 'IPAddress', value: '10.96.0.50' }]);
      assert.deepEqual(
        (gs['conditions'] as Obj[]).map((c) => [c['type'], c['status'], c['lastTransitionTime']]),
        [
          ['Accepted', 'True', '2026-01-01T00:00:00Z'],
          ['Programmed', 'True', '2026-01-01T00:00:00Z'],
        ],
      );
      const listeners = gs['listeners'] as Obj[];
      assert.equal(listeners.length, 1);
      assert.equal(listeners[0]?.['name'], 'mesh');
      assert.equal(listeners[0]?.['attachedRoutes'], 1);
      const cs = await statusOf(`${GW}/gatewayclasses/waymesh-waypoint`);
      assert.deepEqual(
        (cs['conditions'] as Obj[]).map((c) => [c['type'], c['status'], c['message']]),
        [['Accepted', 'True', 'handled by waymesh']],
      );

      // The same statuses again: nothing to write.
      const classWorld = await freshWorld(
        (w) => w.gatewayClasses,
        'waymesh-waypoint',
        `${GW}/gatewayclasses/waymesh-waypoint`,
      );
      const gwWorld = await freshWorld((w) => w.gateways, 'wp', gwPath);
      const both = { ...classWorld, gateways: gwWorld.gateways };
      const r2 = await writer().apply(statuses, both);
      assert.equal(r2.written, 0);
    });

    it('writes GEP-713 policy ancestors with our controllerName and leaves others alone', async () => {
      const path = `${AP}/allow-web`;
      await rest.mergePatch(`${path}/status`, {
        status: {
          ancestors: [
            {
              ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' },
              controllerName: OTHER,
              conditions: [
                {
                  type: 'Accepted',
                  status: 'True',
                  reason: 'Accepted',
                  message: '',
                  lastTransitionTime: '2025-01-01T00:00:00Z',
                },
              ],
            },
          ],
        },
      });
      const world = await freshWorld((w) => w.authorizationPolicies, 'allow-web', path);
      const policy: ObjectStatus = {
        kind: 'policy',
        source: {
          group: 'policy.waymesh.io',
          kind: 'AuthorizationPolicy',
          namespace: 'demo',
          name: 'allow-web',
        },
        ancestors: [
          {
            ancestorRef: { group: '', kind: 'Service', namespace: 'demo', name: 'web' },
            conditions: [cond('Accepted', 'True', 'Accepted', 'enforced by demo/wp')],
          },
        ],
      };
      const r = await writer().apply([policy], world);
      assert.equal(r.written, 1);
      const ancestors = (await statusOf(path))['ancestors'] as Obj[];
      assert.deepEqual(
        ancestors.map((a) => [a['controllerName'], (a['ancestorRef'] as Obj)['kind']]),
        [
          [OTHER, 'Gateway'],
          [OURS, 'Service'],
        ],
      );

      const rv = await rvOf(path);
      const fresh = await freshWorld((w) => w.authorizationPolicies, 'allow-web', path);
      const same = await writer().apply([policy], fresh);
      assert.equal(same.written, 0);
      assert.equal(await rvOf(path), rv);

      // No status computed any more (e.g. the policy's target went away): our ancestor is removed.
      const gone = await writer().apply([], fresh);
      assert.equal(gone.written, 1);
      assert.deepEqual(
        ((await statusOf(path))['ancestors'] as Obj[]).map((a) => a['controllerName']),
        [OTHER],
      );
    });
  });
});
