// The rate limiter when Redis fails: killed (connection refused) or paused (connection up, no
// answers). Requests never hang — every check resolves within the call timeout plus a margin,
// counted by resolved promises; failing open applies the local per-replica limit, failing closed
// denies; exactly one warning line per outage and one line at recovery; once Redis is back the
// shared budget is counted again. Also a Redis that answers PING but refuses the script (OOM
// under maxmemory), and a connection whose peer goes silent (through a loopback relay).
import assert from 'node:assert/strict';
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { RateLimit, RateLimitKey } from '../../common/ir/policy.ts';
import { createLogger } from '../../common/log.ts';
import {
  RateLimiter,
  type Decision,
  type RateLimitContext,
  type RateLimiterOptions,
} from '../../waypoint/ratelimit/index.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const TIMEOUT_MS = 50;
/** Slack for a loaded CI machine; the assertion is on how many checks resolved, not on timing. */
const MARGIN_MS = 300;

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

function ctx(source: string | undefined): RateLimitContext {
  return { source, header: () => undefined };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Fires `n` checks at once; after `TIMEOUT_MS + MARGIN_MS` returns how many resolved, and all of them. */
async function burst(
  limiter: RateLimiter,
  limits: RateLimit[],
  n: number,
): Promise<{ resolvedInTime: number; decisions: Decision[] }> {
  let resolved = 0;
  const pending: Array<Promise<Decision>> = [];
  for (let i = 0; i < n; i++) {
    pending.push(
      limiter.check(limits, ctx('spiffe://cluster.local/ns/a/sa/client')).then((d) => {
        resolved++;
        return d;
      }),
    );
  }
  await sleep(TIMEOUT_MS + MARGIN_MS);
  const resolvedInTime = resolved;
  return { resolvedInTime, decisions: await Promise.all(pending) };
}

/**
 * A loopback TCP relay in front of Redis whose open connections can be made silent (nothing
 * forwarded either way, no FIN or RST: a peer that vanished), while new ones are relayed.
 */
class SilencingRelay {
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  connections = 0;

  constructor(target: number) {
    this.server = net.createServer((client) => {
      this.connections++;
      const upstream = net.connect(target, '127.0.0.1');
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      client.pipe(upstream).pipe(client);
      const drop = (): void => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  silenceOpenConnections(): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  async close(): Promise<void> {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface Observed {
  lines: Array<{ level: string; msg: string }>;
  outages: string[];
  redisErrors: number;
  decisions: Array<[string, boolean]>;
}

describe('waypoint rate limiter during a Redis outage', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let limiter: RateLimiter | undefined;
  let seen: Observed;

  async function start(options: Partial<RateLimiterOptions> = {}): Promise<RateLimiter> {
    const log = createLogger({
      level: 'info',
      sink: { write: (line) => seen.lines.push(JSON.parse(line) as { level: string; msg: string }) },
    });
    limiter = new RateLimiter({
      redis: { host: redis.host, port: redis.port },
      timeoutMs: TIMEOUT_MS,
      probeIntervalMs: 100,
      maxReconnectDelayMs: 200,
      log,
      hooks: {
        onOutage: (phase) => seen.outages.push(phase),
        onRedisError: () => seen.redisErrors++,
        onDecision: (id, allowed) => seen.decisions.push([id, allowed]),
      },
      ...options,
    });
    await limiter.start();
    return limiter;
  }

  const levels = () => seen.lines.map((l) => l.level);

  beforeEach(async () => {
    seen = { lines: [], outages: [], redisErrors: 0, decisions: [] };
    redis = await startRedis();
  });

  afterEach(async () => {
    await limiter?.stop({ deadlineMs: 200 });
    limiter = undefined;
    await redis.stop();
  });

  it('Redis killed: fails open fast with the local limit, one warning, then recovers on restart', async () => {
    const twenty = limit('kill', 20, 60, { type: 'target' });
    const rl = await start();
    const before = await Promise.all([1, 2, 3].map(() => rl.check([twenty], ctx('spiffe://td/ns/a/sa/x'))));
    assert.deepEqual(
      before.map((d) => [d.via, d.remaining]),
      [
        ['redis', 19],
        ['redis', 18],
        ['redis', 17],
      ],
    );

    await redis.kill();
    const { resolvedInTime, decisions } = await burst(rl, [twenty], 30);
    assert.equal(resolvedInTime, 30, 'every check answered within the timeout');
    assert.ok(decisions.every((d) => d.via === 'local'));
    assert.equal(
      decisions.filter((d) => d.allowed).length,
      20,
      'the local per-replica limit applies (20/min)',
    );
    const more = await burst(rl, [twenty], 10);
    assert.equal(more.resolvedInTime, 10);
    assert.equal(rl.inOutage, true);
    assert.deepEqual(levels(), ['warn'], 'exactly one warning for the outage');
    assert.deepEqual(seen.outages, ['start']);
    assert.ok(
      seen.decisions.some(([, allowed]) => !allowed),
      'denials reported through onDecision',
    );

    await redis.restart();
    await waitFor('recovery', () => !rl.inOutage);
    assert.deepEqual(levels(), ['warn', 'info'], 'one more line at recovery');
    assert.match(seen.lines[1]?.msg ?? '', /reachable again/);
    assert.deepEqual(seen.outages, ['start', 'end']);
    // The restarted Redis is empty: the shared budget starts full and is counted there again.
    const after = await Promise.all(Array.from({ length: 25 }, () => rl.check([twenty], ctx(undefined))));
    assert.ok(after.every((d) => d.via === 'redis'));
    assert.equal(after.filter((d) => d.allowed).length, 20);
  });

  it('Redis paused (connection up, no answers): checks time out into the fallback, never hang', async () => {
    const hundred = limit('pause', 100, 60, { type: 'target' });
    const rl = await start();
    assert.equal((await rl.check([hundred], ctx(undefined))).via, 'redis');

    redis.pause();
    const { resolvedInTime, decisions } = await burst(rl, [hundred], 40);
    assert.equal(resolvedInTime, 40, 'a hung Redis costs at most the call timeout');
    assert.ok(decisions.every((d) => d.via === 'local' && d.allowed));
    assert.ok(seen.redisErrors >= 1, 'timeouts reported through onRedisError');
    assert.deepEqual(levels(), ['warn']);

    redis.resume();
    await waitFor('recovery', () => !rl.inOutage);
    assert.deepEqual(levels(), ['warn', 'info']);
    const back = await rl.check([hundred], ctx(undefined));
    assert.equal(back.via, 'redis');
    // Redis ran the 40 calls that had timed out once it resumed: a timed-out call may still be
    // counted (it errs toward denying), and the count from before the pause was kept.
    assert.equal(back.remaining, 100 - 1 - 40 - 1);
  });

  it('fails closed when configured: denies every limited request during the outage', async () => {
    const lots = limit('closed', 1_000, 1, { type: 'target' });
    const perHeader = limit('closed-header', 1_000, 1, { type: 'header', name: 'x-tenant' });
    const rl = await start({ failureMode: 'closed' });
    assert.equal((await rl.check([lots], ctx(undefined))).allowed, true);

    await redis.kill();
    const { resolvedInTime, decisions } = await burst(rl, [lots], 20);
    assert.equal(resolvedInTime, 20);
    assert.ok(decisions.every((d) => !d.allowed && d.via === 'failClosed' && d.retryAfterSeconds === 1));
    assert.match(seen.lines[0]?.msg ?? '', /failureMode closed/);
    const unlimited = await rl.check([perHeader], ctx(undefined));
    assert.equal(unlimited.allowed, true, 'a request no limit applies to is never denied');
    assert.deepEqual(levels(), ['warn']);
  });

  it('starts in an outage when Redis is down at start, and logs it once', async () => {
    const ten = limit('down', 10, 60, { type: 'target' });
    await redis.kill();
    const rl = await start();
    assert.equal(rl.inOutage, true);
    const { resolvedInTime, decisions } = await burst(rl, [ten], 15);
    assert.equal(resolvedInTime, 15);
    assert.equal(decisions.filter((d) => d.allowed).length, 10);
    await sleep(500);
    assert.deepEqual(levels(), ['warn'], 'reconnect attempts do not add lines');
    await redis.restart();
    await waitFor('recovery', () => !rl.inOutage);
    assert.equal((await rl.check([ten], ctx(undefined))).via, 'redis');
    assert.deepEqual(levels(), ['warn', 'info']);
  });

  // Regression: recovery was probed with PING, which a Redis refusing the script (OOM under
  // maxmemory here; also ACL NOPERM, a READONLY replica) still answers. Every probe ended the
  // outage and cleared the local buckets, so the next check opened a new one: two log lines per
  // probe interval, and the local safety net reset before it could deny anything.
  it('stays in one outage, with the local limit holding, while Redis answers PING but refuses the script', async () => {
    const five = limit('oom', 5, 3600, { type: 'target' });
    const admin = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    await admin.connect();
    try {
      const rl = await start();
      assert.equal((await rl.check([five], ctx(undefined))).via, 'redis');
      await admin.config('SET', 'maxmemory', '1');
      let allowed = 0;
      for (let i = 0; i < 20; i++) {
        if ((await rl.check([five], ctx(undefined))).allowed) allowed++;
        await sleep(15);
      }
      assert.equal(await admin.ping(), 'PONG', 'Redis still answers PING');
      assert.ok(allowed <= 5, `the local limit of 5/h holds during the outage (allowed ${allowed})`);
      assert.deepEqual(levels(), ['warn'], 'one line for the outage');
      assert.deepEqual(seen.outages, ['start']);
      await admin.config('SET', 'maxmemory', '0');
      await waitFor('recovery', () => !rl.inOutage);
      assert.deepEqual(levels(), ['warn', 'info']);
      assert.equal((await rl.check([five], ctx(undefined))).via, 'redis');
    } finally {
      admin.disconnect();
    }
  });

  // Regression: a connection whose peer vanished without a FIN or RST (a Redis pod on a failed
  // node; the Service now points at its replacement) was kept until the kernel gave up on it,
  // about 15 minutes, probed with PINGs that all timed out: the outage outlived Redis's.
  it('replaces a connection that stopped answering, and recovers on a new one', async () => {
    const five = limit('silent', 5, 3600, { type: 'target' });
    const relay = new SilencingRelay(redis.port);
    const port = await relay.listen();
    try {
      const rl = await start({ redis: { host: '127.0.0.1', port } });
      assert.equal((await rl.check([five], ctx(undefined))).via, 'redis');
      relay.silenceOpenConnections();
      assert.equal((await rl.check([five], ctx(undefined))).via, 'local');
      await waitFor('recovery on a new connection', () => !rl.inOutage, 3_000);
      assert.equal(relay.connections, 2);
      assert.equal((await rl.check([five], ctx(undefined))).via, 'redis');
      assert.deepEqual(levels(), ['warn', 'info']);
    } finally {
      await limiter?.stop({ deadlineMs: 100 });
      limiter = undefined;
      await relay.close();
    }
  });
});
