/**
 * User journey 3 of issue 7 §2, driven by kubectl in one lab: HTTPRoutes and a GRPCRoute on
 * Services — matching, header filters, redirects, rewrites, weights, timeouts, retries,
 * mirroring and consumer routes — each in traffic within 2 s of `kubectl apply` (measured by a
 * poller in the client pod that starts before the apply) and with the status a user expects;
 * a route with a missing backend says why and breaks nothing else.
 * Tutorial: docs/tutorials/routes.md.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'mocha';
import {
  apply,
  configConverged,
  createWaypoint,
  curl,
  deployJourneyApp,
  echoFacts,
  enableRouteRetry,
  eventually,
  installMesh,
  metricSum,
  msUntilSeen,
  podIps,
  runClient,
  scrape,
  settledRoute,
  WAYPOINT_PODS,
} from '../../helpers/journey.ts';
import { useLab } from '../../helpers/lab.ts';

const WITHIN_MS = 2_000;

/** An HTTPRoute on Service `parent` (shop, port 80) with the given rules (YAML list items). */
function route(name: string, parent: string, rules: string, ns = 'shop'): string {
  const parentNs = ns === 'shop' ? '' : ', namespace: shop';
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${ns} }
spec:
  parentRefs: [{ group: "", kind: Service, name: ${parent}${parentNs}, port: 80 }]
  rules:
${rules}`;
}

/** A ResponseHeaderModifier filter marking answers of one rule (so pollers see the rule apply). */
const mark = (value: string): string => `    - type: ResponseHeaderModifier
      responseHeaderModifier: { set: [{ name: x-rule, value: ${value} }] }
`;

describe('journey 3: routes on Services (e2e, kubectl)', function () {
  this.timeout(240_000);
  const lab = useLab('j3');
  const inTime = async (what: string, ms: Promise<number>): Promise<void> => {
    const took = await ms;
    assert.ok(took < WITHIN_MS, `${what} took ${took} ms after kubectl apply`);
    // The poller saw one replica apply it; what follows must not meet one that has not yet.
    await configConverged(lab, 'shop/client');
  };
  const ok = async (kind: 'httproute' | 'grpcroute', name: string, ns = 'shop'): Promise<void> => {
    const c = await settledRoute(lab, kind, ns, name, 'waymesh.io/Enforced');
    assert.deepEqual(
      [c['Accepted'], c['ResolvedRefs'], c['waymesh.io/Enforced']],
      ['True/Accepted', 'True/ResolvedRefs', 'True/WaypointBound'],
    );
  };

  before(async function () {
    this.timeout(180_000);
    await installMesh(lab);
    await deployJourneyApp(lab, true);
    await createWaypoint(lab, ['echo', 'echo-v2', 'echo-grpc']);
    await enableRouteRetry(lab);
    // The waypoint serves echo-v2 before any route exists (plain forwarding).
    await eventually('echo-v2 via the waypoint', async () =>
      (await curl(lab, 'shop/client', 'http://echo-v2/')).status === 200 ? true : undefined,
    );
  });

  it('matches on header, path, query and method', async () => {
    const yaml = route(
      'echo',
      'echo',
      `  - matches: [{ headers: [{ name: x-version, value: v2 }] }]
    backendRefs: [{ name: echo-v2, port: 80 }]
  - matches: [{ method: POST, path: { type: PathPrefix, value: /submit } }]
    backendRefs: [{ name: echo-v2, port: 80 }]
  - matches: [{ queryParams: [{ name: v, value: "2" }] }]
    backendRefs: [{ name: echo-v2, port: 80 }]
  - backendRefs: [{ name: echo, port: 80 }]
`,
    );
    await inTime(
      'header match',
      msUntilSeen(
        lab,
        'shop/client',
        () => apply(lab, yaml),
        '"pod":"echo-v2-',
        '-H',
        'x-version: v2',
        'http://echo/',
      ),
    );
    const pod = async (url: string, ...extra: string[]): Promise<string> =>
      echoFacts(await curl(lab, 'shop/client', url, ...extra)).pod;
    assert.match(await pod('http://echo/submit/1', '-X', 'POST'), /^echo-v2-/);
    assert.match(await pod('http://echo/submit/1'), /^echo-[0-9a-f]+-/, 'GET /submit is not matched');
    assert.match(await pod('http://echo/x?v=2'), /^echo-v2-/);
    assert.match(await pod('http://echo/x?v=1'), /^echo-[0-9a-f]+-/);
    await ok('httproute', 'echo');
  });

  it('applies request/response header modifiers and a path-prefix rewrite', async () => {
    const yaml = route(
      'echo-api',
      'echo',
      `  - matches: [{ path: { type: PathPrefix, value: /api } }]
    filters:
    - type: URLRewrite
      urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /v1/api } }
    - type: RequestHeaderModifier
      requestHeaderModifier: { set: [{ name: x-env, value: prod }], remove: [x-internal] }
    - type: ResponseHeaderModifier
      responseHeaderModifier: { add: [{ name: x-served-by, value: waypoint }] }
    backendRefs: [{ name: echo, port: 80 }]
`,
    );
    await inTime(
      'filters',
      msUntilSeen(
        lab,
        'shop/client',
        () => apply(lab, yaml),
        '^x-served-by: waypoint',
        'http://echo/api/items',
      ),
    );
    const a = await curl(lab, 'shop/client', 'http://echo/api/items?id=7', '-H', 'x-internal: secret');
    const facts = echoFacts(a);
    assert.equal(facts.path, '/v1/api/items?id=7', 'the echo app got the rewritten path');
    assert.deepEqual(facts.headers['x-env'], ['prod']);
    assert.equal(facts.headers['x-internal'], undefined);
    assert.equal(a.headers['x-served-by'], 'waypoint');
    await ok('httproute', 'echo-api');
  });

  it('redirects with a 3xx and Location', async () => {
    const yaml = route(
      'echo-moved',
      'echo',
      `  - matches: [{ path: { type: Exact, value: /old } }]
    filters:
    - type: RequestRedirect
      requestRedirect: { statusCode: 301, path: { type: ReplaceFullPath, replaceFullPath: /new } }
`,
    );
    await inTime(
      'redirect',
      msUntilSeen(lab, 'shop/client', () => apply(lab, yaml), '^HTTP/1.1 301', 'http://echo/old'),
    );
    const a = await curl(lab, 'shop/client', 'http://echo/old');
    assert.equal(a.status, 301);
    assert.equal(a.headers['location'], 'http://echo/new');
    await ok('httproute', 'echo-moved');
  });

  it('splits 90/10 by weight over 200 requests (±8 points)', async () => {
    const yaml = route(
      'split',
      'echo-v2',
      `  - matches: [{ path: { type: PathPrefix, value: /split } }]
${'    filters:\n' + mark('split')}    backendRefs: [{ name: echo, port: 80, weight: 90 }, { name: echo-v2, port: 80, weight: 10 }]
`,
    );
    await inTime(
      'split',
      msUntilSeen(lab, 'shop/client', () => apply(lab, yaml), '^x-rule: split', 'http://echo-v2/split'),
    );
    const lines = await runClient(
      lab,
      'shop/client',
      'http://echo-v2/split',
      '--count',
      '200',
      '--concurrency',
      '4',
    );
    const v1 = lines.filter(
      (l) => l.status === 200 && /^echo-[0-9a-f]+-/.test((l.body as { pod?: string }).pod ?? ''),
    ).length;
    assert.equal(lines.length, 200);
    assert.ok(v1 >= 164 && v1 <= 196, `echo v1 got ${v1} of 200 (90 % ± 8 points)`);
    await ok('httproute', 'split');
  });

  it('times out a slow backend with 504', async () => {
    const yaml = route(
      'slow',
      'echo-v2',
      `  - matches: [{ path: { type: PathPrefix, value: /slow } }]
    timeouts: { request: 300ms }
${'    filters:\n' + mark('slow')}    backendRefs: [{ name: echo-v2, port: 80 }]
`,
    );
    await inTime(
      'timeout rule',
      msUntilSeen(lab, 'shop/client', () => apply(lab, yaml), '^x-rule: slow', 'http://echo-v2/slow'),
    );
    const started = Date.now();
    const a = await curl(lab, 'shop/client', 'http://echo-v2/slow?delayMs=5000');
    assert.equal(a.status, 504);
    assert.ok(Date.now() - started < 4_000, 'answered before the backend');
    assert.equal((await curl(lab, 'shop/client', 'http://echo-v2/slow?delayMs=50')).status, 200);
  });

  it('retries a failing backend as configured (waymesh_retries_total)', async () => {
    const yaml = route(
      'flaky',
      'echo-v2',
      `  - matches: [{ path: { type: PathPrefix, value: /flaky } }]
    retry: { attempts: 2, codes: [503], backoff: 10ms }
${'    filters:\n' + mark('flaky')}    backendRefs: [{ name: echo-v2, port: 80 }]
`,
    );
    await inTime(
      'retry rule',
      msUntilSeen(lab, 'shop/client', () => apply(lab, yaml), '^x-rule: flaky', 'http://echo-v2/flaky'),
    );
    const ips = await podIps(lab, 'shop', WAYPOINT_PODS);
    const retries = async (): Promise<number> =>
      metricSum(await scrape(lab, 'shop/client', ips), 'waymesh_retries_total', {
        route: 'httproute/shop/flaky',
      });
    const before = await retries();
    assert.equal((await curl(lab, 'shop/client', 'http://echo-v2/flaky?status=503')).status, 503);
    assert.equal((await retries()) - before, 2, 'two retries after the first attempt');
    assert.equal((await curl(lab, 'shop/client', 'http://echo-v2/flaky?status=500')).status, 500);
    assert.equal((await retries()) - before, 2, '500 is not a retry code');
  });

  it('mirrors requests to another backend', async () => {
    const yaml = route(
      'mirrored',
      'echo-v2',
      `  - matches: [{ path: { type: PathPrefix, value: /mirrored } }]
    filters:
    - type: RequestMirror
      requestMirror: { backendRef: { name: echo-extra, port: 80 } }
${mark('mirrored')}    backendRefs: [{ name: echo-v2, port: 80 }]
`,
    );
    await inTime(
      'mirror',
      msUntilSeen(
        lab,
        'shop/client',
        () => apply(lab, yaml),
        '^x-rule: mirrored',
        'http://echo-v2/mirrored/warmup',
      ),
    );
    const probe = `/mirrored/probe-${Date.now()}`;
    const a = await curl(lab, 'shop/client', `http://echo-v2${probe}`);
    assert.match(echoFacts(a).pod, /^echo-v2-/, 'the answer comes from the primary backend');
    const extra = (await podIps(lab, 'shop', 'app=echo-extra', 'podIP')).length;
    assert.equal(extra, 1);
    const pod =
      (await lab.kubectl('-n', 'shop', 'get', 'pods', '-l', 'app=echo-extra', '-o', 'name'))
        .trim()
        .split('/')[1] ?? '';
    const seen = await eventually(
      'the mirror copy in echo-extra logs',
      async () => {
        const logs = await lab.waymesh('logs', `shop/${pod}`);
        const n = logs.split('\n').filter((l) => l.includes(`"path":"${probe}"`)).length;
        return n > 0 ? n : undefined;
      },
      10_000,
    );
    assert.equal(seen, 1, 'exactly one mirrored copy');
    await ok('httproute', 'mirrored');
  });

  it('applies a consumer route only to clients of its namespace', async () => {
    const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: from-other, namespace: shop }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: other }]
  to: [{ group: "", kind: Service }]
`;
    apply(lab, grant);
    const yaml = route(
      'consumer',
      'echo',
      `  - filters:
${mark('consumer')}    backendRefs: [{ name: echo-v2, namespace: shop, port: 80 }]
`,
      'other',
    );
    await inTime(
      'consumer route',
      msUntilSeen(lab, 'other/client', () => apply(lab, yaml), '^x-rule: consumer', 'http://echo.shop/'),
    );
    const theirs = await curl(lab, 'other/client', 'http://echo.shop/');
    assert.match(echoFacts(theirs).pod, /^echo-v2-/);
    const ours = await curl(lab, 'shop/client', 'http://echo/');
    assert.equal(ours.headers['x-rule'], undefined, 'shop clients keep the producer routes');
    assert.match(echoFacts(ours).pod, /^echo-[0-9a-f]+-/);
    await ok('httproute', 'consumer', 'other');
  });

  it('a route to a missing Service reports BackendNotFound, answers 500 and breaks nothing else', async () => {
    const yaml = route(
      'broken',
      'echo-v2',
      `  - matches: [{ path: { type: PathPrefix, value: /broken } }]
    backendRefs: [{ name: nowhere, port: 80 }]
`,
    );
    await inTime(
      'broken route',
      msUntilSeen(lab, 'shop/client', () => apply(lab, yaml), '^HTTP/1.1 500', 'http://echo-v2/broken'),
    );
    const c = await settledRoute(lab, 'httproute', 'shop', 'broken', 'ResolvedRefs');
    assert.equal(c['Accepted'], 'True/Accepted');
    assert.equal(c['ResolvedRefs'], 'False/BackendNotFound');
    assert.equal((await curl(lab, 'shop/client', 'http://echo-v2/broken')).status, 500);
    assert.equal((await curl(lab, 'shop/client', 'http://echo-v2/split')).status, 200);
    assert.match(
      echoFacts(await curl(lab, 'shop/client', 'http://echo/', '-H', 'x-version: v2')).pod,
      /^echo-v2-/,
    );
    await ok('httproute', 'split');
  });

  it('routes gRPC by method with a GRPCRoute', async () => {
    apply(
      lab,
      `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: echo-grpc, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo-grpc, port: 9090 }]
  rules:
  - matches: [{ method: { service: waymesh.echo.v1.Echo, method: EchoStream } }]
    backendRefs: [{ name: echo-grpc-v2, port: 9090 }]
  - backendRefs: [{ name: echo-grpc, port: 9090 }]
`,
    );
    const applied = Date.now();
    const podsOf = (l: { body?: unknown }): string[] =>
      (Array.isArray(l.body) ? (l.body as { pod: string }[]) : [l.body as { pod: string }]).map((b) => b.pod);
    const stream = await eventually('EchoStream on v2', async () => {
      const [l] = await runClient(
        lab,
        'shop/client',
        'grpc://echo-grpc:9090',
        '--grpc',
        '--grpc-method',
        'EchoStream',
      );
      return l !== undefined && l.grpcStatus === 'OK' && podsOf(l).every((p) => p.startsWith('echo-v2-'))
        ? l
        : undefined;
    });
    assert.ok(Date.now() - applied < 10_000, 'seen by the first client runs');
    assert.ok(podsOf(stream).length > 0);
    const [unary] = await runClient(
      lab,
      'shop/client',
      'grpc://echo-grpc:9090',
      '--grpc',
      '--grpc-method',
      'Echo',
      '--count',
      '3',
    );
    assert.equal(unary?.grpcStatus, 'OK');
    assert.match(podsOf(unary ?? {})[0] ?? '', /^echo-[0-9a-f]+-/);
    await ok('grpcroute', 'echo-grpc');
  });
});
