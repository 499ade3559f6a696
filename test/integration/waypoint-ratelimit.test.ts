// The waypoint's rate limiter against a real redis-server on loopback: two RateLimiter instances
// (two connections, i.e. two waypoint replicas) share one budget through the Lua script; buckets
// by source, header and target are independent; the script survives SCRIPT FLUSH (EVALSHA falls
// back to EVAL); keys expire within their period.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { after, afterEach, before, describe, it } from 'mocha';
import type { RateLimit, RateLimitKey } from '../../common/ir/policy.ts';
import {
  rateLimitHeaders,
  RateLimiter,
  type Decision,
  type RateLimitContext,
  type RateLimiterOptions,
} from '../../waypoint/ratelimit/index.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

function limit(name: string, requests: number, periodSeconds: 1 | 60 | 3600, key: RateLimitKey): RateLimit {
  const built: RateLimit = {
    id: `ratelimitpolicy/default/${name}/limit/0`,
    source: { group: 'policy.waymesh.io', kind: 'RateLimitPolicy', namespace: 'default', name },
    target: { kind: 'service', service: 'default/echo' },
    requests,
    periodSeconds,
    key,
  };
  return Object.freeze(built);
}

function ctx(source: string | undefined, headers: Record<string, string> = {}): RateLimitContext {
  return { source, header: (name: string) => headers[name] };
}

async function allowedOf(checks: Array<Promise<Decision>>): Promise<number> {
  return (await Promise.all(checks)).filter((d) => d.allowed).length;
}

describe('waypoint rate limiter with Redis', function () {
  let redis: TestRedis;
  let inspect: Redis;
  const limiters: RateLimiter[] = [];

  async function replica(options: Partial<RateLimiterOptions> = {}): Promise<RateLimiter> {
    const limiter = new RateLimiter({
      redis: { host: redis.host, port: redis.port },
      timeoutMs: 1_000,
      ...options,
    });
    limiters.push(limiter);
    await limiter.start();
    assert.equal(limiter.inOutage, false, 'connected to the test Redis');
    return limiter;
  }

  before(async () => {
    redis = await startRedis();
    inspect = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    await inspect.connect();
  });

  afterEach(async () => {
    await Promise.all(limiters.splice(0).map((l) => l.stop()));
    await inspect.flushall();
  });

  after(async () => {
    inspect.disconnect();
    await redis.stop();
  });

  it('shares one budget between two replicas and reports headers from Redis', async () => {
    const fiveAMinute = limit('shared', 5, 60, { type: 'target' });
    const a = await replica();
    const b = await replica();
    const c = ctx('spiffe://cluster.local/ns/a/sa/client');
    const first = await a.check([fiveAMinute], c);
    assert.deepEqual(first, {
      allowed: true,
      limitId: fiveAMinute.id,
      limit: 5,
      remaining: 4,
      resetSeconds: 12,
      retryAfterSeconds: 0,
      via: 'redis',
    });
    // Concurrent calls on two connections reach Redis in any order: the budget is what is shared,
    // so exactly four of the five are allowed, whichever replica asked.
    const rest = [b, a, b, a, b].map((r) => r.check([fiveAMinute], c));
    const decisions = await Promise.all(rest);
    assert.equal(decisions.filter((d) => d.allowed).length, 4);
    const denied = decisions.find((d) => !d.allowed);
    assert.ok(denied !== undefined);
    assert.equal(denied.via, 'redis');
    assert.ok(
      denied.retryAfterSeconds >= 11 && denied.retryAfterSeconds <= 12,
      `retry ${denied.retryAfterSeconds}`,
    );
    assert.deepEqual(rateLimitHeaders(denied), [
      ['ratelimit-limit', '5'],
      ['ratelimit-remaining', '0'],
      ['ratelimit-reset', '60'],
      ['retry-after', String(denied.retryAfterSeconds)],
    ]);
    const key = `waymesh:rl:{${fiveAMinute.id}}:all`;
    const ttl = await inspect.pttl(key);
    assert.ok(ttl > 55_000 && ttl <= 60_000, `key expires within its period (pttl ${ttl})`);
  });

  it('keeps buckets by source and by header independent; a missing header is not limited', async () => {
    const perSource = limit('per-source', 2, 60, { type: 'source' });
    const perTenant = limit('per-tenant', 2, 60, { type: 'header', name: 'x-tenant' });
    const a = await replica();
    const b = await replica();
    const alice = ctx('spiffe://cluster.local/ns/a/sa/alice');
    const bob = ctx('spiffe://cluster.local/ns/a/sa/bob');
    assert.equal(
      await allowedOf([
        a.check([perSource], alice),
        b.check([perSource], alice),
        a.check([perSource], alice),
      ]),
      2,
    );
    assert.equal(
      await allowedOf([b.check([perSource], bob), a.check([perSource], bob)]),
      2,
      'bob has his own budget',
    );

    const t1 = ctx(undefined, { 'x-tenant': 'one' });
    const t2 = ctx(undefined, { 'x-tenant': 'two' });
    assert.equal(
      await allowedOf([a.check([perTenant], t1), b.check([perTenant], t1), a.check([perTenant], t1)]),
      2,
    );
    assert.equal(
      await allowedOf([a.check([perTenant], t2), b.check([perTenant], t2)]),
      2,
      'tenant two is separate',
    );
    const none = await a.check([perTenant], ctx(undefined));
    assert.equal(none.via, 'none');
    assert.equal(none.allowed, true);
    assert.equal((await inspect.keys('waymesh:rl:*')).length, 4, 'alice, bob, tenant one, tenant two');
  });

  it('checks several limits in one call: a request denied by one is not counted by the others', async () => {
    const perSource = limit('multi-source', 1, 60, { type: 'source' });
    const shared = limit('multi-shared', 3, 60, { type: 'target' });
    const a = await replica();
    const alice = ctx('spiffe://cluster.local/ns/a/sa/alice');
    assert.equal((await a.check([perSource, shared], alice)).allowed, true);
    const denied = await a.check([perSource, shared], alice);
    assert.equal(denied.allowed, false);
    assert.equal(denied.limitId, perSource.id);
    const others = ['bob', 'carol', 'dave'].map((n) =>
      a.check([perSource, shared], ctx(`spiffe://td/ns/a/sa/${n}`)),
    );
    assert.equal(await allowedOf(others), 2, 'alice took 1 of 3 shared; her denied request took none');
  });

  // Regression: the script computed on absolute microseconds (~1.7e15, quarter-µs precision) with
  // a tolerance of emission × requests; `floor` landed one short for 232 of these 600 limits
  // (a fresh 6/s or 60/s bucket said ratelimit-remaining 4 or 58).
  it('reports requests - 1 remaining on a fresh bucket whatever the limit', async () => {
    const a = await replica();
    const wrong: string[] = [];
    for (const period of [1, 60, 3600] as const) {
      for (let requests = 1; requests <= 200; requests++) {
        const fresh = limit(`fresh-${requests}-${period}`, requests, period, { type: 'target' });
        const d = await a.check([fresh], ctx(undefined));
        if (d.remaining !== requests - 1) wrong.push(`${requests}/${period}s: ${d.remaining}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  // Regression: a policy edited from per hour to per second keeps its limit id, so its key; the
  // bucket filled under the hour stayed ahead by up to an hour and the per-second limit denied
  // for that long (retry-after up to 3600).
  it('caps a bucket filled under a longer period at the new period', async () => {
    const a = await replica();
    const hourly = limit('edited', 2, 3600, { type: 'target' });
    assert.equal(await allowedOf([a.check([hourly], ctx(undefined)), a.check([hourly], ctx(undefined))]), 2);
    const perSecond = limit('edited', 2, 1, { type: 'target' });
    const denied = await a.check([perSecond], ctx(undefined));
    assert.equal(denied.allowed, false);
    assert.equal(denied.retryAfterSeconds, 1);
    const ttl = await inspect.pttl(`waymesh:rl:{${perSecond.id}}:all`);
    assert.ok(ttl > 0 && ttl <= 1_000, `the key now expires within the new period (pttl ${ttl})`);
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal((await a.check([perSecond], ctx(undefined))).allowed, true);
  });

  it('keeps counting after SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
    const three = limit('flush', 3, 60, { type: 'target' });
    const a = await replica();
    await inspect.config('RESETSTAT');
    assert.equal((await a.check([three], ctx(undefined))).remaining, 2);
    assert.equal((await a.check([three], ctx(undefined))).remaining, 1, 'second call by EVALSHA');
    await inspect.script('FLUSH');
    const after = await a.check([three], ctx(undefined));
    assert.equal(after.via, 'redis');
    assert.equal(after.remaining, 0);
    assert.equal((await a.check([three], ctx(undefined))).allowed, false);
    assert.equal(a.inOutage, false);
    const stats = await inspect.info('commandstats');
    const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    assert.equal(calls('eval'), 2, 'EVAL once per script load: first use and after the flush');
    assert.ok(calls('evalsha') >= 2, `EVALSHA otherwise (${calls('evalsha')})`);
  });
});
