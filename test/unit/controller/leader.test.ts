/** Leader election on an in-memory Lease with a fake clock. */
import assert from 'node:assert/strict';
import { silentLogger } from '../../../common/log.ts';
import {
  formatMicroTime,
  LeaderElector,
  parseMicroTime,
  type LeaderClock,
  type LeaseSpec,
} from '../../../controller/leader/index.ts';
import { MemoryKubeClient } from '../../../controller/provision/index.ts';

const PATH = '/apis/coordination.k8s.io/v1/namespaces/waymesh-system/leases/waymesh-controller';

/** A clock whose sleep advances time at once (yielding to the event loop so others run). */
class FakeClock implements LeaderClock {
  t = Date.parse('2026-01-02T03:04:05.000Z');
  now(): Date {
    return new Date(this.t);
  }
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) =>
      setImmediate(() => {
        if (!signal.aborted) this.t += ms;
        resolve();
      }),
    );
  }
}

function elector(
  client: MemoryKubeClient,
  clock: LeaderClock,
  identity: string,
  events: string[] = [],
): LeaderElector {
  return new LeaderElector({
    client,
    identity,
    clock,
    logger: silentLogger,
    leaseDurationSeconds: 15,
    renewDeadlineSeconds: 10,
    retryPeriodSeconds: 2,
    onStartedLeading: () => events.push(`${identity} started`),
    onStoppedLeading: () => events.push(`${identity} stopped`),
  });
}

const spec = (client: MemoryKubeClient): LeaseSpec => (client.objects.get(PATH)?.['spec'] ?? {}) as LeaseSpec;
const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), 'condition not reached');
};

describe('controller/leader MicroTime', () => {
  it('formats with six fractional digits and parses back', () => {
    const d = new Date('2026-01-02T03:04:05.123Z');
    assert.equal(formatMicroTime(d), '2026-01-02T03:04:05.123000Z');
    assert.equal(parseMicroTime('2026-01-02T03:04:05.123456Z')?.getTime(), d.getTime());
    assert.equal(parseMicroTime('2026-01-02T03:04:05Z')?.toISOString(), '2026-01-02T03:04:05.000Z');
    assert.equal(parseMicroTime('yesterday'), undefined);
    assert.equal(parseMicroTime(42), undefined);
  });
});

describe('controller/leader tryAcquireOrRenew', () => {
  it('creates an absent Lease and holds it', async () => {
    const client = new MemoryKubeClient();
    const clock = new FakeClock();
    assert.equal(await elector(client, clock, 'a').tryAcquireOrRenew(), true);
    assert.deepEqual(spec(client), {
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTime: '2026-01-02T03:04:05.000000Z',
      renewTime: '2026-01-02T03:04:05.000000Z',
      leaseTransitions: 0,
    });
  });

  it('renews keeping acquireTime and transitions', async () => {
    const client = new MemoryKubeClient();
    const clock = new FakeClock();
    const a = elector(client, clock, 'a');
    await a.tryAcquireOrRenew();
    clock.t += 2000;
    assert.equal(await a.tryAcquireOrRenew(), true);
    assert.equal(spec(client).renewTime, '2026-01-02T03:04:07.000000Z');
    assert.equal(spec(client).acquireTime, '2026-01-02T03:04:05.000000Z');
    assert.equal(spec(client).leaseTransitions, 0);
  });

  it('does not take an unexpired Lease, takes an expired one and counts the transition', async () => {
    const client = new MemoryKubeClient();
    const clock = new FakeClock();
    await elector(client, clock, 'a').tryAcquireOrRenew();
    const b = elector(client, clock, 'b');
    clock.t += 14_999;
    assert.equal(await b.tryAcquireOrRenew(), false);
    assert.equal(spec(client).holderIdentity, 'a');
    clock.t += 1;
    assert.equal(await b.tryAcquireOrRenew(), true);
    assert.equal(spec(client).holderIdentity, 'b');
    assert.equal(spec(client).leaseTransitions, 1);
    assert.equal(spec(client).acquireTime, formatMicroTime(clock.now()));
  });

  it('loses a write race on resourceVersion without throwing', async () => {
    const client = new MemoryKubeClient();
    const clock = new FakeClock();
    await elector(client, clock, 'a').tryAcquireOrRenew();
    clock.t += 20_000;
    const b = elector(client, clock, 'b');
    // Another writer bumps the resourceVersion between b's GET and PUT.
    const request = client.request.bind(client);
    client.request = async (req) => {
      if (req.method === 'PUT') client.put(PATH, client.objects.get(PATH));
      return request(req);
    };
    assert.equal(await b.tryAcquireOrRenew(), false);
    assert.equal(spec(client).holderIdentity, 'a');
  });

  it('refuses inconsistent durations', () => {
    assert.throws(
      () =>
        new LeaderElector({
          client: new MemoryKubeClient(),
          identity: 'a',
          logger: silentLogger,
          leaseDurationSeconds: 5,
          renewDeadlineSeconds: 10,
          onStartedLeading: () => undefined,
          onStoppedLeading: () => undefined,
        }),
      /LEADER_BAD_CONFIG|leaseDuration/,
    );
  });
});

describe('controller/leader election loop', () => {
  it('elects one of two, and hands over on stop through release', async () => {
    const client = new MemoryKubeClient();
    const clock = new FakeClock();
    const events: string[] = [];
    const a = elector(client, clock, 'a', events);
    const b = elector(client, clock, 'b', events);
    a.start();
    await until(() => a.isLeader);
    b.start();
    const t0 = clock.t;
    await until(() => clock.t >= t0 + 30_000);
    assert.deepEqual(events, ['a started']);
    assert.equal(b.isLeader, false);
    await a.stop();
    assert.equal(spec(client).holderIdentity === 'b' || spec(client).holderIdentity === '', true);
    await until(() => b.isLeader);
    assert.deepEqual(events, ['a started', 'a stopped', 'b started']);
    assert.equal(spec(client).leaseTransitions, 1);
    await b.stop();
    assert.equal(spec(client).holderIdentity, '');
    assert.deepEqual(events.at(-1), 'b stopped');
  });

  it('stops leading when renewals fail past the renew deadline, then campaigns again', async () => {
    const client = new MemoryKubeClient();
    const clock = new FakeClock();
    const events: string[] = [];
    const a = elector(client, clock, 'a', events);
    a.start();
    await until(() => a.isLeader);
    // Six failed attempts at 2 s intervals cover the 10 s renew deadline.
    client.failNext = [500, 500, 500, 500, 500, 500, 500];
    await until(() => !a.isLeader);
    await until(() => a.isLeader);
    assert.deepEqual(events, ['a started', 'a stopped', 'a started']);
    await a.stop();
  });

  it('stop() of a follower leaves the Lease untouched', async () => {
    const client = new MemoryKubeClient();
    const clock = new FakeClock();
    await elector(client, clock, 'a').tryAcquireOrRenew();
    const b = elector(client, clock, 'b');
    b.start();
    await until(() => client.log.length >= 3);
    await b.stop();
    assert.equal(spec(client).holderIdentity, 'a');
  });
});
