/**
 * The controller CA's authorizer with in-memory lookups, the world-backed lookup it runs on in
 * the controller, and the TokenReview answer → caller conversion.
 */
import assert from 'node:assert/strict';
import type { V1Pod, V1ServiceAccount } from '@kubernetes/client-node';
import type { CaCaller, CaDecision } from '../../../certs/index.ts';
import { isMeshError } from '../../../common/errors.ts';
import { workloadId, type WorkloadId } from '../../../common/spiffe.ts';
import { callerFromTokenReview, type KubeCaCaller } from '../../../controller/ca/authn.ts';
import { MeshAuthorizer, type CaLookup } from '../../../controller/ca/authz.ts';
import { WorldCaLookup } from '../../../controller/ca/lookup.ts';
import type { CustomObject, World } from '../../../controller/translate/world.ts';

const TD = 'cluster.local';
const id = (ns: string, sa: string): WorkloadId => workloadId(TD, ns, sa);
const sa = (namespace: string, serviceAccount: string): CaCaller => ({
  name: `system:serviceaccount:${namespace}:${serviceAccount}`,
  namespace,
  serviceAccount,
});
const agent: CaCaller = sa('waymesh-system', 'waymesh-node-agent');
const waypointCaller = sa('shop', 'shop-waypoint');

/** An in-memory lookup: node-1 runs shop/cart and shop/web; the agent runs on node-1. */
function lookup(agentNode: string | null = 'node-1'): CaLookup {
  const pods: Record<string, { namespace: string; serviceAccount: string }[]> = {
    'node-1': [
      { namespace: 'shop', serviceAccount: 'cart' },
      { namespace: 'shop', serviceAccount: 'web' },
    ],
    'node-2': [{ namespace: 'billing', serviceAccount: 'ledger' }],
  };
  return {
    podsOnNode: (node) => pods[node] ?? [],
    nodeOfAgent: (caller) =>
      caller.serviceAccount === 'waymesh-node-agent' ? (agentNode ?? undefined) : undefined,
    waypointIdentityOf: (caller) =>
      caller.namespace === 'shop' && caller.serviceAccount === 'shop-waypoint'
        ? id('shop', 'shop-waypoint')
        : undefined,
  };
}

function reason(d: CaDecision): string {
  assert.equal(d.allowed, false, 'expected a refusal');
  return d.allowed ? '' : d.reason;
}

describe('controller/ca MeshAuthorizer', () => {
  const authz = new MeshAuthorizer({ lookup: lookup() });

  const cases: {
    name: string;
    caller: CaCaller;
    identity: WorkloadId;
    impersonated: boolean;
    allowed: boolean;
    reason?: RegExp;
  }[] = [
    {
      name: 'node agent, pod on its node',
      caller: agent,
      identity: id('shop', 'cart'),
      impersonated: true,
      allowed: true,
    },
    {
      name: 'node agent, pod on another node',
      caller: agent,
      identity: id('billing', 'ledger'),
      impersonated: true,
      allowed: false,
      reason:
        /^node agent on node-1 asked for ns\/billing\/sa\/ledger, but no pod with that service account runs on node-1$/,
    },
    {
      name: 'node agent, same namespace but unknown service account',
      caller: agent,
      identity: id('shop', 'admin'),
      impersonated: true,
      allowed: false,
      reason: /no pod with that service account runs on node-1/,
    },
    {
      name: 'node agent, pod identity without impersonation',
      caller: agent,
      identity: id('shop', 'cart'),
      impersonated: false,
      allowed: false,
      reason: /on the pod's behalf/,
    },
    {
      name: 'node agent renews its own identity',
      caller: agent,
      identity: id('waymesh-system', 'waymesh-node-agent'),
      impersonated: false,
      allowed: true,
    },
    {
      name: 'waypoint, its own identity',
      caller: waypointCaller,
      identity: id('shop', 'shop-waypoint'),
      impersonated: false,
      allowed: true,
    },
    {
      name: 'waypoint, another identity',
      caller: waypointCaller,
      identity: id('shop', 'cart'),
      impersonated: false,
      allowed: false,
      reason:
        /^waypoint ns\/shop\/sa\/shop-waypoint may obtain only its own identity, not ns\/shop\/sa\/cart$/,
    },
    {
      name: 'waypoint impersonating a pod',
      caller: waypointCaller,
      identity: id('shop', 'cart'),
      impersonated: true,
      allowed: false,
      reason: /may not request certificates on behalf of other workloads/,
    },
    {
      name: 'workload renews its own identity',
      caller: sa('shop', 'cart'),
      identity: id('shop', 'cart'),
      impersonated: false,
      allowed: true,
    },
    {
      name: 'workload asks for another identity',
      caller: sa('shop', 'cart'),
      identity: id('shop', 'web'),
      impersonated: false,
      allowed: false,
      reason: /may obtain only its own identity ns\/shop\/sa\/cart, not ns\/shop\/sa\/web/,
    },
    {
      name: 'workload impersonating, even its own identity',
      caller: sa('shop', 'cart'),
      identity: id('shop', 'cart'),
      impersonated: true,
      allowed: false,
      reason: /only the node agent ns\/waymesh-system\/sa\/waymesh-node-agent may/,
    },
    {
      name: 'node-agent service account name in another namespace is not the agent',
      caller: sa('shop', 'waymesh-node-agent'),
      identity: id('shop', 'cart'),
      impersonated: true,
      allowed: false,
      reason: /may not request certificates on behalf of other workloads/,
    },
    {
      name: 'caller that is not a service account',
      caller: { name: 'system:admin' },
      identity: id('shop', 'cart'),
      impersonated: false,
      allowed: false,
      reason: /system:admin is not a Kubernetes service account/,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const d = await authz.authorize(c.caller, c.identity, c.impersonated);
      assert.equal(d.allowed, c.allowed, d.allowed ? 'allowed' : d.reason);
      if (c.reason !== undefined) assert.match(reason(d), c.reason);
    });
  }

  it('refuses a node agent whose node is unknown (token not bound to a pod)', () => {
    const d = new MeshAuthorizer({ lookup: lookup(null) }).decide(agent, id('shop', 'cart'), true);
    assert.match(reason(d), /token is not bound to a pod on a known node/);
  });

  it('honours a configured node-agent service account', () => {
    const custom = new MeshAuthorizer({
      lookup: { ...lookup(), nodeOfAgent: () => 'node-1' },
      nodeAgent: { namespace: 'mesh', serviceAccount: 'agent' },
    });
    assert.equal(custom.decide(sa('mesh', 'agent'), id('shop', 'cart'), true).allowed, true);
    assert.equal(custom.decide(agent, id('shop', 'cart'), true).allowed, false);
  });
});

function pod(
  ns: string,
  name: string,
  saName: string | undefined,
  node: string,
  extra: Partial<V1Pod> = {},
): V1Pod {
  return {
    metadata: { namespace: ns, name, uid: `uid-${name}` },
    spec: { nodeName: node, containers: [], ...(saName === undefined ? {} : { serviceAccountName: saName }) },
    ...extra,
  };
}

function world(parts: Partial<World>): World {
  return {
    trustDomain: TD,
    namespaces: [],
    pods: [],
    services: [],
    serviceAccounts: [],
    endpointSlices: [],
    gatewayClasses: [],
    gateways: [],
    httpRoutes: [],
    grpcRoutes: [],
    referenceGrants: [],
    authorizationPolicies: [],
    rateLimitPolicies: [],
    waypointReadyReplicas: {},
    ...parts,
  };
}

describe('controller/ca WorldCaLookup', () => {
  const gateway = (name: string, cls: string): CustomObject => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { namespace: 'shop', name, uid: `gw-${name}` },
    spec: { gatewayClassName: cls },
  });
  const account = (name: string, owner?: string, uid?: string): V1ServiceAccount => ({
    metadata: {
      namespace: 'shop',
      name,
      ...(owner === undefined
        ? {}
        : {
            ownerReferences: [
              {
                apiVersion: 'gateway.networking.k8s.io/v1',
                kind: 'Gateway',
                name: owner,
                uid: uid ?? `gw-${owner}`,
              },
            ],
          }),
    },
  });
  const w = world({
    pods: [
      pod('shop', 'cart-1', 'cart', 'node-1'),
      pod('shop', 'plain-1', undefined, 'node-1'),
      pod('shop', 'done-1', 'batch', 'node-1', { status: { phase: 'Succeeded' } }),
      pod('billing', 'ledger-1', 'ledger', 'node-2'),
      pod('waymesh-system', 'agent-a', 'waymesh-node-agent', 'node-1'),
    ],
    gateways: [gateway('shop-waypoint', 'waymesh-waypoint'), gateway('ingress', 'other-class')],
    serviceAccounts: [
      account('shop-waypoint', 'shop-waypoint'),
      account('ingress', 'ingress'),
      account('stale', 'shop-waypoint', 'gw-older'),
      account('cart'),
    ],
  });
  const l = new WorldCaLookup(() => w);

  it('lists live pods on a node with their service accounts (default when unset)', () => {
    assert.deepEqual(l.podsOnNode('node-1'), [
      { namespace: 'shop', serviceAccount: 'cart' },
      { namespace: 'shop', serviceAccount: 'default' },
      { namespace: 'waymesh-system', serviceAccount: 'waymesh-node-agent' },
    ]);
    assert.deepEqual(l.podsOnNode('node-3'), []);
  });

  it("finds the agent's node from its bound pod and checks uid and service account", () => {
    const bound = (name: string, uid: string, nodeName?: string): KubeCaCaller => ({
      ...agent,
      pod: { name, uid },
      ...(nodeName === undefined ? {} : { nodeName }),
    });
    assert.equal(l.nodeOfAgent(bound('agent-a', 'uid-agent-a', 'node-9')), 'node-1');
    assert.equal(l.nodeOfAgent(bound('agent-a', 'other-uid')), undefined);
    assert.equal(l.nodeOfAgent(bound('agent-unseen', 'u', 'node-2')), 'node-2');
    assert.equal(l.nodeOfAgent(agent), undefined);
    // A pod of another service account cannot vouch for the node agent.
    assert.equal(
      l.nodeOfAgent({
        ...sa('shop', 'waymesh-node-agent'),
        pod: { name: 'cart-1', uid: 'uid-cart-1' },
      } as KubeCaCaller),
      undefined,
    );
  });

  it('recognises only service accounts owned by a waymesh-waypoint Gateway', () => {
    assert.equal(l.waypointIdentityOf(sa('shop', 'shop-waypoint'))?.path, '/ns/shop/sa/shop-waypoint');
    assert.equal(l.waypointIdentityOf(sa('shop', 'ingress')), undefined);
    assert.equal(l.waypointIdentityOf(sa('shop', 'stale')), undefined);
    assert.equal(l.waypointIdentityOf(sa('shop', 'cart')), undefined);
    assert.equal(l.waypointIdentityOf({ name: 'system:admin' }), undefined);
  });
});

describe('controller/ca callerFromTokenReview', () => {
  it('maps a service-account user with its bound pod and node', () => {
    const c = callerFromTokenReview({
      status: {
        authenticated: true,
        user: {
          username: 'system:serviceaccount:waymesh-system:waymesh-node-agent',
          extra: {
            'authentication.kubernetes.io/pod-name': ['agent-a'],
            'authentication.kubernetes.io/pod-uid': ['u-1'],
            'authentication.kubernetes.io/node-name': ['node-1'],
          },
        },
      },
    });
    assert.deepEqual(
      { ...c },
      {
        name: 'system:serviceaccount:waymesh-system:waymesh-node-agent',
        namespace: 'waymesh-system',
        serviceAccount: 'waymesh-node-agent',
        pod: { name: 'agent-a', uid: 'u-1' },
        nodeName: 'node-1',
      },
    );
  });

  it('leaves pod and node out when the token is not bound', () => {
    const c = callerFromTokenReview({
      status: {
        authenticated: true,
        user: { username: 'system:serviceaccount:shop:cart', extra: { x: 'not a list' } },
      },
    });
    assert.deepEqual(
      { ...c },
      { name: 'system:serviceaccount:shop:cart', namespace: 'shop', serviceAccount: 'cart' },
    );
  });

  const refusals: { name: string; review: Record<string, unknown>; message: RegExp }[] = [
    {
      name: 'not authenticated',
      review: { status: { authenticated: false, error: 'invalid signature' } },
      message: /invalid signature/,
    },
    { name: 'no status', review: {}, message: /no reason given/ },
    {
      name: 'a user, not a service account',
      review: { status: { authenticated: true, user: { username: 'alice' } } },
      message: /"alice", which is not a service account/,
    },
    {
      name: 'malformed service-account username',
      review: { status: { authenticated: true, user: { username: 'system:serviceaccount:Shop:cart:x' } } },
      message: /not a service account/,
    },
  ];
  for (const r of refusals) {
    it(`refuses: ${r.name}`, () => {
      assert.throws(
        () => callerFromTokenReview(r.review),
        (err: unknown) => isMeshError(err, 'CA_UNAUTHENTICATED') && r.message.test(err.message),
      );
    });
  }
});
