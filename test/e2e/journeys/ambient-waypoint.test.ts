/**
 * User journeys 1 and 2 of issue 7 §2, driven by kubectl in one lab:
 * 1. labelling a namespace ambient captures its running pods without restarting them, calls
 *    between them carry SPIFFE identities, and removing the label makes them plain again;
 * 2. a waypoint `Gateway` becomes `Programmed` and, once a Service is labelled
 *    `waymesh.io/use-waypoint`, L7 traffic for it goes through the waypoint.
 * Tutorials: docs/tutorials/ambient.md, docs/tutorials/waypoint.md.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'mocha';
import {
  apply,
  createWaypoint,
  curl,
  deployJourneyApp,
  echoFacts,
  eventually,
  getJson,
  installMesh,
  metricSum,
  podIps,
  routeConditions,
  scrape,
  settledRoute,
  WAYPOINT_PODS,
} from '../../helpers/journey.ts';
import { useLab } from '../../helpers/lab.ts';

interface Pod {
  metadata: { name: string; uid: string; annotations?: Record<string, string> };
  status?: { podIP?: string; containerStatuses?: { restartCount: number }[] };
}

const CLIENT = 'spiffe://cluster.local/ns/shop/sa/client';

const HEADER_ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 80 }]
  rules:
  - filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: { set: [{ name: x-via, value: waypoint }] }
    backendRefs: [{ name: echo, port: 80 }]
`;

describe('journeys 1–2: ambient namespace and waypoint (e2e, kubectl)', function () {
  this.timeout(240_000);
  const lab = useLab('j1');
  const podsOf = async (ns: string): Promise<Pod[]> =>
    (await getJson<{ items: Pod[] }>(lab, '-n', ns, 'pods')).items;
  const captured = (p: Pod): boolean => p.metadata.annotations?.['waymesh.io/redirection'] === 'enabled';
  const agentIps = (): Promise<string[]> =>
    podIps(lab, 'waymesh-system', 'app.kubernetes.io/name=waymesh-node-agent', 'hostIP');
  const inboundFromClient = async (): Promise<number> =>
    metricSum(await scrape(lab, 'shop/client', await agentIps()), 'waymesh_tcp_connections_opened_total', {
      direction: 'inbound',
      source_principal: CLIENT,
    });
  let initial: Pod[] = [];
  let clientIp = '';

  before(async function () {
    this.timeout(180_000);
    await installMesh(lab);
    await deployJourneyApp(lab, false);
    initial = await podsOf('shop');
    clientIp = initial.find((p) => p.metadata.name === 'client')?.status?.podIP ?? '';
    assert.notEqual(clientIp, '');
  });

  it('journey 1: before the label, echo sees the client itself and nothing is captured', async () => {
    const facts = echoFacts(await curl(lab, 'shop/client', 'http://echo/'));
    assert.equal(facts.remoteAddr.split(':')[0], clientIp);
    assert.ok(!(await podsOf('shop')).some(captured));
  });

  it('journey 1: labelling the namespace captures its pods without restarting them', async () => {
    await lab.kubectl('label', 'namespace', 'shop', 'waymesh.io/dataplane-mode=ambient');
    const now = await eventually('every shop pod annotated', async () => {
      const ps = await podsOf('shop');
      return ps.length === initial.length && ps.every(captured) ? ps : undefined;
    });
    for (const p of now) {
      const old = initial.find((b) => b.metadata.name === p.metadata.name);
      assert.equal(p.metadata.uid, old?.metadata.uid, `${p.metadata.name} is the same pod`);
      assert.equal(p.status?.containerStatuses?.[0]?.restartCount, 0, `${p.metadata.name} did not restart`);
    }
  });

  it('journey 1: calls carry the client SPIFFE identity, seen by the node agent', async () => {
    const opened = await inboundFromClient();
    const facts = echoFacts(
      await eventually('echo through the agents', async () => {
        const a = await curl(lab, 'shop/client', 'http://echo/');
        // Through the mesh the app sees a local connection from the agent, not the client.
        return echoFacts(a).remoteAddr.split(':')[0] === clientIp ? undefined : a;
      }),
    );
    assert.match(facts.pod, /^echo-/);
    const after = await eventually('inbound connection counted', async () => {
      const n = await inboundFromClient();
      return n > opened ? n : undefined;
    });
    assert.ok(after > opened, `inbound connections from ${CLIENT}: ${opened} → ${after}`);
  });

  it('journey 1: removing the label makes traffic plain again, still without restarts', async () => {
    await lab.kubectl('label', 'namespace', 'shop', 'waymesh.io/dataplane-mode-');
    await eventually('annotations removed', async () =>
      (await podsOf('shop')).some(captured) ? undefined : true,
    );
    const opened = await inboundFromClient();
    const facts = echoFacts(await curl(lab, 'shop/client', 'http://echo/'));
    assert.equal(facts.remoteAddr.split(':')[0], clientIp, 'echo sees the client again');
    assert.equal(await inboundFromClient(), opened, 'no new inbound mesh connection');
    for (const p of await podsOf('shop'))
      assert.equal(p.status?.containerStatuses?.[0]?.restartCount, 0, `${p.metadata.name} did not restart`);
  });

  it('journey 2: a route without a waypoint is Accepted but not enforced', async () => {
    await lab.kubectl('label', 'namespace', 'shop', 'waymesh.io/dataplane-mode=ambient');
    await eventually('shop captured again', async () =>
      (await podsOf('shop')).every(captured) ? true : undefined,
    );
    apply(lab, HEADER_ROUTE);
    const c = await settledRoute(lab, 'httproute', 'shop', 'echo', 'waymesh.io/Enforced');
    assert.equal(c['Accepted'], 'True/Accepted');
    assert.equal(c['waymesh.io/Enforced'], 'False/NoWaypoint');
    const a = await curl(lab, 'shop/client', 'http://echo/');
    assert.equal(a.status, 200);
    assert.equal(a.headers['x-via'], undefined, 'no L7 filter without a waypoint');
  });

  it('journey 2: the waypoint Gateway becomes Programmed and L7 traffic for the labelled Service goes through it', async () => {
    await createWaypoint(lab, ['echo']);
    const gw = await getJson<{ status?: { conditions?: { type: string; status: string }[] } }>(
      lab,
      '-n',
      'shop',
      'gateway',
      'waypoint',
    );
    assert.ok(gw.status?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True'));
    const a = await eventually('the filter applied by the waypoint', async () => {
      const r = await curl(lab, 'shop/client', 'http://echo/');
      return r.headers['x-via'] === 'waypoint' ? r : undefined;
    });
    assert.match(echoFacts(a).pod, /^echo-/);
    // Status is written after the waypoint's Deployment reports ready replicas, which can come
    // after the first request through it: the condition must follow, not precede, the traffic.
    const enforced = await eventually('the route bound to the waypoint in status', async () => {
      const c = (await routeConditions(lab, 'httproute', 'shop', 'echo'))['waymesh.io/Enforced'];
      return c === 'True/WaypointBound' ? c : undefined;
    });
    assert.equal(enforced, 'True/WaypointBound');
    const ips = await podIps(lab, 'shop', WAYPOINT_PODS);
    assert.equal(ips.length, 2, 'two waypoint replicas (install default)');
    const served = metricSum(await scrape(lab, 'shop/client', ips), 'waymesh_requests_total', {
      destination_service: 'shop/echo',
      route: 'httproute/shop/echo',
      source_principal: CLIENT,
      response_code: '200',
    });
    assert.ok(served >= 1, `waymesh_requests_total for shop/echo = ${served}`);
  });
});
