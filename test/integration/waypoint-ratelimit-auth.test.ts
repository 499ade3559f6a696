// The waypoint's rate limiter against a real redis-server that requires AUTH: the password of
// the default user (`requirepass`) and an ACL user limited to the rate-limit keys and commands
// both count in Redis; a limiter without credentials or with a wrong password is in an outage at
// once (fallback decisions, never a hung check) with a warning that names the cause and the
// settings to fix.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { after, afterEach, before, describe, it } from 'mocha';
import type { RateLimit } from '../../common/ir/policy.ts';
import { createLogger } from '../../common/log.ts';
import { RateLimiter, type RedisEndpoint } from '../../waypoint/ratelimit/index.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const ADMIN_PASSWORD = 'admin-pass-1';
const WAYPOINT_USER = 'waypoints';
const WAYPOINT_PASSWORD = 'wp-pass-2';
/**
 * The narrowest ACL the limiter runs with, as docs/policies.md gives it: its keys, the script
 * commands and what the script calls (TIME, GET, SET), and what ioredis sends on connect (CLIENT
 * SETNAME, INFO for the ready check).
 */
const WAYPOINT_ACL = [
  WAYPOINT_USER,
  'on',
  `>${WAYPOINT_PASSWORD}`,
  '~waymesh:rl:*',
  '+evalsha',
  '+eval',
  '+script|load',
  '+time',
  '+get',
  '+set',
  '+client|setname',
  '+info',
  '+quit',
];

const LIMIT: RateLimit = Object.freeze({
  id: 'ratelimitpolicy/default/auth/limit/0',
  source: { group: 'policy.waymesh.io', kind: 'RateLimitPolicy', namespace: 'default', name: 'auth' },
  target: { kind: 'service', service: 'default/echo' },
  requests: 2,
  periodSeconds: 60,
  key: { type: 'target' },
} satisfies RateLimit);

const CTX = { source: 'spiffe://cluster.local/ns/default/sa/client', header: () => undefined };

describe('waypoint rate limiter with a Redis that requires AUTH', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  let admin: Redis;
  const limiters: RateLimiter[] = [];
  let warnings: Array<{ msg: string; hint?: string }> = [];

  async function replica(auth: Omit<RedisEndpoint, 'host' | 'port'>): Promise<RateLimiter> {
    const limiter = new RateLimiter({
      redis: { host: redis.host, port: redis.port, ...auth },
      timeoutMs: 1_000,
      probeIntervalMs: 100,
      maxReconnectDelayMs: 200,
      log: createLogger({
        level: 'warn',
        sink: { write: (line) => warnings.push(JSON.parse(line) as { msg: string; hint?: string }) },
      }),
    });
    limiters.push(limiter);
    await limiter.start();
    return limiter;
  }

  /** Three checks against a limit of two: the last is refused, and Redis holds the bucket. */
  async function countsInRedis(limiter: RateLimiter): Promise<void> {
    assert.equal(limiter.inOutage, false, `authenticated and ready: ${JSON.stringify(warnings)}`);
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await limiter.check([LIMIT], CTX));
    assert.deepEqual(
      decisions.map((d) => [d.via, d.allowed]),
      [
        ['redis', true],
        ['redis', true],
        ['redis', false],
      ],
      JSON.stringify(warnings),
    );
    assert.equal((await admin.keys('waymesh:rl:*')).length, 1, 'one bucket in Redis');
  }

  /** The limiter is in an outage with one warning whose hint matches `hint`, and answers at once. */
  async function refused(limiter: RateLimiter, hint: RegExp): Promise<void> {
    assert.equal(limiter.inOutage, true);
    const started = performance.now();
    const d = await limiter.check([LIMIT], CTX);
    assert.ok(performance.now() - started < 100, 'the fallback answers without waiting for Redis');
    assert.deepEqual([d.via, d.allowed], ['local', true]);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]?.hint ?? '', hint);
    assert.deepEqual(await admin.keys('waymesh:rl:*'), [], 'nothing counted in Redis');
  }

  before(async () => {
    redis = await startRedis(['--requirepass', ADMIN_PASSWORD, '--user', ...WAYPOINT_ACL]);
    admin = new Redis({ host: redis.host, port: redis.port, password: ADMIN_PASSWORD, lazyConnect: true });
    await admin.connect();
  });

  afterEach(async () => {
    await Promise.all(limiters.splice(0).map((l) => l.stop()));
    await admin.flushall();
    warnings = [];
  });

  after(async () => {
    admin.disconnect();
    await redis.stop();
  });

  it('counts in Redis with the default user password (requirepass)', async () => {
    await countsInRedis(await replica({ password: ADMIN_PASSWORD }));
  });

  it('counts in Redis as an ACL user allowed only the rate-limit keys and commands', async () => {
    await countsInRedis(await replica({ username: WAYPOINT_USER, password: WAYPOINT_PASSWORD }));
    assert.deepEqual(warnings, [], JSON.stringify(warnings));
  });

  it('falls back when the ACL lacks a command the script calls, pointing at the ACL', async () => {
    await admin.acl('SETUSER', 'no-time', 'on', '>pw', ...WAYPOINT_ACL.slice(3).filter((r) => r !== '+time'));
    const limiter = await replica({ username: 'no-time', password: 'pw' });
    assert.equal(limiter.inOutage, false, 'connected: the ACL allows what ioredis sends');
    const d = await limiter.check([LIMIT], CTX);
    assert.deepEqual([d.via, d.allowed], ['local', true]);
    assert.match(warnings[0]?.hint ?? '', /ACL needs .*TIME/);
  });

  it('falls back at once without credentials, pointing at the Secret setting', async () => {
    await refused(await replica({}), /sent none.*WAYMESH_WAYPOINT_REDIS_SECRET/);
  });

  it('falls back at once with a wrong password, pointing at the Secret keys', async () => {
    await refused(
      await replica({ username: WAYPOINT_USER, password: 'not-it' }),
      /refused the waypoint's credentials/,
    );
  });
});
