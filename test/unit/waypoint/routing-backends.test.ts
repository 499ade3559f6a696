/**
 * waypoint/routing backend choice: weights over a fixed random sequence, weight 0, all weights 0,
 * no backends, invalid backends' share; plus a decide() micro-benchmark (printed, not asserted).
 */
import assert from 'node:assert/strict';
import type { InvalidBackend, ResolvedBackend, RouteEntry } from '../../../common/ir/routes.ts';
import { compileRouter } from '../../../waypoint/routing/index.ts';
import type { RouteDecision } from '../../../waypoint/routing/types.ts';
import {
  backend,
  broken,
  entry,
  http,
  noRandom,
  req,
  sequence,
  snapshot,
  table,
  target,
} from '../../golden/waypoint-routing/fixtures.ts';

function picks(backends: (ResolvedBackend | InvalidBackend)[], draws: number[]): string[] {
  const router = compileRouter(snapshot(table([entry('w', { backends })])));
  const random = sequence(...draws);
  const out = draws.map(() => label(router.decide(target(), req('/'), random)));
  assert.equal(random.used(), draws.length);
  return out;
}

function label(d: RouteDecision): string {
  if (d.kind === 'forward') return d.backend.service;
  if (d.kind === 'invalid-backend') return `invalid:${d.backend.reason}`;
  return d.kind;
}

describe('waypoint/routing weighted backends', () => {
  it('splits by cumulative weight over the draws', () =>
    assert.deepEqual(picks([backend('a', 1), backend('b', 3)], [0, 0.24, 0.25, 0.99]), [
      'shop/a',
      'shop/a',
      'shop/b',
      'shop/b',
    ]));

  it('never picks a weight-0 backend', () =>
    assert.deepEqual(picks([backend('zero', 0), backend('a', 1), backend('b', 1)], [0, 0.49, 0.5, 0.999]), [
      'shop/a',
      'shop/a',
      'shop/b',
      'shop/b',
    ]));

  it('gives invalid backends their share (500 by weight)', () =>
    assert.deepEqual(picks([backend('a', 3), broken(1)], [0.1, 0.74, 0.75, 0.9]), [
      'shop/a',
      'shop/a',
      'invalid:service shop/gone not found',
      'invalid:service shop/gone not found',
    ]));

  it('tolerates a random source returning 1', () =>
    assert.deepEqual(picks([backend('a'), backend('b')], [1]), ['shop/b']));

  it('does not draw with a single positive weight', () => {
    const router = compileRouter(
      snapshot(table([entry('w', { backends: [backend('zero', 0), backend('only', 5)] })])),
    );
    assert.equal(label(router.decide(target(), req('/'), noRandom)), 'shop/only');
  });

  it('answers invalid-backend when every weight is 0', () => {
    const router = compileRouter(snapshot(table([entry('w', { backends: [backend('a', 0), broken(0)] })])));
    const d = router.decide(target(), req('/'), noRandom);
    assert.ok(d.kind === 'invalid-backend');
    assert.deepEqual(d.backend, { kind: 'invalid', weight: 0, reason: 'all backends have weight 0' });
    assert.equal(d.entry.rule, 'w');
  });

  it('answers invalid-backend for a rule without backendRefs or redirect', () => {
    const router = compileRouter(snapshot(table([entry('w', { backends: [] })])));
    assert.equal(label(router.decide(target(), req('/'), noRandom)), 'invalid:the rule has no backendRefs');
  });

  it('answers invalid-backend when the only backend is invalid', () => {
    const router = compileRouter(snapshot(table([entry('w', { backends: [broken(1, 'not permitted')] })])));
    assert.equal(label(router.decide(target(), req('/'), noRandom)), 'invalid:not permitted');
  });

  it('answers with a backend-level RequestRedirect when that backend is chosen', () => {
    const b = backend('a', 1, [{ type: 'RequestRedirect', statusCode: 307, hostname: 'moved.example' }]);
    const router = compileRouter(snapshot(table([entry('w', { backends: [b] })])));
    const d = router.decide(target(), req('/x'), noRandom);
    assert.ok(d.kind === 'redirect');
    assert.equal(d.status, 307);
    assert.equal(d.location, 'http://moved.example:8080/x');
  });
});

describe('waypoint/routing decide() micro-benchmark', () => {
  it('prints ns/op for a 50-entry table (not asserted)', () => {
    const entries: RouteEntry[] = [];
    for (let i = 0; i < 49; i++)
      entries.push(
        entry(String(i), {
          match: http({
            path: { type: i % 3 === 0 ? 'Exact' : 'PathPrefix', value: `/svc${i}/api` },
            headers: i % 5 === 0 ? [{ name: 'x-version', type: 'Exact', value: `v${i}` }] : [],
            queryParams: i % 7 === 0 ? [{ name: 'tenant', type: 'RegularExpression', value: 't[0-9]+' }] : [],
          }),
          backends: [backend('a', 1), backend('b', 1)],
        }),
      );
    entries.push(
      entry('last', {
        filters: [{ type: 'RequestHeaderModifier', set: [{ name: 'x', value: '1' }], add: [], remove: [] }],
      }),
    );
    const router = compileRouter(snapshot(table(entries)));
    const request = req('/not/listed?tenant=t1', { headers: { 'x-version': 'v0' } });
    const t = target();
    let seed = 1;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const n = 200_000;
    for (let i = 0; i < 20_000; i++) router.decide(t, request, random);
    const start = process.hrtime.bigint();
    let last: RouteDecision = { kind: 'no-match' };
    for (let i = 0; i < n; i++) last = router.decide(t, request, random);
    const ns = Number(process.hrtime.bigint() - start) / n;
    assert.equal(label(last), 'shop/v1', 'the request falls through 49 entries to the catch-all');
    console.log(`      decide(): ${ns.toFixed(0)} ns/op over 50 entries (last entry matches)`);
  });
});
