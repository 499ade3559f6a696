/**
 * AuthorizationPolicy end to end through the pure stages: controller translation, then the node
 * agent's L4 or the waypoint's L7 evaluation of what it is sent. Regression tests for decisions that only show
 * when both halves run together.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { AuthorizationPolicy, ServiceKey, WaypointBinding, Workload } from '../../../common/ir/index.ts';
import { translatePolicies, type PolicyContext } from '../../../controller/translate/policies/index.ts';
import { compileL4Policy } from '../../../node-agent/policy/compile.ts';
import { authorizeL4, namespaceOfPrincipal } from '../../../node-agent/policy/l4.ts';
import { normalizeTarget } from '../../../waypoint/http/target.ts';
import { compileAuthz } from '../../../waypoint/policy/authz.ts';
import { worldFromYaml } from '../../helpers/golden.ts';

const TD = 'spiffe://cluster.local';
const WAYPOINT = `${TD}/ns/shop/sa/waypoint`;
const CHECKOUT = `${TD}/ns/checkout/sa/web`;
const FRONTEND = `${TD}/ns/shop/sa/frontend`;

const BASE = `
apiVersion: v1
kind: Service
metadata: { name: cart, namespace: shop }
spec:
  ports: [{ port: 80, targetPort: 8080 }]
`;

/** shop/cart is served by the waypoint shop/waypoint when `served`. */
function context(served: boolean): PolicyContext {
  return {
    waypointOf(key: ServiceKey): WaypointBinding | undefined {
      if (!served || key !== 'shop/cart') return undefined;
      return { gateway: { namespace: 'shop', name: 'waypoint' }, addresses: [], identity: WAYPOINT };
    },
  };
}

const POD: Workload = {
  uid: 'uid-cart',
  name: 'cart-0',
  namespace: 'shop',
  node: 'node-a',
  ips: ['10.1.0.11'],
  serviceAccount: 'cart',
  identity: `${TD}/ns/shop/sa/cart`,
  captured: true,
  labels: {},
  namedPorts: {},
};

function translate(policyYaml: string, served = false): readonly AuthorizationPolicy[] {
  const world = worldFromYaml(`${BASE}---\n${policyYaml}`);
  return translatePolicies(world, context(served)).authorization;
}

/** The node agent's decision for the cart pod (namespace-wide and shop/cart policies apply). */
function nodeAllows(policies: readonly AuthorizationPolicy[], principal: string | undefined): boolean {
  const applying = policies.filter(
    (p) =>
      p.layer === 'L4' &&
      ((p.scope.kind === 'namespace' && p.scope.namespace === 'shop') ||
        (p.scope.kind === 'service' && p.scope.service === 'shop/cart')),
  );
  return authorizeL4(POD, applying.map(compileL4Policy), {
    principal,
    namespace: namespaceOfPrincipal(principal),
    port: 8080,
  }).allowed;
}

/** The waypoint's decision for a GET of `target` from checkout under `policyYaml` (shop/cart served by it). */
function waypointAllows(policyYaml: string, target: string): boolean {
  const authz = compileAuthz(translate(policyYaml, true).filter((p) => p.layer === 'L7'));
  const { path } = normalizeTarget(target, 'GET', false);
  return authz.evaluate({
    service: 'shop/cart',
    waypoint: { namespace: 'shop', name: 'waypoint' },
    principal: CHECKOUT,
    namespace: 'checkout',
    method: 'GET',
    path,
    host: 'cart.shop',
    port: 80,
    header: () => undefined,
  }).allowed;
}

describe('AuthorizationPolicy: controller translation + proxy evaluation', () => {
  describe('a rejected policy fails closed, never open', () => {
    // The API server accepts this (the CRD has no pattern on principals); the controller rejects
    // the middle glob. Dropping the policy would leave the namespace with no ALLOW policy at all.
    const badAllow = `
apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: only-frontend, namespace: shop }
spec:
  rules: [{ from: [{ source: { principals: ['spiffe://cluster.local/ns/*/sa/frontend'] } }] }]
`;
    const badDeny = `
apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: deny-checkout, namespace: shop }
spec:
  targetRefs: [{ group: '', kind: Service, name: cart }]
  action: DENY
  rules: [{ from: [{ source: { namespaces: [checkout], principals: ['cluster.local/ns/*/sa/web'] } }] }]
`;

    it('an invalid ALLOW policy allows nothing in its scope', () => {
      const out = translate(badAllow);
      assert.equal(nodeAllows(out, CHECKOUT), false, JSON.stringify(out));
      assert.equal(nodeAllows(out, undefined), false);
    });

    it('an invalid ALLOW policy behind a waypoint still lets only the waypoint in', () => {
      const out = translate(badAllow, true);
      assert.equal(nodeAllows(out, CHECKOUT), false);
      assert.equal(nodeAllows(out, WAYPOINT), true);
      const l7 = out.filter((p) => p.layer === 'L7');
      assert.deepEqual(
        l7.map((p) => [p.action, p.rules.length]),
        [['ALLOW', 0]],
        'the waypoint must allow nothing',
      );
    });

    it('an invalid DENY policy denies every connection in its scope', () => {
      const out = translate(badDeny);
      assert.equal(nodeAllows(out, CHECKOUT), false, JSON.stringify(out));
      assert.equal(nodeAllows(out, FRONTEND), false);
    });

    it('the status says what the rejected policy does meanwhile', () => {
      const world = worldFromYaml(`${BASE}---\n${badAllow}`);
      const [status] = translatePolicies(world, context(false)).statuses;
      assert.ok(status?.kind === 'policy');
      const condition = status.ancestors[0]?.conditions[0];
      assert.equal(condition?.reason, 'Invalid');
      assert.match(condition?.message ?? '', /allows no request/);
    });
  });

  describe('DENY rules are not applied to the waypoint identity at the node agent', () => {
    // The waypoint checks the DENY with the real client; the node agent sees the waypoint's own
    // identity, which lives in `shop` here, so "deny callers from shop" must not hit it.
    const denyShop = `
apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: deny-same-namespace, namespace: shop }
spec:
  targetRefs: [{ group: '', kind: Service, name: cart }]
  action: DENY
  rules: [{ from: [{ source: { namespaces: [shop] } }] }]
`;
    const denyAllButFrontend = `
apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: only-frontend, namespace: shop }
spec:
  action: DENY
  rules: [{ from: [{ source: { notPrincipals: ['${FRONTEND}'] } }] }]
`;

    it('a namespace DENY that covers the waypoint namespace', () => {
      const out = translate(denyShop, true);
      assert.equal(nodeAllows(out, WAYPOINT), true, 'traffic the waypoint already checked');
      assert.equal(nodeAllows(out, FRONTEND), false, 'a shop client that bypasses the waypoint');
      assert.equal(nodeAllows(out, CHECKOUT), true);
    });

    it('a notPrincipals DENY', () => {
      const out = translate(denyAllButFrontend, true);
      assert.equal(nodeAllows(out, WAYPOINT), true);
      assert.equal(nodeAllows(out, FRONTEND), true);
      assert.equal(nodeAllows(out, CHECKOUT), false);
      assert.equal(nodeAllows(out, undefined), false, 'plaintext has no identity to exempt');
    });

    it('without a waypoint nothing is exempted', () => {
      const out = translate(denyShop, false);
      assert.equal(nodeAllows(out, WAYPOINT), false);
    });
  });

  describe('path patterns are compared in the normalized form requests are', () => {
    const pathPolicy = (action: string, path: string): string => `
apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: paths, namespace: shop }
spec:
  targetRefs: [{ group: '', kind: Service, name: cart }]
  action: ${action}
  rules: [{ to: [{ operation: { paths: ['${path}'] } }] }]
`;

    it('a DENY written with a lower-case percent-encoding denies the request', () => {
      assert.equal(waypointAllows(pathPolicy('DENY', '/files/a%2fb'), '/files/a%2fb'), false);
      assert.equal(waypointAllows(pathPolicy('DENY', '/files/a%2fb'), '/files/a%2Fb'), false);
    });

    it('an ALLOW written with an encoded unreserved character allows the request', () => {
      assert.equal(waypointAllows(pathPolicy('ALLOW', '/~%61lice/*'), '/~alice/x'), true);
      assert.equal(waypointAllows(pathPolicy('ALLOW', '/caf%c3%a9'), '/caf%C3%A9'), true);
    });
  });
});

describe('AuthorizationPolicy in the root namespace (mesh-wide)', () => {
  const EVIL = `${TD}/ns/evil/sa/x`;
  const root = (name: string, body: string, namespace = 'waymesh-system'): string => `
apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${body}
`;
  const denyEvil = root(
    'deny-evil',
    `  action: DENY\n  rules: [{ from: [{ source: { namespaces: [evil] } }] }]`,
  );

  it('applies without targetRefs to the workloads of every namespace', () => {
    const out = translate(denyEvil);
    assert.equal(nodeAllows(out, EVIL), false, JSON.stringify(out));
    assert.equal(nodeAllows(out, CHECKOUT), true);
    assert.ok(out.some((p) => p.scope.kind === 'namespace' && p.scope.namespace === 'waymesh-system'));
  });

  it('is an ordinary namespace policy anywhere else', () => {
    const out = translate(
      root('deny-evil', `  action: DENY\n  rules: [{ from: [{ source: { namespaces: [evil] } }] }]`, 'other'),
    );
    assert.equal(nodeAllows(out, EVIL), true);
  });

  it('combines with the namespace policies: any DENY denies, one matching ALLOW allows', () => {
    const allowShop = root('allow-shop', `  rules: [{ from: [{ source: { namespaces: [shop] } }] }]`);
    const allowCheckout = `
apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: allow-checkout, namespace: shop }
spec:
  rules: [{ from: [{ source: { namespaces: [checkout] } }] }]
`;
    const out = translate(`${allowShop}---\n${allowCheckout}---\n${denyEvil}`);
    assert.equal(nodeAllows(out, FRONTEND), true, 'the mesh-wide ALLOW matches');
    assert.equal(nodeAllows(out, CHECKOUT), true, "the namespace's ALLOW matches");
    assert.equal(nodeAllows(out, EVIL), false);
    assert.equal(nodeAllows(out, `${TD}/ns/other/sa/x`), false, 'no ALLOW matches');
  });

  it('has its L7 rules enforced by the waypoint serving a namespace', () => {
    const denyAdmin = root(
      'deny-admin',
      `  action: DENY\n  rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }]`,
    );
    assert.equal(waypointAllows(denyAdmin, '/admin/x'), false);
    assert.equal(waypointAllows(denyAdmin, '/x'), true);
  });

  it('reports one ancestor, the root namespace', () => {
    const world = worldFromYaml(`${BASE}---\n${denyEvil}`);
    const [status] = translatePolicies(world, context(true)).statuses;
    assert.ok(status?.kind === 'policy');
    assert.equal(status.ancestors.length, 1);
    assert.deepEqual(status.ancestors[0]?.ancestorRef, {
      group: '',
      kind: 'Namespace',
      name: 'waymesh-system',
    });
    const condition = status.ancestors[0]?.conditions[0];
    assert.equal(condition?.reason, 'Accepted');
    assert.match(
      condition?.message ?? '',
      /mesh-wide \(root namespace waymesh-system\), in 2 namespace\(s\)/,
    );
  });

  it('names the namespaces where its L7 rules have no waypoint', () => {
    const denyAdmin = root(
      'deny-admin',
      `  action: DENY\n  rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }]`,
    );
    const world = worldFromYaml(`${BASE}---\n${denyAdmin}`);
    const [status] = translatePolicies(world, context(false)).statuses;
    assert.ok(status?.kind === 'policy');
    const condition = status.ancestors[0]?.conditions[0];
    assert.equal(condition?.reason, 'Invalid');
    assert.match(condition?.message ?? '', /in shop, waymesh-system: spec\.rules\[0\] use methods, paths/);
  });
});
