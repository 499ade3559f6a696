// The waypoint's rate limiter against a real redis-server that requires AUTH: the password of
// the default user (`requirepass`) and an ACL user limited to the rate-limit keys and commands
// both count in Redis; a limiter without credentials or with a wrong password is in an outage at
// once (fallback decisions, never a hung check) with a warning that names the cause and the
// settings to fix. Then over TLS: with the CA of Redis's certificate it counts in Redis; without
// it, or against the plaintext port, it is in an outage whose hint is about TLS.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { after, afterEach, before, describe, it } from 'mocha';
import type { RateLimit } from '../../common/ir/policy.ts';
import { createLogger } from '../../common/log.ts';
import { RateLimiter, type RedisEndpoint } from '../../waypoint/ratelimit/index.ts';
import { freeLoopbackPort, startRedis, type TestRedis } from '../helpers/redis.ts';

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

/**
 * A CA and a certificate for 127.0.0.1 it signed, made with openssl in `dir` (P-256, two days).
 * Returns the files redis-server takes and the CA's PEM.
 */
function tlsFiles(dir: string): { cert: string; key: string; ca: string; caPem: string } {
  const at = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=test redis CA',
  );
  openssl('req', ...ec, '-keyout', at('redis.key'), '-out', at('redis.csr'), '-subj', '/CN=redis');
  writeFileSync(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    ...['x509', '-req', '-in', at('redis.csr'), '-CA', at('ca.crt'), '-CAkey', at('ca.key')],
    ...['-CAcreateserial', '-out', at('redis.crt'), '-days', '2', '-extfile', at('ext.cnf')],
  );
  return {
    cert: at('redis.crt'),
    key: at('redis.key'),
    ca: at('ca.crt'),
    caPem: readFileSync(at('ca.crt'), 'utf8'),
  };
}

describe('waypoint rate limiter with a Redis that requires AUTH, and over TLS', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  let tlsPort: number;
  let caPem: string;
  let tlsDir: string;
  let admin: Redis;
  const limiters: RateLimiter[] = [];
  let warnings: Array<{ msg: string; hint?: string }> = [];

  async function replica(
    auth: Omit<RedisEndpoint, 'host' | 'port'>,
    port = redis.port,
  ): Promise<RateLimiter> {
    const limiter = new RateLimiter({
      redis: { host: redis.host, port, ...auth },
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

  /**
   * The limiter is in an outage, with `lines` warnings of which the last (the outage's) has a hint
   * matching `hint`, and answers at once.
   */
  async function refused(limiter: RateLimiter, hint: RegExp, lines = 1): Promise<void> {
    assert.equal(limiter.inOutage, true);
    const started = performance.now();
    const d = await limiter.check([LIMIT], CTX);
    assert.ok(performance.now() - started < 100, 'the fallback answers without waiting for Redis');
    assert.deepEqual([d.via, d.allowed], ['local', true]);
    assert.equal(warnings.length, lines, JSON.stringify(warnings));
    assert.match(warnings.at(-1)?.hint ?? '', hint, JSON.stringify(warnings));
    assert.deepEqual(await admin.keys('waymesh:rl:*'), [], 'nothing counted in Redis');
  }

  before(async () => {
    tlsDir = mkdtempSync(join(tmpdir(), 'wmt-redis-tls-'));
    const files = tlsFiles(tlsDir);
    caPem = files.caPem;
    tlsPort = await freeLoopbackPort();
    redis = await startRedis([
      ...['--requirepass', ADMIN_PASSWORD, '--user', ...WAYPOINT_ACL],
      // A TLS port next to the plaintext one (which the helper checks with PING); no client certificates.
      ...['--tls-port', String(tlsPort), '--tls-cert-file', files.cert, '--tls-key-file', files.key],
      ...['--tls-ca-cert-file', files.ca, '--tls-auth-clients', 'no'],
    ]);
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
    rmSync(tlsDir, { recursive: true, force: true });
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

  it('over TLS with the CA of its certificate, counts in Redis', async () => {
    await countsInRedis(await replica({ password: ADMIN_PASSWORD, tls: { ca: caPem } }, tlsPort));
    assert.deepEqual(warnings, [], JSON.stringify(warnings));
  });

  it('over TLS without that CA, falls back at once, pointing at the CA', async () => {
    await refused(
      await replica({ password: ADMIN_PASSWORD, tls: {} }, tlsPort),
      /TLS to Redis failed.*ca\.crt/,
    );
  });

  it('warns at start about a username without a password, or a CA that is not PEM, and runs', async () => {
    await refused(await replica({ username: WAYPOINT_USER }), /sent none/, 2);
    assert.match(warnings[0]?.msg ?? '', /username without a password: the waypoint sends no AUTH/);
    warnings = [];
    await refused(await replica({ password: ADMIN_PASSWORD, tls: { ca: 'not a PEM' } }, tlsPort), /TLS/, 2);
    assert.match(warnings[0]?.msg ?? '', /WAYMESH_REDIS_CA holds no PEM certificate/);
  });

  it('over TLS to the plaintext port, falls back after the connect timeout, pointing at TLS', async () => {
    await refused(
      await replica({ password: ADMIN_PASSWORD, tls: { ca: caPem } }),
      /does this port speak TLS/,
    );
  });
});
