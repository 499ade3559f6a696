/**
 * User journey 4 of issue 7 §2, driven by kubectl in one lab with the lab addons (Redis):
 * an L4 `AuthorizationPolicy` (DENY a source namespace) enforced by the destination's node agent
 * (the connection is reset), an L7 one (DENY a path) enforced by the waypoint (403), which
 * `//admin` meets too once the Gateway asks for `merge-slashes` path normalization, and a
 * `RateLimitPolicy` (N per minute on a Service) whose budget lives in Redis: the N+1th request
 * gets 429 with `retry-after`. Also a mesh-wide DENY (root namespace `waymesh-system`, no
 * targetRefs) answered 403 by the waypoint of another namespace, and lifted when deleted. Last,
 * Redis starts requiring a password and the controller names a Secret holding it: the waypoints
 * it rolls authenticate and go on counting in Redis.
 * Tutorial: docs/tutorials/policies.md.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'mocha';
import {
  apply,
  configConverged,
  createWaypoint,
  curl,
  deployJourneyApp,
  eventually,
  getJson,
  installMesh,
  metricSum,
  policyAccepted,
  podIps,
  scrape,
  WAYPOINT_PODS,
} from '../../helpers/journey.ts';
import { useLab } from '../../helpers/lab.ts';
import { podFacts } from '../../helpers/resilience.ts';

/** A container env entry. */
interface WaypointEnv {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: unknown;
}

const L4_DENY = `apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: no-other, namespace: shop }
spec:
  targetRefs: [{ group: "", kind: Service, name: echo-extra }]
  action: DENY
  rules:
  - from: [{ source: { namespaces: [other] } }]
`;

const L7_DENY = `apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: no-admin, namespace: shop }
spec:
  targetRefs: [{ group: "", kind: Service, name: echo }]
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/admin/*"] } }]
`;

const MESH_DENY = `apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: deny-other, namespace: waymesh-system }
spec:
  action: DENY
  rules:
  - from: [{ source: { namespaces: [other] } }]
`;

const LIMIT = 5;
// Per hour, not per minute: the budget is a token bucket, and 5 per minute gives one request
// back every 12 s, less than the lab took for the test's requests on a slow machine (every
// request then passed). 5 per hour gives one back every 12 minutes.
const RATE_LIMIT = `apiVersion: policy.waymesh.io/v1alpha1
kind: RateLimitPolicy
metadata: { name: echo-v2-budget, namespace: shop }
spec:
  targetRefs: [{ group: "", kind: Service, name: echo-v2 }]
  limits:
  - { requests: ${LIMIT}, unit: Hour }
`;
/** Seconds until the bucket gives one request back. */
const REFILL_SECONDS = 3600 / LIMIT;
const REDIS_PASSWORD = 'j4-redis-pass';

describe('journey 4: authorization and rate limits (e2e, kubectl)', function () {
  this.timeout(240_000);
  const lab = useLab('j4');
  const denied = async (pod: string, url: string): Promise<boolean> =>
    curl(lab, pod, url).then(
      () => false,
      // curl: 7 connection refused, 52 empty reply, 56 connection reset.
      (err: unknown) => [7, 52, 56].includes(Number((err as { code?: unknown }).code)),
    );

  /** `waymesh-system/<pod>` of the Redis addon, for `lab.exec`. */
  const redisPod = async (): Promise<string> => {
    const [pod] = await podFacts(lab, 'waymesh-system', 'app.kubernetes.io/name=redis');
    return `waymesh-system/${pod?.name ?? ''}`;
  };
  /** The env entry `name` of the waypoint container, as the controller wrote it into its Deployment. */
  const waypointEnv = async (name: string): Promise<WaypointEnv | undefined> => {
    const d = await getJson<{ spec: { template: { spec: { containers: Array<{ env?: WaypointEnv[] }> } } } }>(
      lab,
      ...['-n', 'shop', 'deployment', 'waypoint'],
    );
    return d.spec.template.spec.containers[0]?.env?.find((e) => e.name === name);
  };

  before(async function () {
    this.timeout(180_000);
    await installMesh(lab, { addons: true });
    await deployJourneyApp(lab, true);
    await createWaypoint(lab, ['echo', 'echo-v2']);
  });

  it('L4: DENY from a namespace makes the node agent reset that namespace’s connections only', async () => {
    assert.equal((await curl(lab, 'other/client', 'http://echo-extra.shop/')).status, 200);
    apply(lab, L4_DENY);
    assert.equal(
      await eventually(
        'no-other Accepted',
        async () => (await policyAccepted(lab, 'ap', 'shop', 'no-other'))['echo-extra'] || undefined,
      ),
      'True/Accepted',
    );
    await eventually(
      'other/client refused',
      async () => ((await denied('other/client', 'http://echo-extra.shop/')) ? true : undefined),
      10_000,
    );
    assert.equal(
      (await curl(lab, 'shop/client', 'http://echo-extra/')).status,
      200,
      'shop clients still pass',
    );
    const agents = await podIps(lab, 'waymesh-system', 'app.kubernetes.io/name=waymesh-node-agent', 'hostIP');
    const n = metricSum(await scrape(lab, 'shop/client', agents), 'waymesh_tcp_denied_total', {
      source_principal: 'spiffe://cluster.local/ns/other/sa/client',
    });
    assert.ok(n >= 1, `waymesh_tcp_denied_total for other/client = ${n}`);
  });

  it('L7: DENY a path makes the waypoint answer 403 for that path only', async () => {
    assert.equal((await curl(lab, 'shop/client', 'http://echo/admin/users')).status, 200);
    apply(lab, L7_DENY);
    const a = await eventually(
      '403 on /admin/*',
      async () => {
        const r = await curl(lab, 'shop/client', 'http://echo/admin/users');
        return r.status === 403 ? r : undefined;
      },
      10_000,
    );
    assert.match(a.body, /no-admin/, 'the body names the policy');
    assert.equal((await curl(lab, 'shop/client', 'http://echo/public')).status, 200);
    assert.equal((await policyAccepted(lab, 'ap', 'shop', 'no-admin'))['echo'], 'True/Accepted');
  });

  it('path normalization: with merge-slashes on the Gateway, //admin meets the DENY on /admin/*', async () => {
    // Under the default (base), `//admin/users` is not under `/admin/`, and the app gets it as sent.
    assert.equal((await curl(lab, 'shop/client', 'http://echo//admin/users')).status, 200);
    await lab.kubectl(
      ...['-n', 'shop', 'annotate', 'gateway', 'waypoint', 'waymesh.io/path-normalization=merge-slashes'],
    );
    await eventually(
      'the waypoint Deployment takes the path normalization',
      async () => (await waypointEnv('WAYMESH_PATH_NORMALIZATION'))?.value === 'merge-slashes' || undefined,
    );
    await lab.kubectl('-n', 'shop', 'rollout', 'status', 'deployment/waypoint', '--timeout=120s');
    await configConverged(lab, 'shop/client');
    const r = await curl(lab, 'shop/client', 'http://echo//admin/users');
    assert.equal(r.status, 403, 'denied by the policy on /admin/*');
    assert.match(r.body, /no-admin/);
    assert.equal((await curl(lab, 'shop/client', 'http://echo//public')).status, 200);
  });

  it('mesh-wide: a DENY in the root namespace applies in every namespace, until it is deleted', async () => {
    assert.equal((await curl(lab, 'other/client', 'http://echo.shop/public')).status, 200);
    apply(lab, MESH_DENY);
    const r = await eventually(
      '403 for other/client',
      async () => {
        const a = await curl(lab, 'other/client', 'http://echo.shop/public');
        return a.status === 403 ? a : undefined;
      },
      10_000,
    );
    assert.match(r.body, /waymesh-system\/deny-other/, 'the body names the policy');
    assert.equal((await curl(lab, 'shop/client', 'http://echo/public')).status, 200, 'shop clients pass');
    assert.deepEqual(await policyAccepted(lab, 'ap', 'waymesh-system', 'deny-other'), {
      'waymesh-system': 'True/Accepted',
    });
    await lab.kubectl('-n', 'waymesh-system', 'delete', 'authorizationpolicy', 'deny-other');
    await eventually(
      'other/client allowed again',
      async () =>
        (await curl(lab, 'other/client', 'http://echo.shop/public')).status === 200 ? true : undefined,
      10_000,
    );
  });

  it(`RateLimitPolicy: ${LIMIT} per hour, the next request gets 429 with retry-after (budget in Redis)`, async () => {
    apply(lab, RATE_LIMIT);
    await eventually('echo-v2-budget Accepted', async () =>
      (await policyAccepted(lab, 'rlp', 'shop', 'echo-v2-budget'))['echo-v2'] === 'True/Accepted'
        ? true
        : undefined,
    );
    // The first limited answer shows the policy is in force; it already spent one request.
    const first = await eventually(
      'ratelimit headers',
      async () => {
        const r = await curl(lab, 'shop/client', 'http://echo-v2/');
        return r.headers['ratelimit-remaining'] === undefined ? undefined : r;
      },
      10_000,
    );
    assert.equal(first.status, 200);
    assert.equal(first.headers['ratelimit-remaining'], String(LIMIT - 1));
    // Every request below must meet a replica that enforces the policy.
    await configConverged(lab, 'shop/client');
    const codes: number[] = [];
    let last = first;
    for (let i = 1; i <= LIMIT; i++) {
      last = await curl(lab, 'shop/client', 'http://echo-v2/');
      codes.push(last.status);
    }
    assert.deepEqual(codes, [...Array<number>(LIMIT - 1).fill(200), 429], 'request N+1 is limited');
    const retryAfter = Number(last.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= REFILL_SECONDS, `retry-after: ${last.headers['retry-after']}`);
    assert.equal(
      (await curl(lab, 'shop/client', 'http://echo/')).status,
      200,
      'other Services are not limited',
    );
    const keys = await lab.exec(await redisPod(), 'redis-cli', '--scan');
    assert.notEqual(keys.trim(), '', 'the budget is kept in Redis');
  });

  it('Redis with AUTH: waypoints get the password from the Secret the controller names', async () => {
    const redis = await redisPod();
    // The Secret first, so that the waypoint pods the change rolls can start.
    apply(
      lab,
      `apiVersion: v1
kind: Secret
metadata: { name: waymesh-redis, namespace: shop }
data: { password: ${Buffer.from(REDIS_PASSWORD).toString('base64')} }
`,
    );
    await lab.exec(redis, 'redis-cli', 'CONFIG', 'SET', 'requirepass', REDIS_PASSWORD);
    const env = { name: 'WAYMESH_WAYPOINT_REDIS_SECRET', value: 'waymesh-redis' };
    await lab.kubectl(
      ...['-n', 'waymesh-system', 'patch', 'deployment', 'waymesh-controller', '--type=json', '-p'],
      JSON.stringify([{ op: 'add', path: '/spec/template/spec/containers/0/env/-', value: env }]),
    );
    await eventually(
      'the waypoint Deployment takes the password from the Secret',
      async () => (await waypointEnv('WAYMESH_REDIS_PASSWORD'))?.valueFrom,
    );
    await lab.kubectl('-n', 'shop', 'rollout', 'status', 'deployment/waypoint', '--timeout=120s');
    await configConverged(lab, 'shop/client');
    // The budget spent above is still spent: a replica Redis refused would answer from fresh
    // local buckets and let the request through.
    const r = await curl(lab, 'shop/client', 'http://echo-v2/');
    assert.equal(r.status, 429, 'the restarted waypoints count in Redis');
    const metrics = await scrape(lab, 'shop/client', await podIps(lab, 'shop', WAYPOINT_PODS));
    assert.equal(metricSum(metrics, 'waymesh_ratelimit_fallback_active'), 0, 'no replica in a fallback');
    assert.equal(metricSum(metrics, 'waymesh_ratelimit_store_outages_total'), 0, 'no outage since start');
  });
});
