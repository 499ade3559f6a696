import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { RateLimit, RateLimitKey } from '../../../common/ir/policy.ts';
import {
  decide,
  LocalLimiter,
  planBuckets,
  type RateLimitContext,
} from '../../../waypoint/ratelimit/index.ts';

/** A frozen IR limit `ratelimitpolicy/default/<name>/limit/0`. */
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

/** A request context with a source identity and lowercase headers. */
function ctx(source: string | undefined, headers: Record<string, string> = {}): RateLimitContext {
  return { source, header: (name: string) => headers[name] };
}

/** A clock that moves only when the test says so (milliseconds). */
function fixedClock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('waypoint/ratelimit LocalLimiter', () => {
  const perSecond = limit('ten', 10, 1, { type: 'target' });

  it('allows a full burst of `requests`, then denies with the wait until one more fits', () => {
    const clock = fixedClock();
    const local = new LocalLimiter({ now: clock.now });
    const plan = planBuckets([perSecond], ctx('spiffe://cluster.local/ns/a/sa/x'));
    const remaining: number[] = [];
    for (let i = 0; i < 10; i++) {
      const d = decide(plan, local.check(plan), 'local');
      assert.equal(d.allowed, true);
      remaining.push(d.remaining);
    }
    assert.deepEqual(remaining, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    const denied = decide(plan, local.check(plan), 'local');
    assert.deepEqual(denied, {
      allowed: false,
      limitId: perSecond.id,
      limit: 10,
      remaining: 0,
      resetSeconds: 1,
      retryAfterSeconds: 1,
      via: 'local',
    });
  });

  it('refills at requests/period: one request per 100 ms for 10/s', () => {
    const clock = fixedClock();
    const local = new LocalLimiter({ now: clock.now });
    const plan = planBuckets([perSecond], ctx(undefined));
    for (let i = 0; i < 10; i++) local.check(plan);
    clock.advance(99);
    assert.equal(local.check(plan)[0], 0, 'not yet refilled after 99 ms');
    clock.advance(1);
    assert.equal(local.check(plan)[0], 1, 'one token after 100 ms');
    assert.equal(local.check(plan)[0], 0, 'and only one');
    clock.advance(1_000);
    let allowed = 0;
    for (let i = 0; i < 20; i++) allowed += local.check(plan)[0] ?? 0;
    assert.equal(allowed, 10, 'a full second refills the whole budget, never more');
  });

  it('counts over time within the budget a window allows', () => {
    const clock = fixedClock();
    const local = new LocalLimiter({ now: clock.now });
    const plan = planBuckets([limit('k', 1_000, 1, { type: 'target' })], ctx(undefined));
    let allowed = 0;
    // 2,000 req/s for 3 s, one every 0.5 ms: budget = burst 1,000 + 3 s × 1,000/s.
    for (let i = 0; i < 6_000; i++) {
      allowed += local.check(plan)[0] ?? 0;
      clock.advance(0.5);
    }
    assert.ok(Math.abs(allowed - 4_000) <= 1, `allowed ${allowed}`);
  });

  it('counts a request in every bucket only when all allow (all or nothing)', () => {
    const clock = fixedClock();
    const local = new LocalLimiter({ now: clock.now });
    const small = limit('small', 2, 60, { type: 'source' });
    const big = limit('big', 5, 60, { type: 'target' });
    const a = planBuckets([small, big], ctx('spiffe://td/ns/a/sa/a'));
    const b = planBuckets([small, big], ctx('spiffe://td/ns/b/sa/b'));
    assert.equal(local.check(a)[0], 1);
    assert.equal(local.check(a)[0], 1);
    const third = decide(a, local.check(a), 'local');
    assert.equal(third.allowed, false);
    assert.equal(third.limitId, small.id, 'the denying limit is reported');
    assert.equal(third.retryAfterSeconds, 30);
    // The denied request did not take from the shared target budget: b still gets 3 (5 - 2).
    let allowedB = 0;
    for (let i = 0; i < 5; i++) allowedB += local.check(b)[0] ?? 0;
    assert.equal(allowedB, 2, 'b is limited by its own source bucket (2/min)');
    const c = planBuckets([big], ctx(undefined));
    assert.equal(decide(c, local.check(c), 'local').remaining, 0, 'target budget: 2 + 2 + this one = 5');
    assert.equal(local.check(c)[0], 0);
  });

  it('keeps at most maxKeys buckets, evicting the least recently used', () => {
    const clock = fixedClock();
    const local = new LocalLimiter({ now: clock.now, maxKeys: 3 });
    const perSource = limit('src', 1, 3600, { type: 'source' });
    const planFor = (n: number) => planBuckets([perSource], ctx(`spiffe://td/ns/a/sa/${n}`));
    for (let n = 0; n < 3; n++) assert.equal(local.check(planFor(n))[0], 1);
    assert.equal(local.check(planFor(0))[0], 0, 'source 0 used its budget (and is now most recent)');
    assert.equal(local.check(planFor(3))[0], 1);
    assert.equal(local.size, 3);
    assert.equal(local.check(planFor(0))[0], 0, 'source 0 survived: source 1 was the least recent');
    assert.equal(local.check(planFor(1))[0], 1, 'source 1 was evicted and starts full again');
    assert.equal(local.size, 3);
  });

  // Regression: the GCRA arithmetic ran on absolute times and a tolerance of emission × requests,
  // whose rounding made `floor` land one short: a fresh 6/s bucket said ratelimit-remaining 4,
  // and a burst at one instant got 5 of 6 (the script had the same error, in 232 of the 600
  // limits 1..200 per second, minute and hour).
  it('reports requests - 1 remaining on a fresh bucket and allows a full burst at one instant', () => {
    const wrong: string[] = [];
    for (const period of [1, 60, 3600] as const) {
      for (let requests = 1; requests <= 200; requests++) {
        const local = new LocalLimiter({ now: fixedClock(3_600_000.123).now });
        const plan = planBuckets(
          [limit(`r${requests}`, requests, period, { type: 'target' })],
          ctx(undefined),
        );
        const first = decide(plan, local.check(plan), 'local');
        let allowed = first.allowed ? 1 : 0;
        for (let i = 0; i < requests; i++) allowed += local.check(plan)[0] ?? 0;
        if (first.remaining !== requests - 1 || allowed !== requests) {
          wrong.push(`${requests}/${period}s: remaining ${first.remaining}, burst ${allowed}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  // Regression: a bucket filled under a longer period (a policy edited from per hour to per
  // second keeps its limit id, so its key) stayed ahead by up to the old period: the per-second
  // limit denied for up to an hour, with retry-after up to 3600.
  it('caps a bucket left ahead by a longer period at the new period', () => {
    const clock = fixedClock();
    const local = new LocalLimiter({ now: clock.now });
    const hourly = planBuckets([limit('edited', 2, 3600, { type: 'target' })], ctx(undefined));
    assert.equal(local.check(hourly)[0], 1);
    assert.equal(local.check(hourly)[0], 1);
    const perSecond = planBuckets([limit('edited', 2, 1, { type: 'target' })], ctx(undefined));
    const denied = decide(perSecond, local.check(perSecond), 'local');
    assert.equal(denied.allowed, false, 'the budget was used up');
    assert.equal(denied.retryAfterSeconds, 1);
    assert.equal(denied.resetSeconds, 1);
    clock.advance(500);
    assert.equal(local.check(perSecond)[0], 1, 'one request fits after half a second at 2/s');
  });

  it('clear() forgets every bucket', () => {
    const local = new LocalLimiter({ now: fixedClock().now });
    const plan = planBuckets([limit('one', 1, 60, { type: 'target' })], ctx(undefined));
    assert.equal(local.check(plan)[0], 1);
    assert.equal(local.check(plan)[0], 0);
    local.clear();
    assert.equal(local.size, 0);
    assert.equal(local.check(plan)[0], 1);
  });
});
