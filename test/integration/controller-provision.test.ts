/**
 * Waypoint provisioning and leader election against the lab's API server, run in-process over
 * HTTPS on loopback: GatewayClass, a Gateway's three owned objects, drift repair, garbage
 * collection when the Gateway goes, and a Lease handed from one elector to another.
 */
import assert from 'node:assert/strict';
import { silentLogger } from '../../common/log.ts';
import { LeaderElector } from '../../controller/leader/index.ts';
import {
  ensureGatewayClass,
  KubeRest,
  kubeCall,
  kubeGet,
  resourcePath,
  WaypointProvisioner,
  type LiveObject,
  type LiveWaypointObjects,
} from '../../controller/provision/index.ts';
import type { CustomObject } from '../../controller/translate/world.ts';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.ts';

const ADMIN = 'provision-test-token';
const config = {
  image: 'waymesh/waypoint:test',
  replicas: 1,
  controllerAddress: 'waymesh-controller.waymesh-system.svc:15012',
  trustDomain: 'cluster.local',
};

describe('controller provisioning and leader election on the lab API server', function () {
  this.timeout(30_000);
  let lab: TestApiServer | undefined;
  let client: KubeRest;

  before(async () => {
    lab = await startTestApiServer({ name: 'provision', adminToken: ADMIN });
    client = new KubeRest({ server: lab.url, token: () => ADMIN, caPem: lab.caPem });
    for (const ns of ['shop', 'waymesh-system'])
      await kubeCall(client, {
        method: 'POST',
        path: '/api/v1/namespaces',
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
      });
  });

  after(async () => {
    await lab?.close();
  });

  const items = async (path: string): Promise<LiveObject[]> => {
    const list = (await kubeCall(client, {
      method: 'GET',
      path: `${path}?labelSelector=${encodeURIComponent('waymesh.io/waypoint=true')}`,
    })) as { items?: LiveObject[] };
    return list.items ?? [];
  };
  const live = async (): Promise<LiveWaypointObjects> => ({
    deployments: await items('/apis/apps/v1/deployments'),
    services: await items('/api/v1/services'),
    serviceAccounts: await items('/api/v1/serviceaccounts'),
  });
  const gateways = async (): Promise<CustomObject[]> =>
    (
      (await kubeCall(client, { method: 'GET', path: '/apis/gateway.networking.k8s.io/v1/gateways' })) as {
        items: CustomObject[];
      }
    ).items;
  const provisioner = (): WaypointProvisioner =>
    new WaypointProvisioner({ client, logger: silentLogger, config });

  it('ensures GatewayClass waymesh-waypoint exactly once', async () => {
    assert.equal(await ensureGatewayClass(client), 'created');
    assert.equal(await ensureGatewayClass(client), 'exists');
    const gc = (await kubeGet(client, resourcePath('GatewayClass', undefined, 'waymesh-waypoint'))) as {
      spec: { controllerName: string };
    };
    assert.equal(gc.spec.controllerName, 'waymesh.io/waypoint-controller');
  });

  it('provisions a Gateway’s ServiceAccount, Deployment and Service with owner references', async () => {
    const gw = (await kubeCall(client, {
      method: 'POST',
      path: resourcePath('Gateway', 'shop'),
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'wp', namespace: 'shop' },
        spec: {
          gatewayClassName: 'waymesh-waypoint',
          listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
        },
      },
    })) as CustomObject;
    const r = await provisioner().reconcile(await gateways(), await live());
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.created, ['Deployment/shop/wp', 'Service/shop/wp', 'ServiceAccount/shop/wp']);
    for (const kind of ['ServiceAccount', 'Deployment', 'Service']) {
      const o = (await kubeGet(client, resourcePath(kind, 'shop', 'wp'))) as LiveObject | undefined;
      assert.ok(o, `${kind} exists`);
      assert.equal(o.metadata?.ownerReferences?.[0]?.uid, gw.metadata.uid);
      assert.equal(o.metadata?.ownerReferences?.[0]?.controller, true);
      assert.equal(o.metadata?.labels?.['gateway.networking.k8s.io/gateway-name'], 'wp');
    }
    const svc = (await kubeGet(client, resourcePath('Service', 'shop', 'wp'))) as {
      spec: { clusterIP: string; ports: { port: number; appProtocol: string }[] };
    };
    assert.match(svc.spec.clusterIP, /^10\.96\./);
    assert.deepEqual(
      svc.spec.ports.map((p) => [p.port, p.appProtocol]),
      [[15008, 'https']],
    );
    const again = await provisioner().reconcile(await gateways(), await live());
    assert.deepEqual([again.created, again.updated, again.deleted], [[], [], []]);
  });

  it('brings back a deleted Deployment and applies a replicas annotation', async () => {
    await kubeCall(client, { method: 'DELETE', path: resourcePath('Deployment', 'shop', 'wp') });
    await lab?.api.settled();
    const r = await provisioner().reconcile(await gateways(), await live());
    assert.deepEqual(r.created, ['Deployment/shop/wp']);
    assert.ok(await kubeGet(client, resourcePath('Deployment', 'shop', 'wp')));

    await kubeCall(client, {
      method: 'PATCH',
      path: resourcePath('Gateway', 'shop', 'wp'),
      body: { metadata: { annotations: { 'waymesh.io/waypoint-replicas': '3' } } },
    });
    const r2 = await provisioner().reconcile(await gateways(), await live());
    assert.deepEqual(r2.updated, ['Deployment/shop/wp']);
    const dep = (await kubeGet(client, resourcePath('Deployment', 'shop', 'wp'))) as {
      spec: { replicas: number };
    };
    assert.equal(dep.spec.replicas, 3);
  });

  it('lets the API server garbage-collect the objects when the Gateway is deleted', async () => {
    await kubeCall(client, { method: 'DELETE', path: resourcePath('Gateway', 'shop', 'wp') });
    for (let i = 0; i < 50; i++) {
      await lab?.api.settled();
      const left = await live();
      if (left.deployments.length + left.services.length + left.serviceAccounts.length === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const kind of ['ServiceAccount', 'Deployment', 'Service'])
      assert.equal(await kubeGet(client, resourcePath(kind, 'shop', 'wp')), undefined, `${kind} is gone`);
  });

  it('elects one of two controllers and hands over when the leader stops', async () => {
    const leading = new Set<string>();
    const make = (identity: string): LeaderElector =>
      new LeaderElector({
        client,
        identity,
        logger: silentLogger,
        leaseDurationSeconds: 3,
        renewDeadlineSeconds: 2,
        retryPeriodSeconds: 0.25,
        onStartedLeading: () => leading.add(identity),
        onStoppedLeading: () => leading.delete(identity),
      });
    const a = make('replica-a');
    const b = make('replica-b');
    const waitFor = async (cond: () => boolean, ms: number): Promise<void> => {
      const end = Date.now() + ms;
      while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
      assert.ok(cond(), 'condition not reached in time');
    };
    try {
      a.start();
      await waitFor(() => a.isLeader, 5000);
      b.start();
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual([...leading], ['replica-a']);
      const lease = (await kubeGet(
        client,
        resourcePath('Lease', 'waymesh-system', 'waymesh-controller'),
      )) as {
        spec: { holderIdentity: string; renewTime: string; leaseTransitions: number };
      };
      assert.equal(lease.spec.holderIdentity, 'replica-a');
      assert.match(lease.spec.renewTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      assert.equal(lease.spec.leaseTransitions, 0);

      await a.stop();
      assert.equal(a.isLeader, false);
      // Released (holder cleared), so b takes over within a retry period or two, not a lease duration.
      await waitFor(() => b.isLeader, 2000);
      assert.deepEqual([...leading], ['replica-b']);
      const after = (await kubeGet(
        client,
        resourcePath('Lease', 'waymesh-system', 'waymesh-controller'),
      )) as {
        spec: { holderIdentity: string; leaseTransitions: number };
      };
      assert.equal(after.spec.holderIdentity, 'replica-b');
      assert.equal(after.spec.leaseTransitions, 1);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
