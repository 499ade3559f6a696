import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'mocha';
import {
  CertificateAuthority,
  certFromPem,
  createCsr,
  generateKey,
  generateRoot,
  loadCaMaterial,
  refreshAt,
  rootCaFiles,
  verifyPeerChain,
  type Clock,
} from '../../../certs/index.ts';
import { isMeshError } from '../../../common/errors.ts';
import { Registry } from '../../../common/metrics/index.ts';
import { formatSpiffeId } from '../../../common/spiffe.ts';
import { IdentityManager, type CertificateSource } from '../../../node-agent/identity/index.ts';

const TD = 'cluster.local';
const WEB = `spiffe://${TD}/ns/default/sa/web`;
const API = `spiffe://${TD}/ns/default/sa/api`;
const T0 = Date.parse('2026-03-01T12:00:00Z');
const SEC = 1000;
const HOUR = 3600 * SEC;
const TTL_SECONDS = 3600;

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

  /** Due times of pending timers relative to now, sorted. */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** Moves time to `t`, firing due timers in order and letting their promises settle. */
  async advanceTo(t: number): Promise<void> {
    for (;;) {
      const due = [...this.#timers.entries()]
        .filter(([, x]) => x.at <= t)
        .sort(([, a], [, b]) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].fn();
      await settle();
    }
    this.#now = Math.max(this.#now, t);
    await settle();
  }

  advanceBy(ms: number): Promise<void> {
    return this.advanceTo(this.#now + ms);
  }
}

/** A CSR for `id` with a key the manager does not hold. */
function createOtherCsr(id: string): string {
  return createCsr(generateKey(), id);
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A CertificateSource backed by a real in-process CA whose clock is the fake clock. */
class InMemorySource implements CertificateSource {
  readonly ca: CertificateAuthority;
  readonly calls: string[] = [];
  failWith: Error | undefined;
  /** When set, answers wait until `release()`. */
  gate: Promise<void> | undefined;
  /** Rewrites the chain before answering (to test bad CA answers). */
  tamper: ((chain: string[]) => string[]) | undefined;

  constructor(clock: Clock) {
    const root = generateRoot({ trustDomain: TD, now: new Date(T0 - HOUR) });
    this.ca = new CertificateAuthority(loadCaMaterial(rootCaFiles(root), new Date(T0)), {
      trustDomain: TD,
      defaultTtlSeconds: TTL_SECONDS,
      now: () => new Date(clock.now()),
    });
  }

  async sign(csrPem: string, spiffeId: string): Promise<string[]> {
    this.calls.push(spiffeId);
    if (this.gate !== undefined) await this.gate;
    if (this.failWith !== undefined) throw this.failWith;
    const chain = [...this.ca.issue(csrPem).certChainPem];
    return this.tamper === undefined ? chain : this.tamper(chain);
  }
}

describe('node-agent/identity IdentityManager', () => {
  let clock: FakeClock;
  let source: InMemorySource;
  let registry: Registry;
  let manager: IdentityManager;

  beforeEach(() => {
    clock = new FakeClock(T0);
    source = new InMemorySource(clock);
    registry = new Registry();
    manager = new IdentityManager({ trustDomain: TD, source, registry, clock, random: () => 0.5 });
  });
  afterEach(() => manager.stop());

  it('issues a real certificate for the id, with the CA root as the trust bundle', async () => {
    const id = await manager.ensure(WEB);
    assert.equal(id.spiffeId, WEB);
    assert.equal(id.certChainPem.length, 1, 'the root is not sent to peers');
    const leaf = certFromPem(id.certChainPem[0] ?? '', 'leaf');
    assert.deepEqual(leaf.uris, [WEB]);
    assert.ok(leaf.spki.equals(createPublicKey(id.keyPem).export({ type: 'spki', format: 'der' })));
    assert.equal(id.bundle.toPem(), source.ca.rootsPem());
    assert.equal(manager.bundle()?.toPem(), source.ca.rootsPem());
    const peer = verifyPeerChain([leaf.der], id.bundle, 'client', new Date(clock.now()));
    assert.equal(formatSpiffeId(peer), WEB);
    assert.equal(manager.get(WEB), id);
    assert.equal(id.notAfter.getTime(), T0 + TTL_SECONDS * SEC);
  });

  it('exports waymesh_cert_expiry_timestamp_seconds{principal}', async () => {
    const id = await manager.ensure(WEB);
    assert.match(
      registry.render(),
      new RegExp(
        `^waymesh_cert_expiry_timestamp_seconds\\{principal="${WEB}"\\} ${id.notAfter.getTime() / 1000}$`,
        'm',
      ),
    );
  });

  it('refreshes at half life and notifies listeners', async () => {
    const changed: string[] = [];
    manager.onChange((s) => changed.push(s));
    const first = await manager.ensure(WEB);
    assert.deepEqual(changed, [WEB]);
    const half = refreshAt(first).getTime();
    await clock.advanceTo(half - 1);
    assert.equal(source.calls.length, 1, 'no refresh before half life');
    await clock.advanceTo(half);
    assert.equal(source.calls.length, 2);
    const second = manager.get(WEB);
    assert.ok(second !== undefined && second.serial !== first.serial);
    assert.equal(second.notAfter.getTime(), half + TTL_SECONDS * SEC);
    assert.deepEqual(changed, [WEB, WEB]);
    assert.match(registry.render(), new RegExp(` ${second.notAfter.getTime() / 1000}$`, 'm'));
  });

  it('keeps the old certificate while refreshes fail, until it expires; recovers afterwards', async () => {
    const first = await manager.ensure(WEB);
    source.failWith = new Error('CA unavailable');
    await clock.advanceTo(refreshAt(first).getTime() + 10 * 60 * SEC);
    assert.ok(source.calls.length > 2, 'retried');
    assert.equal(manager.get(WEB), first, 'the still-valid certificate is kept');
    const [status] = manager.status();
    assert.equal(status?.state, 'valid');
    assert.match(status?.lastError ?? '', /CA unavailable/);
    assert.ok((status?.failures ?? 0) > 1);
    assert.equal('keyPem' in (status ?? {}), false, 'status carries no key');

    await clock.advanceTo(first.notAfter.getTime());
    assert.equal(manager.get(WEB), undefined, 'an expired certificate is never handed out');
    assert.equal(manager.status()[0]?.state, 'expired');

    source.failWith = undefined;
    const pending = manager.ensure(WEB);
    await clock.advanceBy(200 * SEC);
    const renewed = await pending;
    assert.notEqual(renewed.serial, first.serial);
    assert.equal(manager.get(WEB), renewed);
  });

  it('backs off 1 s, 2 s, 4 s … up to the cap between failed attempts', async () => {
    manager.stop();
    manager = new IdentityManager({
      trustDomain: TD,
      source,
      registry,
      clock,
      random: () => 0.5,
      maxBackoffMs: 10_000,
    });
    source.failWith = new Error('refused');
    manager.prefetch(WEB);
    await settle();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const [next] = clock.pending();
      assert.ok(next !== undefined);
      delays.push(next);
      await clock.advanceBy(next);
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 10_000, 10_000]);
    assert.equal(source.calls.length, 7);
  });

  it('concurrent ensure/prefetch/wait calls for one id share one request', async () => {
    let release: () => void = () => undefined;
    source.gate = new Promise((resolve) => (release = resolve));
    const waits = [manager.ensure(WEB), manager.ensure(WEB), manager.wait(WEB, 60_000)];
    manager.prefetch(WEB);
    await settle();
    assert.deepEqual(source.calls, [WEB]);
    release();
    const ids = await Promise.all(waits);
    assert.ok(ids.every((i) => i === ids[0]));
    assert.deepEqual(source.calls, [WEB], 'still one request');
  });

  it('forget stops refreshing, drops the metric and rejects pending waits', async () => {
    const first = await manager.ensure(WEB);
    await manager.ensure(API);
    manager.forget(WEB);
    assert.equal(manager.get(WEB), undefined);
    assert.doesNotMatch(registry.render(), /sa\/web/);
    assert.match(registry.render(), /sa\/api/);
    const calls = source.calls.filter((c) => c === WEB).length;
    await clock.advanceTo(first.notAfter.getTime() + HOUR);
    assert.equal(source.calls.filter((c) => c === WEB).length, calls, 'no refresh after forget');

    source.failWith = new Error('down');
    const waiting = manager.ensure(WEB);
    await settle();
    manager.forget(WEB);
    await assert.rejects(waiting, (err: unknown) => isMeshError(err, 'IDENTITY_FORGOTTEN'));
  });

  it('wait() times out with the last failure in the message', async () => {
    source.failWith = new Error('PERMISSION_DENIED: not on this node');
    const waiting = manager.wait(WEB, 5000);
    await settle(); // the first attempt fails before time moves
    const check = assert.rejects(waiting, (err: unknown) => {
      assert.ok(isMeshError(err, 'IDENTITY_TIMEOUT'), String(err));
      assert.match(err.message, /after 5000 ms; last failure: PERMISSION_DENIED: not on this node/);
      return true;
    });
    await clock.advanceBy(5000);
    await check;
  });

  it('after stop() nothing is fetched and requests fail with IDENTITY_STOPPED', async () => {
    await manager.ensure(WEB);
    manager.stop();
    assert.equal(manager.get(WEB), undefined);
    assert.deepEqual(clock.pending(), [], 'no refresh scheduled');
    await assert.rejects(manager.ensure(API), (e: unknown) => isMeshError(e, 'IDENTITY_STOPPED'));
    assert.deepEqual(source.calls, [WEB]);
  });

  it('refuses ids outside the trust domain or of the wrong shape', async () => {
    await assert.rejects(manager.ensure('spiffe://other.td/ns/a/sa/b'), (e: unknown) =>
      isMeshError(e, 'IDENTITY_INVALID'),
    );
    await assert.rejects(manager.ensure('spiffe://cluster.local/x'), (e: unknown) =>
      isMeshError(e, 'SPIFFE_ID_INVALID'),
    );
    assert.throws(
      () => manager.prefetch('not-an-id'),
      (e: unknown) => isMeshError(e, 'SPIFFE_ID_INVALID'),
    );
    assert.equal(source.calls.length, 0);
  });

  it('rejects a CA answer for another identity or another key, and retries', async () => {
    const other = new InMemorySource(clock);
    source.tamper = () => [...other.ca.issue(createOtherCsr(API)).certChainPem];
    manager.prefetch(WEB);
    await settle();
    assert.match(
      manager.status()[0]?.lastError ?? '',
      /IDENTITY_BAD_CERTIFICATE: .*certificate for spiffe:\/\/cluster.local\/ns\/default\/sa\/api/,
    );
    source.tamper = () => [...other.ca.issue(createOtherCsr(WEB)).certChainPem];
    await clock.advanceBy(1000);
    assert.match(manager.status()[0]?.lastError ?? '', /a different key/);
    source.tamper = undefined;
    await clock.advanceBy(2000);
    assert.ok(manager.get(WEB) !== undefined);
  });

  it('without a root in the answer it needs configured roots; updateRoots rebuilds every identity', async () => {
    source.tamper = (chain) => chain.slice(0, 1);
    manager.prefetch(WEB);
    await settle();
    assert.match(manager.status()[0]?.lastError ?? '', /IDENTITY_NO_TRUST_BUNDLE/);
    manager.updateRoots([source.ca.rootsPem()]);
    await clock.advanceBy(1000);
    const id = manager.get(WEB);
    assert.ok(id !== undefined);
    assert.equal(id.bundle.roots.length, 1);

    const changed: string[] = [];
    manager.onChange((s) => changed.push(s));
    const extra = new InMemorySource(clock).ca.rootsPem();
    manager.updateRoots([source.ca.rootsPem(), extra]);
    assert.deepEqual(changed, [WEB]);
    assert.equal(manager.get(WEB)?.bundle.roots.length, 2);
    assert.equal(manager.get(WEB)?.serial, id.serial, 'same certificate, new bundle');
    assert.throws(
      () => manager.updateRoots([]),
      (e: unknown) => isMeshError(e, 'BUNDLE_EMPTY'),
    );
  });
});
