import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { isMeshError } from '../../../common/errors.ts';
import type { RateLimit, RateLimitKey } from '../../../common/ir/policy.ts';
import { createLogger } from '../../../common/log.ts';
import {
  compileLimit,
  decide,
  planBuckets,
  rateLimitHeaders,
  UNLIMITED,
  type Decision,
  type RateLimitContext,
} from '../../../waypoint/ratelimit/index.ts';
import { OutageTracker, storeHint } from '../../../waypoint/ratelimit/outage.ts';
import { denyAll } from '../../../waypoint/ratelimit/plan.ts';
import { parseReply, scriptArgs } from '../../../waypoint/ratelimit/script.ts';

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

const bySource = limit('src', 100, 60, { type: 'source' });
const byHeader = limit('hdr', 10, 1, { type: 'header', name: 'X-User' });
const byTarget = limit('all', 1_000, 3600, { type: 'target' });

describe('waypoint/ratelimit plan', () => {
  it('builds one bucket per applicable limit with hashed descriptors under waymesh:rl:{<id>}:', () => {
    const plan = planBuckets(
      [bySource, byHeader, byTarget],
      ctx('spiffe://td/ns/a/sa/x', { 'x-user': 'alice' }),
    );
    assert.deepEqual(
      plan.limits.map((l) => l.id),
      [bySource.id, byHeader.id, byTarget.id],
    );
    assert.match(
      plan.keys[0] ?? '',
      /^waymesh:rl:\{ratelimitpolicy\/default\/src\/limit\/0\}:[A-Za-z0-9_-]{43}$/,
    );
    assert.match(
      plan.keys[1] ?? '',
      /^waymesh:rl:\{ratelimitpolicy\/default\/hdr\/limit\/0\}:[A-Za-z0-9_-]{43}$/,
    );
    assert.equal(plan.keys[2], 'waymesh:rl:{ratelimitpolicy/default/all/limit/0}:all');
  });

  it('separates buckets by descriptor value and reuses them for equal values', () => {
    const key = (c: RateLimitContext) => planBuckets([bySource, byHeader], c).keys;
    const a1 = key(ctx('spiffe://td/ns/a/sa/x', { 'x-user': 'alice' }));
    const a2 = key(ctx('spiffe://td/ns/a/sa/x', { 'x-user': 'alice' }));
    const b = key(ctx('spiffe://td/ns/a/sa/y', { 'x-user': 'bob' }));
    assert.deepEqual(a1, a2);
    assert.notEqual(a1[0], b[0]);
    assert.notEqual(a1[1], b[1]);
  });

  it('skips a header limit when the header is absent (Envoy: missing descriptor → limit not applied)', () => {
    const plan = planBuckets([byHeader], ctx('spiffe://td/ns/a/sa/x'));
    assert.equal(plan.limits.length, 0);
    assert.equal(decide(plan, [1], 'redis'), UNLIMITED);
    assert.equal(denyAll(plan), UNLIMITED);
  });

  it('counts callers without an identity in one anonymous source bucket', () => {
    const anon1 = planBuckets([bySource], ctx(undefined));
    const anon2 = planBuckets([bySource], ctx(undefined));
    assert.equal(anon1.keys.length, 1);
    assert.equal(anon1.keys[0], anon2.keys[0]);
  });

  it('compiles GCRA parameters once per IR object', () => {
    const c = compileLimit(byHeader);
    assert.equal(c, compileLimit(byHeader));
    assert.equal(c.emissionUs, 100_000);
    assert.equal(c.toleranceUs, 1_000_000);
    assert.equal(c.header, 'x-user');
    assert.deepEqual(scriptArgs([c]), ['100000', '1000000']);
  });

  it('rejects a limit the controller should never send, with an actionable MeshError', () => {
    const bad = { ...limit('bad', 0, 60, { type: 'target' }) };
    assert.throws(
      () => compileLimit(bad),
      (err) => isMeshError(err, 'RATELIMIT_BAD_LIMIT') && /requests/.test(err.hint),
    );
    const badPeriod = {
      ...limit('bad', 5, 60, { type: 'target' }),
      periodSeconds: 30,
    } as unknown as RateLimit;
    assert.throws(
      () => compileLimit(badPeriod),
      (err) => isMeshError(err, 'RATELIMIT_BAD_LIMIT'),
    );
  });

  it('validates the script reply shape', () => {
    assert.deepEqual(parseReply([1, 1, 5, 1000, 0], 1), [1, 1, 5, 1000, 0]);
    assert.throws(
      () => parseReply([1, 1, 5], 1),
      (err) => isMeshError(err, 'RATELIMIT_BAD_REPLY'),
    );
    assert.throws(
      () => parseReply('OK', 1),
      (err) => isMeshError(err, 'RATELIMIT_BAD_REPLY'),
    );
  });
});

describe('waypoint/ratelimit decide', () => {
  const plan = planBuckets(
    [bySource, byHeader, byTarget],
    ctx('spiffe://td/ns/a/sa/x', { 'x-user': 'alice' }),
  );

  it('when allowed, reports the limit with the fewest requests remaining', () => {
    const d = decide(plan, [1, 1, 50, 30_000, 0, 1, 3, 700, 0, 1, 900, 360_000, 0], 'redis');
    assert.deepEqual(d, {
      allowed: true,
      limitId: byHeader.id,
      limit: 10,
      remaining: 3,
      resetSeconds: 1,
      retryAfterSeconds: 0,
      via: 'redis',
    });
  });

  it('when denied, reports the denying limit with the longest wait (at least 1 s)', () => {
    const d = decide(plan, [0, 0, 0, 30_000, 400, 1, 3, 700, 0, 0, 0, 360_000, 3_600], 'redis');
    assert.equal(d.allowed, false);
    assert.equal(d.limitId, byTarget.id);
    assert.equal(d.retryAfterSeconds, 4);
    const short = decide(plan, [0, 0, 0, 10, 1, 1, 3, 700, 0, 1, 5, 10, 0], 'redis');
    assert.equal(short.limitId, bySource.id);
    assert.equal(short.retryAfterSeconds, 1, 'a 1 ms wait still says retry-after: 1');
  });

  it('fail-closed denies with the first limit and a one-second retry', () => {
    assert.deepEqual(denyAll(plan), {
      allowed: false,
      limitId: bySource.id,
      limit: 100,
      remaining: 0,
      resetSeconds: 1,
      retryAfterSeconds: 1,
      via: 'failClosed',
    });
  });
});

describe('waypoint/ratelimit headers', () => {
  const base: Decision = {
    allowed: true,
    limitId: 'ratelimitpolicy/default/a/limit/0',
    limit: 100,
    remaining: 42,
    resetSeconds: 17,
    retryAfterSeconds: 0,
    via: 'redis',
  };

  const cases: Array<{ name: string; decision: Decision; want: Array<[string, string]> }> = [
    {
      name: 'allowed: the three ratelimit fields',
      decision: base,
      want: [
        ['ratelimit-limit', '100'],
        ['ratelimit-remaining', '42'],
        ['ratelimit-reset', '17'],
      ],
    },
    {
      name: 'denied: plus retry-after',
      decision: { ...base, allowed: false, remaining: 0, retryAfterSeconds: 3 },
      want: [
        ['ratelimit-limit', '100'],
        ['ratelimit-remaining', '0'],
        ['ratelimit-reset', '17'],
        ['retry-after', '3'],
      ],
    },
    { name: 'no limit applied: nothing', decision: UNLIMITED, want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(rateLimitHeaders(c.decision), c.want));
  }
});

describe('waypoint/ratelimit OutageTracker', () => {
  it('logs one warning per outage and one line at recovery, and calls the hooks', () => {
    const lines: Array<{ level: string; msg: string; outageMs?: number; failures?: number }> = [];
    const log = createLogger({ level: 'debug', sink: { write: (l) => lines.push(JSON.parse(l) as never) } });
    const events: string[] = [];
    let t = 0;
    const tracker = new OutageTracker({
      log,
      failureMode: 'open',
      endpoint: '127.0.0.1:6379',
      now: () => t,
      hooks: { onOutage: (p) => events.push(p), onRedisError: (e) => events.push(`error:${e.message}`) },
    });
    assert.equal(tracker.end(), false, 'nothing to end');
    assert.equal(tracker.callFailed(new Error('Command timed out')), true);
    assert.equal(tracker.callFailed(new Error('Command timed out')), false);
    assert.equal(tracker.begin('connection closed'), false);
    assert.equal(tracker.active, true);
    t = 1_500;
    assert.equal(tracker.end(), true);
    assert.equal(tracker.active, false);
    assert.deepEqual(events, ['error:Command timed out', 'start', 'error:Command timed out', 'end']);
    assert.deepEqual(
      lines.map((l) => l.level),
      ['warn', 'info'],
    );
    assert.match(lines[0]?.msg ?? '', /local per-replica limits/);
    assert.equal(lines[1]?.outageMs, 1_500);
    assert.equal(lines[1]?.failures, 3);
  });

  it('points the operator at the cause an error reply names, and at reachability otherwise', () => {
    const cases: [string, RegExp][] = [
      ['MOVED 3999 10.0.0.5:6379', /cluster mode/],
      ["CROSSSLOT Keys in request don't hash to the same slot", /cluster mode/],
      ["READONLY You can't write against a read only replica.", /read-only replica/],
      ['NOAUTH Authentication required.', /requires a password and the waypoint sent none/],
      ['WRONGPASS invalid username-password pair or user is disabled.', /refused the waypoint's credentials/],
      ["NOPERM User waypoint has no permissions to run the 'evalsha' command", /ACL needs/],
      [
        "ERR The user executing the script can't run this command or subcommand script: c55f, on @user_script:2.",
        /ACL needs the keys waymesh:rl:\* and the commands EVALSHA, EVAL, SCRIPT LOAD, TIME, GET, SET/,
      ],
      ['ERR unknown command', /reachable/],
      ['unable to verify the first certificate', /TLS to Redis failed/],
      ['self-signed certificate in certificate chain', /ca\.crt/],
      ["Hostname/IP does not match certificate's altnames: IP: 10.0.0.9 is not in the cert's list: ", /TLS/],
      ['140:error:0A00010B:SSL routines:ssl3_get_record:wrong version number', /speak TLS/],
      ['connection to Redis closed: connect ETIMEDOUT', /reachable from the waypoint\?/],
      ["OOM command not allowed when used memory > 'maxmemory'.", /maxmemory/],
      ['connection to Redis closed: NOAUTH Authentication required.', /WAYMESH_WAYPOINT_REDIS_SECRET/],
      ['Command timed out', /reachable/],
      ['connect ECONNREFUSED 10.96.0.9:6379', /reachable/],
    ];
    for (const [reason, re] of cases) assert.match(storeHint(reason), re, reason);
    assert.match(
      storeHint('connection to Redis closed: connect ETIMEDOUT', true),
      /does this port speak TLS/,
    );
    assert.doesNotMatch(storeHint('connection to Redis closed: connect ETIMEDOUT'), /TLS/);
    const lines: Array<{ hint?: string }> = [];
    const tracker = new OutageTracker({
      log: createLogger({ sink: { write: (l) => lines.push(JSON.parse(l) as never) } }),
      failureMode: 'closed',
      endpoint: 'redis:6379',
      hooks: {},
    });
    tracker.callFailed(new Error('MOVED 3999 10.0.0.5:6379'));
    assert.match(lines[0]?.hint ?? '', /cluster mode/);
  });
});
