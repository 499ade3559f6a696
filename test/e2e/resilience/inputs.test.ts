/**
 * Resilience to a failing dependency and to bad input (issue 7 §4), driven by kubectl in one lab
 * with the lab addons:
 * - Redis down with a RateLimitPolicy in force: requests keep flowing (fail open, answered
 *   quickly), and once Redis is back the shared budget applies again;
 * - bad input: an invalid CR is refused by the API server, a schema-valid but broken route is
 *   reported in status and breaks nothing else, 100 applies in 10 s leave the last in force, and
 *   garbage on a waypoint's 15008 and the controller's 15012 is refused without affecting others.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'mocha';
import {
  apply,
  configConverged,
  curl,
  eventually,
  getJson,
  podIps,
  policyAccepted,
  routeConditions,
  scrape,
  settledRoute,
  WAYPOINT_PODS,
} from '../../helpers/journey.ts';
import { kubeRestFor, ResourcePaths, serverSideApply } from '../../../cli/kube-ops.ts';
import { parseManifest } from '../../../cli/manifest.ts';
import { useLab } from '../../helpers/lab.ts';
import {
  background,
  failures,
  forceDelete,
  httpStream,
  podFacts,
  setReplicas,
  setUpResilienceLab,
  streamResults,
  streamStarted,
} from '../../helpers/resilience.ts';

const LIMIT = 5;
const RATE_LIMIT = `apiVersion: policy.waymesh.io/v1alpha1
kind: RateLimitPolicy
metadata: { name: echo-budget, namespace: shop }
spec:
  targetRefs: [{ group: "", kind: Service, name: echo }]
  limits:
  - { requests: ${LIMIT}, unit: Minute }
`;
const REDIS = 'app.kubernetes.io/name=redis';

/** HTTPRoute `name` on Service echo for `path`, setting `x-gen: gen`, to `backend`. */
function route(name: string, path: string, gen: string, backend = 'echo'): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 80 }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: ${path} } }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: { set: [{ name: x-gen, value: ${gen} }] }
    backendRefs: [{ name: ${backend}, port: 80 }]
`;
}

// Opens 10 connections to every HOST:PORT argument, writes 4 KiB of garbage on each and reports
// how the server ended it: `HOST:PORT 0|1` (closed/reset), `124` (still open after 5 s). The
// garbage starts with `GARBAGE`, then random bytes. Its first five bytes are what a TLS server
// reads as a record header, and they must not be one it has to wait on: OpenSSL reads the
// record a header announces before it looks at the content type, so any first byte followed by
// 0x03 (the version) and a length beyond what was sent holds the connection until the handshake
// timeout (10 s on 15008, Node's 120 s on the controller's grpc-js 15012), which this test does
// not wait for. With one fixed byte and random ones after it, that happened about once in 200
// connections (reproduced against a bare grpc-js TLS server).
const GARBAGE = `gar() {
  exec 3<>"/dev/tcp/$1/$2" || { echo "$1:$2 refused"; return; }
  { printf 'GARBAGE'; head -c 4089 /dev/urandom; } >&3 2>/dev/null
  timeout 5 cat <&3 >/dev/null 2>&1; echo "$1:$2 $?"
}
for t in "$@"; do for i in 1 2 3 4 5 6 7 8 9 10; do gar "\${t%:*}" "\${t#*:}" & done; done; wait`;

describe('resilience: Redis down and bad input (e2e, kubectl)', function () {
  this.timeout(240_000);
  const lab = useLab('rin');
  const statuses = async (n: number, path = '/'): Promise<number[]> =>
    (
      await lab.exec(
        'shop/client-1',
        'sh',
        '-c',
        `for i in $(seq 1 ${n}); do curl -s -o /dev/null -m 5 -w '%{http_code}\\n' "http://echo${path}"; done`,
      )
    )
      .trim()
      .split('\n')
      .map(Number);
  const redisExec = async (...cmd: string[]): Promise<string> => {
    const [pod] = await podFacts(lab, 'waymesh-system', REDIS);
    return lab.exec(`waymesh-system/${pod?.name ?? ''}`, ...cmd);
  };

  before(async function () {
    this.timeout(240_000);
    await setUpResilienceLab(lab, { addons: true });
  });

  it('Redis down: rate limits fail open and answer fast; back up, the shared budget applies again', async () => {
    try {
      await redisDownAndBack();
    } finally {
      // Whatever happened, the later tests must not run under this budget.
      await lab.kubectl('-n', 'shop', 'delete', 'ratelimitpolicy', 'echo-budget', '--ignore-not-found');
    }
  });

  const redisDownAndBack = async (): Promise<void> => {
    apply(lab, RATE_LIMIT);
    await eventually('echo-budget Accepted', async () =>
      (await policyAccepted(lab, 'rlp', 'shop', 'echo-budget'))['echo'] === 'True/Accepted'
        ? true
        : undefined,
    );
    await eventually(
      'the budget spent (429)',
      async () => ((await statuses(LIMIT + 1)).includes(429) ? true : undefined),
      30_000,
    );
    try {
      await setReplicas(lab, 'waymesh-system', 'redis', 0);
      const [redis] = await podFacts(lab, 'waymesh-system', REDIS);
      if (redis !== undefined) await forceDelete(lab, 'waymesh-system', redis.name);
      await eventually('Redis gone', async () =>
        (await podFacts(lab, 'waymesh-system', REDIS)).length === 0 ? true : undefined,
      );
      const stream = httpStream(
        lab,
        'shop/client-1',
        'http://echo/',
        ...['--count', '30', '--interval-ms', '100', '--timeout-ms', '5000'],
      );
      await stream.exited;
      const results = streamResults(stream);
      assert.equal(results.length, 30, `every request answered: ${stream.stderr()}`);
      assert.deepEqual(failures(results), [], 'no request failed while Redis was down');
      const slow = results.filter((r) => r.endAt - r.startAt >= 1000);
      assert.deepEqual(slow, [], 'every answer came within 1 s');
      const codes = results.map((r) => r.status ?? 0);
      assert.ok(
        codes.every((c) => c === 200 || c === 429),
        `statuses while Redis was down: ${codes.join(',')}`,
      );
      // The Redis budget was spent: 200s now mean the waypoints failed open (local budgets).
      assert.ok(codes.includes(200), `failed open: ${codes.join(',')}`);
    } finally {
      await setReplicas(lab, 'waymesh-system', 'redis', 1);
    }
    await lab.kubectl('-n', 'waymesh-system', 'rollout', 'status', 'deployment/redis', '--timeout=60s');
    // Every replica must be counting in Redis again, not just the one a request happens to reach.
    const replicas = await podIps(lab, 'shop', WAYPOINT_PODS);
    await eventually(
      'every waypoint replica back on Redis',
      async () => {
        const text = await scrape(lab, 'shop/client-1', replicas);
        const back = text.match(/^waymesh_ratelimit_fallback_active 0$/gm)?.length ?? 0;
        return back === replicas.length ? true : undefined;
      },
      30_000,
    );
    await statuses(1);
    assert.notEqual((await redisExec('redis-cli', '--scan')).trim(), '', 'budgets counted in Redis again');
    await redisExec('redis-cli', 'flushall');
    // One budget shared by both waypoint replicas: exactly LIMIT pass (local budgets would pass more).
    const codes = await statuses(LIMIT + 2);
    assert.deepEqual(codes, [...Array<number>(LIMIT).fill(200), 429, 429], 'the shared budget applies again');
    await lab.kubectl('-n', 'shop', 'delete', 'ratelimitpolicy', 'echo-budget');
    await eventually('limits lifted', async () =>
      (await statuses(2)).every((c) => c === 200) ? true : undefined,
    );
  };

  it('refuses an invalid CR and reports a broken route in status without breaking others', async () => {
    const stderr = lab.kubectlFails(
      `apiVersion: policy.waymesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: bad, namespace: shop }
spec:
  targetRefs: [{ group: "", kind: Service, name: echo }]
  action: MAYBE
`,
      'apply',
      '-f',
      '-',
    );
    assert.match(stderr, /action/i, stderr);
    assert.match(stderr, /Unsupported value|Invalid value|invalid/i, stderr);
    await assert.rejects(lab.kubectl('-n', 'shop', 'get', 'authorizationpolicy', 'bad'), /not ?found/i);

    apply(lab, route('working', '/', 'ok'));
    apply(lab, route('broken', '/broken', 'broken', 'missing'));
    const c = await eventually('broken route status', async () => {
      const s = await routeConditions(lab, 'httproute', 'shop', 'broken');
      return s['ResolvedRefs'] === undefined ? undefined : s;
    });
    assert.match(c['ResolvedRefs'] ?? '', /^False\/BackendNotFound$/, JSON.stringify(c));
    assert.equal(
      (await settledRoute(lab, 'httproute', 'shop', 'working'))['ResolvedRefs'],
      'True/ResolvedRefs',
    );
    await eventually('the broken route answers 500', async () =>
      (await curl(lab, 'shop/client-1', 'http://echo/broken')).status === 500 ? true : undefined,
    );
    await configConverged(lab, 'shop/client-1');
    const ok = await curl(lab, 'shop/client-1', 'http://echo/');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-gen'], 'ok', 'the other route still works');
  });

  it('leaves the last of 100 applies in 10 s in force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wm-churn-'));
    try {
      const files = Array.from({ length: 100 }, (_, i) => {
        const f = join(dir, `${i}.yaml`);
        writeFileSync(f, route('churn', '/churn', `${i % 2 === 0 ? 'even' : 'odd'}-${i}`));
        return f;
      });
      const t0 = Date.now();
      // The first apply creates the route; the next 98 overlap (one started every 100 ms, as a
      // busy CI would), and the last starts once they have all finished, so it is the last write.
      await lab.kubectl('apply', '-f', files[0] ?? '');
      // The 98 in between are server-side applies sent from here, one started every 100 ms by the
      // clock. As 98 kubectl processes they could not start at that pace on a 2-core lab machine
      // with slow process creation (16.5 s, from this runner or from a shell): the flood is the
      // API server's and the controller's load, not kubectl's.
      const rest = kubeRestFor(lab.kubeconfig);
      const paths = new ResourcePaths(rest);
      const errors: string[] = [];
      const pending: Promise<void>[] = [];
      const t1 = Date.now();
      for (const [i, f] of files.slice(1, -1).entries()) {
        const [o] = parseManifest(readFileSync(f, 'utf8'), f);
        if (o === undefined) throw new Error(`no object in ${f}`);
        pending.push(
          serverSideApply(rest, paths, o).then(
            () => undefined,
            (err: unknown) => void errors.push(String(err)),
          ),
        );
        await sleep(Math.max(0, t1 + (i + 1) * 100 - Date.now()));
      }
      const issued = Date.now() - t1;
      assert.ok(issued <= 11_000, `the 98 applies took ${issued} ms to start, not a flood in 10 s`);
      await Promise.all(pending);
      assert.deepEqual(errors, [], 'every apply succeeded');
      await lab.kubectl('apply', '-f', files.at(-1) ?? '');
      const took = Date.now() - t0;
      console.log(`      98 applies started in ${issued} ms; all 100 done in ${took} ms`);
      const seen = await eventually(
        'the last apply in traffic',
        async () => {
          const g = (await curl(lab, 'shop/client-1', 'http://echo/churn')).headers['x-gen'];
          return g === 'odd-99' ? Date.now() - t0 - took : undefined;
        },
        15_000,
      );
      console.log(`      last apply in traffic after ${seen} ms`);
      for (let i = 0; i < 4; i++) {
        await sleep(500);
        assert.equal((await curl(lab, 'shop/client-1', 'http://echo/churn')).headers['x-gen'], 'odd-99');
      }
      const r = await getJson<{
        metadata: { generation: number };
        status?: { parents?: { conditions?: { type: string; observedGeneration?: number }[] }[] };
      }>(lab, '-n', 'shop', 'httproute', 'churn');
      const accepted = r.status?.parents?.[0]?.conditions?.find((x) => x.type === 'Accepted');
      assert.equal(accepted?.observedGeneration, r.metadata.generation, 'status is for the last generation');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses garbage on a waypoint’s 15008 and the controller’s 15012 without affecting other clients', async () => {
    const waypoints = await podFacts(lab, 'shop', WAYPOINT_PODS);
    const controllers = await podFacts(lab, 'waymesh-system', 'app.kubernetes.io/name=waymesh-controller');
    const targets = [...waypoints.map((w) => `${w.ip}:15008`), ...controllers.map((c) => `${c.ip}:15012`)];
    assert.equal(targets.length, 4);
    const stream = httpStream(
      lab,
      'shop/client-1',
      'http://echo/',
      ...['--count', '120', '--concurrency', '2', '--interval-ms', '50', '--timeout-ms', '5000'],
    );
    try {
      await streamStarted(stream);
      const garbage = background(lab, 'plain/client', 'bash', '-c', GARBAGE, 'garbage', ...targets);
      await garbage.exited;
      const outcomes = garbage.lines.map((l) => l.text);
      assert.equal(outcomes.length, 10 * targets.length, `${outcomes.join('\n')}${garbage.stderr()}`);
      const kept = outcomes.filter((o) => !/ [01]$/.test(o));
      assert.deepEqual(kept, [], 'every garbage connection was closed by the server');
      await stream.exited;
      const results = streamResults(stream);
      assert.equal(results.length, 120, stream.stderr());
      assert.deepEqual(failures(results), [], 'the parallel stream stayed 100% successful');
      assert.ok(results.every((r) => r.status === 200));
    } finally {
      await stream.stop();
    }
    const restarts = (pods: readonly { restarts: number }[]): number[] => pods.map((p) => p.restarts);
    assert.deepEqual(
      restarts(await podFacts(lab, 'shop', WAYPOINT_PODS)),
      restarts(waypoints),
      'no waypoint restarted',
    );
    assert.deepEqual(
      restarts(await podFacts(lab, 'waymesh-system', 'app.kubernetes.io/name=waymesh-controller')),
      restarts(controllers),
      'no controller restarted',
    );
  });
});
