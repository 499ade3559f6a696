import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { createLogger } from '../../../common/log.ts';
import {
  CertRotator,
  backoffMs,
  refreshAt,
  systemClock,
  type Clock,
  type Validity,
} from '../../../certs/index.ts';

const T0 = Date.parse('2025-06-01T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

/** An in-memory clock: time moves only when the test says so. */
class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(now: number) {
    this.#now = now;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Due times of the pending timers, sorted. */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }

  /** Moves time to `t`, firing due timers in order and letting their promises settle. */
  async advanceTo(t: number): Promise<void> {
    for (;;) {
      const due = [...this.#timers.entries()]
        .filter(([, timer]) => timer.at <= t)
        .sort(([, a], [, b]) => a.at - b.at)[0];
      if (due === undefined) break;
      const [id, timer] = due;
      this.#timers.delete(id);
      this.#now = Math.max(this.#now, timer.at);
      timer.fn();
      await settle();
    }
    this.#now = Math.max(this.#now, t);
  }
}

/** Lets pending promise callbacks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface FakeCert extends Validity {
  readonly name: string;
}

function cert(name: string, issuedAt: number, ttlMs = 24 * HOUR): FakeCert {
  // Backdated by 5 minutes, as the CA does.
  return { name, notBefore: new Date(issuedAt - 5 * MIN), notAfter: new Date(issuedAt + ttlMs) };
}

/** A CA double: each call takes the next planned outcome and records when it was asked. */
class FakeCa {
  readonly calls: number[] = [];
  readonly #plan: ('ok' | 'fail')[];
  readonly #clock: FakeClock;
  readonly #ttlMs: number;

  constructor(clock: FakeClock, plan: ('ok' | 'fail')[], ttlMs = 24 * HOUR) {
    this.#clock = clock;
    this.#plan = plan;
    this.#ttlMs = ttlMs;
  }

  fetch = (): Promise<FakeCert> => {
    const now = this.#clock.now();
    this.calls.push(now);
    const outcome = this.#plan.shift() ?? 'ok';
    return outcome === 'ok'
      ? Promise.resolve(cert(`cert-${this.calls.length}`, now, this.#ttlMs))
      : Promise.reject(new Error(`CA unavailable (call ${this.calls.length})`));
  };
}

describe('certs/rotation', () => {
  describe('refreshAt', () => {
    const cases: readonly { name: string; notBefore: number; notAfter: number; at: number }[] = [
      { name: '24 h certificate', notBefore: T0, notAfter: T0 + 24 * HOUR, at: T0 + 12 * HOUR },
      {
        name: 'backdated 24 h certificate',
        notBefore: T0 - 5 * MIN,
        notAfter: T0 + 24 * HOUR,
        at: T0 + 12 * HOUR - 2.5 * MIN,
      },
      { name: '1 h certificate', notBefore: T0, notAfter: T0 + HOUR, at: T0 + 30 * MIN },
      { name: '90 day certificate', notBefore: T0, notAfter: T0 + 90 * 24 * HOUR, at: T0 + 45 * 24 * HOUR },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const at = refreshAt({ notBefore: new Date(c.notBefore), notAfter: new Date(c.notAfter) });
        assert.equal(at.getTime(), c.at);
      });
    }
  });

  describe('backoffMs', () => {
    const half = (): number => 0.5; // no jitter
    const expected = [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 150_000, 150_000, 150_000];
    for (const [i, ms] of expected.entries()) {
      it(`failure ${i + 1} → ${ms} ms`, () => assert.equal(backoffMs(i + 1, 150_000, half), ms));
    }

    it('stays at the cap for very many failures', () => {
      assert.equal(backoffMs(1000, 150_000, half), 150_000);
    });

    it('jitters within ±10 % and never beyond the cap', () => {
      assert.equal(
        backoffMs(3, 150_000, () => 0),
        3600,
      );
      assert.equal(
        backoffMs(3, 150_000, () => 1),
        4400,
      );
      assert.equal(
        backoffMs(20, 150_000, () => 1),
        150_000,
      );
      assert.equal(
        backoffMs(20, 150_000, () => 0),
        135_000,
      );
    });

    it('treats failure counts below 1 as the first', () => {
      assert.equal(backoffMs(0, 150_000, half), 1000);
    });
  });

  describe('CertRotator', () => {
    it('fetches at start, then refreshes at half life', async () => {
      const clock = new FakeClock(T0);
      const ca = new FakeCa(clock, ['ok', 'ok']);
      const updates: string[] = [];
      const rotator = new CertRotator({ fetch: ca.fetch, clock, onUpdate: (c) => updates.push(c.name) });
      const first = await rotator.start();
      assert.equal(first.name, 'cert-1');
      assert.equal(rotator.current(), first);
      const half = refreshAt(first).getTime();
      assert.equal(rotator.nextAttemptAt(), half);
      assert.deepEqual(clock.pending(), [half]);

      await clock.advanceTo(half - 1);
      assert.deepEqual(ca.calls, [T0], 'no refresh before half life');
      await clock.advanceTo(half);
      assert.deepEqual(ca.calls, [T0, half]);
      assert.equal(rotator.current()?.name, 'cert-2');
      assert.deepEqual(updates, ['cert-1', 'cert-2']);
      assert.equal(rotator.nextAttemptAt(), refreshAt(cert('x', half)).getTime());
      rotator.stop();
    });

    it('keeps the current certificate on failure, backs off, and recovers', async () => {
      const clock = new FakeClock(T0);
      const ca = new FakeCa(clock, ['ok', 'fail', 'fail', 'fail', 'ok']);
      const lines: string[] = [];
      const logger = createLogger({ sink: { write: (l) => lines.push(l) } });
      const rotator = new CertRotator({ fetch: ca.fetch, clock, logger, random: () => 0.5 });
      const first = await rotator.start();
      const half = refreshAt(first).getTime();

      await clock.advanceTo(half);
      assert.equal(rotator.failures(), 1);
      assert.equal(rotator.current(), first, 'the still-valid certificate is kept');
      assert.equal(rotator.nextAttemptAt(), half + 1000);

      await clock.advanceTo(half + 1000);
      assert.equal(rotator.failures(), 2);
      assert.equal(rotator.nextAttemptAt(), half + 1000 + 2000);
      assert.equal(rotator.current(), first);

      await clock.advanceTo(half + 3000);
      assert.equal(rotator.failures(), 3);
      assert.equal(rotator.nextAttemptAt(), half + 3000 + 4000);

      await clock.advanceTo(half + 7000);
      assert.deepEqual(ca.calls, [T0, half, half + 1000, half + 3000, half + 7000]);
      assert.equal(rotator.failures(), 0, 'a success resets the failure count');
      assert.equal(rotator.current()?.name, 'cert-5');
      assert.equal(rotator.nextAttemptAt(), refreshAt(cert('x', half + 7000)).getTime());

      const warnings = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        warnings.map((w) => [w['level'], w['failures'], w['retryInMs']]),
        [
          ['warn', 1, 1000],
          ['warn', 2, 2000],
          ['warn', 3, 4000],
        ],
      );
      assert.match(String(warnings[0]?.['error']), /CA unavailable/);
      assert.equal(warnings[0]?.['currentExpires'], first.notAfter.toISOString());
      rotator.stop();
    });

    it('retry delays grow and never exceed the cap', async () => {
      const clock = new FakeClock(T0);
      const ca = new FakeCa(clock, ['ok', ...Array<'fail'>(14).fill('fail')]);
      const rotator = new CertRotator({ fetch: ca.fetch, clock, random: () => 1, maxBackoffMs: 150_000 });
      const first = await rotator.start();
      await clock.advanceTo(refreshAt(first).getTime());
      const delays: number[] = [];
      for (let i = 0; i < 13; i++) {
        const next = rotator.nextAttemptAt();
        assert.ok(next !== undefined);
        delays.push(next - clock.now());
        await clock.advanceTo(next);
      }
      assert.equal(rotator.failures(), 14);
      for (let i = 1; i < delays.length; i++) {
        assert.ok((delays[i] ?? 0) >= (delays[i - 1] ?? 0), `delays must not shrink: ${delays.join(',')}`);
      }
      assert.ok(Math.max(...delays) <= 150_000);
      assert.equal(delays[delays.length - 1], 150_000, 'the cap is reached');
      assert.equal(delays[0], 1100);
      rotator.stop();
    });

    it('honours a smaller backoff cap', async () => {
      const clock = new FakeClock(T0);
      const ca = new FakeCa(clock, ['fail', 'fail', 'fail', 'fail']);
      const rotator = new CertRotator({ fetch: ca.fetch, clock, random: () => 0.5, maxBackoffMs: 3000 });
      const started = rotator.start();
      await settle();
      const delays: number[] = [];
      for (let i = 0; i < 3; i++) {
        const next = rotator.nextAttemptAt() ?? 0;
        delays.push(next - clock.now());
        await clock.advanceTo(next);
      }
      assert.deepEqual(delays, [1000, 2000, 3000]);
      rotator.stop();
      await assert.rejects(started, /stopped before a certificate was obtained/);
    });

    it('start() retries until the first certificate arrives', async () => {
      const clock = new FakeClock(T0);
      const ca = new FakeCa(clock, ['fail', 'fail', 'ok']);
      const rotator = new CertRotator({ fetch: ca.fetch, clock, random: () => 0.5 });
      let settled = false;
      const started = rotator.start().finally(() => (settled = true));
      await settle();
      assert.equal(rotator.current(), undefined);
      await clock.advanceTo(T0 + 1000);
      assert.equal(settled, false, 'start() must wait for a certificate');
      await clock.advanceTo(T0 + 3000);
      assert.equal((await started).name, 'cert-3');
      assert.equal(settled, true);
      assert.deepEqual(ca.calls, [T0, T0 + 1000, T0 + 3000]);
      rotator.stop();
    });

    it('current() returns undefined once the certificate has expired', async () => {
      const clock = new FakeClock(T0);
      // A 1 h certificate and a CA that never answers again.
      const ca = new FakeCa(clock, ['ok', ...Array<'fail'>(200).fill('fail')], HOUR);
      const rotator = new CertRotator({ fetch: ca.fetch, clock, random: () => 0.5 });
      const first = await rotator.start();
      await clock.advanceTo(first.notAfter.getTime() - 1);
      assert.equal(rotator.current(), first, 'still valid one millisecond before notAfter');
      assert.ok(rotator.failures() > 0);
      await clock.advanceTo(first.notAfter.getTime());
      assert.equal(rotator.current(), undefined);
      rotator.stop();
    });

    it('stop() cancels the schedule', async () => {
      const clock = new FakeClock(T0);
      const ca = new FakeCa(clock, ['ok']);
      const rotator = new CertRotator({ fetch: ca.fetch, clock });
      const first = await rotator.start();
      assert.equal(clock.pending().length, 1);
      rotator.stop();
      assert.deepEqual(clock.pending(), []);
      assert.equal(rotator.nextAttemptAt(), undefined);
      await clock.advanceTo(first.notAfter.getTime() + HOUR);
      assert.deepEqual(ca.calls, [T0], 'no fetch after stop()');
    });

    it('stop() during an in-flight fetch rejects start() and ignores the late answer', async () => {
      const clock = new FakeClock(T0);
      let answer: ((c: FakeCert) => void) | undefined;
      const updates: FakeCert[] = [];
      const rotator = new CertRotator<FakeCert>({
        fetch: () => new Promise<FakeCert>((resolve) => (answer = resolve)),
        clock,
        onUpdate: (c) => updates.push(c),
      });
      const started = rotator.start();
      rotator.stop();
      await assert.rejects(started, /stopped before a certificate was obtained/);
      assert.ok(answer !== undefined);
      answer(cert('late', T0));
      await settle();
      assert.deepEqual(updates, []);
      assert.equal(rotator.current(), undefined);
      assert.deepEqual(clock.pending(), []);
    });

    it('a certificate whose half life has already passed is refreshed at half its remaining life, not in a loop', async () => {
      // Regression: the CA's clock 13 h behind ours (or a CA certificate that expires within
      // the 5 min backdate) put refreshAt in the past, so every answer was fetched again at once.
      const clock = new FakeClock(T0);
      const calls: number[] = [];
      const skewed = (): FakeCert => {
        calls.push(clock.now());
        return cert(`cert-${calls.length}`, clock.now() - 13 * HOUR);
      };
      const rotator = new CertRotator({ fetch: () => Promise.resolve(skewed()), clock });
      const first = await rotator.start();
      const remaining = first.notAfter.getTime() - T0;
      assert.equal(rotator.nextAttemptAt(), T0 + remaining / 2);
      await clock.advanceTo(T0 + remaining / 2 - 1);
      assert.deepEqual(calls, [T0]);
      rotator.stop();
    });

    it('a certificate already expired when it arrives counts as a failure (backoff, no update)', async () => {
      const clock = new FakeClock(T0);
      const updates: FakeCert[] = [];
      let answer = cert('expired', T0 - 25 * HOUR);
      const rotator = new CertRotator<FakeCert>({
        fetch: () => Promise.resolve(answer),
        clock,
        onUpdate: (c) => updates.push(c),
        random: () => 0.5,
      });
      const started = rotator.start();
      await settle();
      assert.equal(rotator.failures(), 1);
      assert.equal(rotator.current(), undefined);
      assert.deepEqual(updates, []);
      assert.equal(rotator.nextAttemptAt(), T0 + 1000);
      answer = cert('fresh', T0 + 1000);
      await clock.advanceTo(T0 + 1000);
      assert.equal((await started).name, 'fresh');
      rotator.stop();
    });
  });

  describe('systemClock', () => {
    it('does not fire a timer longer than 2^31-1 ms at once (Node clamps it to 1 ms)', async () => {
      let fired = false;
      const handle = systemClock.setTimeout(() => (fired = true), 2 ** 31);
      await new Promise((resolve) => setTimeout(resolve, 30));
      systemClock.clearTimeout(handle);
      assert.equal(fired, false);
    });

    it('a rotator on the real clock does not refetch a 60 day certificate in a loop', async () => {
      let calls = 0;
      const rotator = new CertRotator<FakeCert>({
        fetch: () => Promise.resolve(cert(`cert-${++calls}`, Date.now(), 60 * 24 * HOUR)),
      });
      await rotator.start();
      await new Promise((resolve) => setTimeout(resolve, 50));
      rotator.stop();
      assert.equal(calls, 1);
    });
  });
});
