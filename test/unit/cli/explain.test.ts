/**
 * `waymesh x explain` over worlds built from golden-style YAML (test/unit/cli/explain-world.yaml
 * plus per-case objects): every path a request can take — weighted split, header match,
 * consumer route, no waypoint, L7 and L4 DENY, uncaptured source, unknown host.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'mocha';
import { explain } from '../../../cli/explain-sim.ts';
import { renderExplanation } from '../../../cli/explain-render.ts';
import { parseRequest } from '../../../cli/explain-request.ts';
import type { Explanation } from '../../../cli/explain-model.ts';
import { worldFromYaml } from '../../helpers/golden.ts';

const BASE = readFileSync(join(import.meta.dirname, 'explain-world.yaml'), 'utf8');

function run(
  extra: string,
  from: string,
  url: string,
  opts: { headers?: string[]; method?: string; grpc?: string } = {},
): Explanation {
  const world = worldFromYaml(`${BASE}\n---\n${extra}`);
  return explain(
    world,
    parseRequest({
      from,
      url,
      headers: opts.headers ?? [],
      ...(opts.method === undefined ? {} : { method: opts.method }),
      ...(opts.grpc === undefined ? {} : { grpc: opts.grpc }),
    }),
  );
}

const text = (x: Explanation): string => renderExplanation(x).join('\n');

describe('waymesh x explain (simulation)', () => {
  it('shows both backends of a weighted split with their 90/10 shares and endpoints', () => {
    const x = run('', 'shop/client', 'http://echo/api?q=1');
    assert.equal(x.waypoint, 'Gateway/shop/waypoint');
    assert.deepEqual(x.route, {
      object: 'HTTPRoute/shop/echo-split',
      rule: 'split',
      entry: 'httproute/shop/echo-split/rule/1/match/0',
    });
    assert.deepEqual(
      x.backends.map((b) => [b.service, b.share, b.pathAndQuery]),
      [
        ['shop/echo-v1', 90, '/api?q=1'],
        ['shop/echo-v2', 10, '/api?q=1'],
      ],
    );
    assert.deepEqual(
      x.backends[0]?.endpoints.map((e) => `${e.pod} ${e.ip}:${e.port} ${e.l4}`),
      ['shop/echo-v1-a 10.0.2.1:8080 allowed'],
    );
    assert.equal(x.outcome.result, 'forwarded');
    assert.match(text(x), /90%\s+shop\/echo-v1:80/);
    assert.match(text(x), /10%\s+shop\/echo-v2:80/);
  });

  it('picks the header-matched rule (v2) when the request carries x-version: v2', () => {
    const x = run('', 'shop/client', 'http://echo.shop.svc.cluster.local/', { headers: ['X-Version: v2'] });
    assert.equal(x.route?.rule, 'canary');
    assert.deepEqual(
      x.backends.map((b) => [b.service, b.share]),
      [['shop/echo-v2', 100]],
    );
  });

  const CONSUMER = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: frontend-echo, namespace: frontend }
spec:
  parentRefs: [{ group: '', kind: Service, name: echo, namespace: shop, port: 80 }]
  rules:
    - name: pin-v1
      backendRefs: [{ name: echo-v1, namespace: shop, port: 80 }]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: frontend-routes, namespace: shop }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: frontend }]
  to: [{ group: '', kind: Service }]
`;

  it('applies a consumer route to a client in the route namespace only', () => {
    const web = run(CONSUMER, 'frontend/web', 'http://echo.shop/', { headers: ['x-version:v2'] });
    assert.equal(web.route?.object, 'HTTPRoute/frontend/frontend-echo');
    assert.deepEqual(
      web.backends.map((b) => [b.service, b.share]),
      [['shop/echo-v1', 100]],
    );
    assert.ok(web.steps.some((s) => /consumer routes of namespace frontend apply/.test(s.text)));
    const producer = run(CONSUMER, 'shop/client', 'http://echo/', { headers: ['x-version:v2'] });
    assert.equal(producer.route?.object, 'HTTPRoute/shop/echo-split');
  });

  it('without a waypoint goes L4 only and says the attached route is not enforced', () => {
    const route = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: plain-route, namespace: shop }
spec:
  parentRefs: [{ group: '', kind: Service, name: plain, port: 80 }]
  rules: [{ backendRefs: [{ name: echo-v2, port: 80 }] }]
`;
    const x = run(route, 'shop/client', 'http://10.96.0.20/');
    assert.equal(x.waypoint, undefined);
    assert.equal(x.route, undefined);
    const step = x.steps.find((s) => s.object === 'HTTPRoute/shop/plain-route');
    assert.match(step?.text ?? '', /not enforced: .*no waypoint/);
    assert.deepEqual(
      x.backends.map((b) => b.service),
      ['shop/plain'],
    );
    assert.equal(x.outcome.result, 'forwarded');
    assert.match(x.outcome.reason, /L4 only/);
  });

  it('reports an L7 DENY as 403 naming the policy (PERMISSION_DENIED for gRPC)', () => {
    const deny = `
apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: no-deletes, namespace: shop }
spec:
  targetRefs: [{ group: '', kind: Service, name: echo }]
  action: DENY
  rules: [{ to: [{ operation: { methods: [DELETE, POST] } }] }]
`;
    const x = run(deny, 'shop/client', 'http://echo/items/1', { method: 'delete' });
    assert.equal(x.outcome.result, 'denied');
    assert.equal(x.outcome.status, 403);
    assert.match(x.outcome.reason, /AuthorizationPolicy\/shop\/no-deletes/);
    assert.deepEqual(x.backends, []);
    const g = run(deny, 'shop/client', 'http://echo/', { grpc: 'echo.Echo/Say' });
    assert.equal(g.outcome.grpcStatus, 'PERMISSION_DENIED');
    assert.equal(run(deny, 'shop/client', 'http://echo/items/1').outcome.result, 'forwarded');
  });

  it('reports an L4 DENY at the destination node agent as a reset connection', () => {
    const deny = `
apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: no-shop, namespace: shop }
spec:
  targetRefs: [{ group: '', kind: Service, name: plain }]
  action: DENY
  rules: [{ from: [{ source: { namespaces: [shop] } }] }]
`;
    const x = run(deny, 'shop/client', 'http://plain/');
    assert.equal(x.outcome.result, 'denied');
    assert.equal(x.outcome.status, undefined);
    assert.match(x.outcome.reason, /resets the connection .*AuthorizationPolicy\/shop\/no-shop/);
    assert.equal(x.backends[0]?.endpoints[0]?.l4, 'denied');
    assert.equal(run(deny, 'frontend/web', 'http://plain.shop/').outcome.result, 'forwarded');
  });

  it('passes an uncaptured source straight through: no waypoint, routes bypassed', () => {
    const x = run('', 'legacy/old', 'http://echo.shop/');
    assert.equal(x.sourceIdentity, undefined);
    assert.match(
      x.steps[0]?.text ?? '',
      /Namespace legacy is not labelled waymesh.io\/dataplane-mode=ambient/,
    );
    assert.equal(x.waypoint, undefined);
    assert.equal(x.outcome.result, 'passthrough');
    const bypass = x.steps.find((s) => s.object === 'HTTPRoute/shop/echo-split');
    assert.match(bypass?.text ?? '', /not enforced: the client is not captured/);
  });

  it('reports an unknown host without a route or backend', () => {
    const x = run('', 'shop/client', 'http://reviews.other/');
    assert.equal(x.outcome.result, 'unknown-host');
    assert.match(x.outcome.reason, /not Service other\/reviews/);
    assert.deepEqual(x.backends, []);
  });

  it('answers 404 when the Service has routes and none matches', () => {
    const only = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: v1-only, namespace: shop }
spec:
  parentRefs: [{ group: '', kind: Service, name: echo-v1, port: 80 }]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /v1 } }], backendRefs: [{ name: echo-v1, port: 80 }] }]
`;
    const x = run(only, 'shop/client', 'http://echo-v1/other');
    assert.equal(x.outcome.result, 'no-route');
    assert.equal(x.outcome.status, 404);
    assert.equal(run(only, 'shop/client', 'http://echo-v1/v1/x').route?.object, 'HTTPRoute/shop/v1-only');
  });

  it('throws EXPLAIN_NO_SOURCE for a pod that does not exist', () => {
    assert.throws(() => run('', 'shop/ghost', 'http://echo/'), /pod shop\/ghost not found/);
  });
});
