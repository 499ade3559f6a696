// Controller expectations: pods a controller created or deleted are overlaid on the informer
// cache until the cache shows the write (or 30 s pass), so no pass creates or deletes twice.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { V1Pod } from '@kubernetes/client-node';

import { PodExpectations } from '../../../../lab/controllers/expectations.ts';

function pod(name: string, opts: { namespace?: string; deleting?: boolean } = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace: opts.namespace ?? 'demo',
      ...(opts.deleting === true ? { deletionTimestamp: new Date('2024-05-01T00:00:00Z') } : {}),
    },
  };
}

function names(pods: readonly V1Pod[]): string[] {
  return pods.map((p) => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`).sort();
}

describe('lab/controllers/expectations PodExpectations', () => {
  const realNow = Date.now;
  let now = 1_000_000;
  beforeEach(() => {
    now = 1_000_000;
    Date.now = () => now;
  });
  afterEach(() => {
    Date.now = realNow;
  });

  it('passes the cache through when nothing is expected', () => {
    const e = new PodExpectations();
    const cached = [pod('a'), pod('b')];
    assert.deepEqual(e.overlay(cached), cached);
  });

  it('shows a created pod before the cache has it', () => {
    const e = new PodExpectations();
    e.created(pod('new'));
    assert.deepEqual(names(e.overlay([pod('a')])), ['demo/a', 'demo/new']);
  });

  it('shows a created pod once only when the cache catches up, and forgets it', () => {
    const e = new PodExpectations();
    const created = pod('new');
    e.created(created);
    const cached = pod('new');
    const got = e.overlay([pod('a'), cached]);
    assert.deepEqual(names(got), ['demo/a', 'demo/new']);
    assert.ok(got.includes(cached), 'the cached copy wins over the expectation');
    // Forgotten: a later deletion observed by the cache is not undone by a stale expectation.
    assert.deepEqual(names(e.overlay([pod('a')])), ['demo/a']);
  });

  it('tells pods of different namespaces apart', () => {
    const e = new PodExpectations();
    e.created(pod('x', { namespace: 'one' }));
    assert.deepEqual(names(e.overlay([pod('x', { namespace: 'two' })])), ['one/x', 'two/x']);
  });

  it('forgets a created pod the cache never shows after 30 s', () => {
    const e = new PodExpectations();
    e.created(pod('lost'));
    now += 30_000;
    assert.deepEqual(names(e.overlay([])), ['demo/lost']);
    now += 1;
    assert.deepEqual(names(e.overlay([])), []);
  });

  it('hides a deleted pod the cache still shows as live', () => {
    const e = new PodExpectations();
    e.deleted(pod('old'));
    assert.deepEqual(names(e.overlay([pod('a'), pod('old')])), ['demo/a']);
    assert.deepEqual(names(e.overlay([pod('a'), pod('old')])), ['demo/a']);
  });

  it('stops hiding a deleted pod once the cache shows it terminating', () => {
    const e = new PodExpectations();
    e.deleted(pod('old'));
    const terminating = pod('old', { deleting: true });
    assert.deepEqual(e.overlay([terminating]), [terminating]);
    // The expectation is gone: a live pod of the same name (re-created) is shown again.
    assert.deepEqual(names(e.overlay([pod('old')])), ['demo/old']);
  });

  it('stops hiding a deleted pod once the cache no longer has it', () => {
    const e = new PodExpectations();
    e.deleted(pod('old'));
    assert.deepEqual(e.overlay([]), []);
    assert.deepEqual(names(e.overlay([pod('old')])), ['demo/old']);
  });

  it('shows a deleted pod again after 30 s without the cache catching up', () => {
    const e = new PodExpectations();
    e.deleted(pod('old'));
    now += 30_000;
    assert.deepEqual(names(e.overlay([pod('old')])), []);
    now += 1;
    assert.deepEqual(names(e.overlay([pod('old')])), ['demo/old']);
  });

  it('tracks creations and deletions together', () => {
    const e = new PodExpectations();
    e.created(pod('n1'));
    e.created(pod('n2'));
    e.deleted(pod('o1'));
    assert.deepEqual(names(e.overlay([pod('o1'), pod('o2'), pod('n1')])), ['demo/n1', 'demo/n2', 'demo/o2']);
  });
});
