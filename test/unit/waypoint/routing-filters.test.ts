/**
 * waypoint/routing filters: redirect Location building (scheme/port rules, prefix replacement),
 * URL rewrites, header edit order, per-backend filters and mirror fractions.
 */
import assert from 'node:assert/strict';
import type { HeaderEdits, PathModifier, RouteFilter, RouteEntry } from '../../../common/ir/routes.ts';
import { compileRouter } from '../../../waypoint/routing/index.ts';
import type { RouteDecision, RouteRequest, RouteTarget } from '../../../waypoint/routing/types.ts';
import {
  PORT,
  SVC,
  backend,
  entry,
  http,
  noRandom,
  req,
  sequence,
  snapshot,
  table,
  target,
} from '../../golden/waypoint-routing/fixtures.ts';

type Redirect = Extract<RouteFilter, { type: 'RequestRedirect' }>;

function decide(e: RouteEntry, r: RouteRequest, t: RouteTarget = target()): RouteDecision {
  const router = compileRouter(snapshot(table([e], { port: t.port })));
  assert.deepEqual(router.errors, []);
  return router.decide(t, r, noRandom);
}

function location(
  f: Omit<Redirect, 'type' | 'statusCode'>,
  r: RouteRequest,
  prefix = '/',
  port = PORT,
): string {
  const e = entry('redir', {
    match: http({ path: { type: 'PathPrefix', value: prefix } }),
    filters: [{ type: 'RequestRedirect', statusCode: 302, ...f }],
    backends: [],
  });
  const d = decide(e, r, { service: SVC, port, sourceNamespace: 'shop' });
  assert.equal(d.kind, 'redirect');
  return d.kind === 'redirect' ? d.location : '';
}

function rewritten(path: PathModifier, url: string, prefix: string): string {
  const e = entry('rw', {
    match: http({ path: { type: 'PathPrefix', value: prefix } }),
    filters: [{ type: 'URLRewrite', path }],
  });
  const d = decide(e, req(url));
  assert.equal(d.kind, 'forward');
  return d.kind === 'forward' ? d.request.pathAndQuery : '';
}

const edits = (name: string, value = 'v'): HeaderEdits => ({ set: [{ name, value }], add: [], remove: [] });

describe('waypoint/routing redirect Location', () => {
  const cases: [string, Omit<Redirect, 'type' | 'statusCode'>, RouteRequest, string, number?][] = [
    [
      'defaults: request scheme, host, Service port; query kept',
      {},
      req('/a?x=1'),
      'http://reviews.shop:8080/a?x=1',
    ],
    [
      'default port 80 on a port-80 Service is omitted',
      {},
      req('/a', { authority: 'reviews' }),
      'http://reviews/a',
      80,
    ],
    ['scheme https: well-known port, omitted', { scheme: 'https' }, req('/a'), 'https://reviews.shop/a'],
    ['scheme http set explicitly: port 80, omitted', { scheme: 'http' }, req('/a'), 'http://reviews.shop/a'],
    [
      'scheme https with port 8443',
      { scheme: 'https', port: 8443 },
      req('/a'),
      'https://reviews.shop:8443/a',
    ],
    [
      'scheme https with port 443 omitted',
      { scheme: 'https', port: 443 },
      req('/a'),
      'https://reviews.shop/a',
    ],
    ['scheme https with port 80 kept', { scheme: 'https', port: 80 }, req('/a'), 'https://reviews.shop:80/a'],
    ['port 80 without scheme omitted', { port: 80 }, req('/a'), 'http://reviews.shop/a'],
    ['port 443 without scheme kept', { port: 443 }, req('/a'), 'http://reviews.shop:443/a'],
    ['hostname replaces the host', { hostname: 'example.com' }, req('/a'), 'http://example.com:8080/a'],
    [
      'hostname and scheme (constant head)',
      { hostname: 'example.com', scheme: 'https' },
      req('/a?q'),
      'https://example.com/a?q',
    ],
    [
      'IPv6 authority keeps brackets',
      {},
      req('/a', { authority: '[fd00::1]:8080' }),
      'http://[fd00::1]:8080/a',
    ],
    [
      'no authority: the Service DNS name',
      {},
      req('/a', { authority: '' }),
      'http://reviews.shop.svc:8080/a',
    ],
    [
      'ReplaceFullPath keeps the query',
      { path: { type: 'ReplaceFullPath', value: '/new' } },
      req('/a/b?x=1'),
      'http://reviews.shop:8080/new?x=1',
    ],
  ];
  for (const [name, f, r, want, port] of cases) it(name, () => assert.equal(location(f, r, '/', port), want));

  it('ReplacePrefixMatch with segment semantics', () => {
    const f = { path: { type: 'ReplacePrefixMatch', value: '/baz' } } as const;
    assert.equal(location(f, req('/foo/bar?x'), '/foo'), 'http://reviews.shop:8080/baz/bar?x');
    assert.equal(
      location({ path: { type: 'ReplacePrefixMatch', value: '/' } }, req('/foo/bar'), '/foo'),
      'http://reviews.shop:8080/bar',
    );
  });

  it('carries the status code and the rule response edits', () => {
    const e = entry('redir', {
      filters: [
        { type: 'RequestRedirect', statusCode: 301, scheme: 'https' },
        { type: 'ResponseHeaderModifier', ...edits('x-redirected') },
      ],
      backends: [],
    });
    const d = decide(e, req('/a'));
    assert.ok(d.kind === 'redirect');
    assert.equal(d.status, 301);
    assert.equal(d.entry, e);
    assert.deepEqual(d.responseEdits, [edits('x-redirected')]);
  });
});

describe('waypoint/routing ReplacePrefixMatch (Gateway API HTTPPathModifier table)', () => {
  const cases: [string, string, string, string][] = [
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'],
    ['/foo', '/foo', '/xyz', '/xyz'],
    ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'],
    ['/foo/', '/foo', '', '/'],
    ['/foo', '/foo', '', '/'],
    ['/foo/', '/foo', '/', '/'],
    ['/foo', '/foo', '/', '/'],
    ['/foo/bar', '/', '/baz', '/baz/foo/bar'],
    ['/', '/', '/baz', '/baz/'],
    ['/foo/bar?x=1', '/foo', '/baz', '/baz/bar?x=1'],
  ];
  for (const [url, prefix, replace, want] of cases)
    it(`${url} − ${prefix} + ${JSON.stringify(replace)} → ${want}`, () =>
      assert.equal(rewritten({ type: 'ReplacePrefixMatch', value: replace }, url, prefix), want));

  it('drops and reports ReplacePrefixMatch on an entry without a PathPrefix match', () => {
    const router = compileRouter(
      snapshot(
        table([
          entry('exact', {
            match: http({ path: { type: 'Exact', value: '/a' } }),
            filters: [{ type: 'URLRewrite', path: { type: 'ReplacePrefixMatch', value: '/b' } }],
          }),
          entry('fallback'),
        ]),
      ),
    );
    assert.equal(router.errors.length, 1);
    assert.equal(router.errors[0]?.error.code, 'ROUTE_PREFIX_REWRITE_WITHOUT_PREFIX');
    const d = router.decide(target(), req('/a'), noRandom);
    assert.ok(d.kind === 'forward');
    assert.equal(d.entry.rule, 'fallback');
  });
});

describe('waypoint/routing URLRewrite and header edits', () => {
  it('leaves the request unchanged without filters', () => {
    const d = decide(entry('plain'), req('/a/b?x=1'));
    assert.ok(d.kind === 'forward');
    assert.deepEqual(d.request, {
      pathAndQuery: '/a/b?x=1',
      authority: 'reviews.shop:8080',
      headerEdits: [],
    });
    assert.deepEqual(d.responseEdits, []);
    assert.deepEqual(d.mirrors, []);
  });

  it('rewrites hostname and full path, keeping the query', () => {
    const d = decide(
      entry('rw', {
        filters: [
          { type: 'URLRewrite', hostname: 'api.internal', path: { type: 'ReplaceFullPath', value: '/v2' } },
        ],
      }),
      req('/v1/items?page=2'),
    );
    assert.ok(d.kind === 'forward');
    assert.equal(d.request.authority, 'api.internal');
    assert.equal(d.request.pathAndQuery, '/v2?page=2');
  });

  it('orders edits rule first, then the backend; a backend URLRewrite overrides field by field', () => {
    const e = entry('edits', {
      match: http({ path: { type: 'PathPrefix', value: '/api' } }),
      filters: [
        { type: 'RequestHeaderModifier', ...edits('x-rule') },
        { type: 'ResponseHeaderModifier', ...edits('x-rule-resp') },
        { type: 'URLRewrite', hostname: 'rule.host', path: { type: 'ReplacePrefixMatch', value: '/rule' } },
      ],
      backends: [
        backend('v1', 1, [
          { type: 'RequestHeaderModifier', ...edits('x-backend') },
          { type: 'ResponseHeaderModifier', ...edits('x-backend-resp') },
          { type: 'URLRewrite', path: { type: 'ReplacePrefixMatch', value: '/be' } },
        ]),
      ],
    });
    const d = decide(e, req('/api/x'));
    assert.ok(d.kind === 'forward');
    assert.deepEqual(d.request.headerEdits, [edits('x-rule'), edits('x-backend')]);
    assert.deepEqual(d.responseEdits, [edits('x-rule-resp'), edits('x-backend-resp')]);
    assert.equal(d.request.authority, 'rule.host');
    assert.equal(d.request.pathAndQuery, '/be/x');
  });

  it('writes header values beyond ASCII as their UTF-8 bytes (the engine holds values as bytes)', () => {
    const e = entry('utf8', {
      filters: [
        { type: 'RequestHeaderModifier', set: [{ name: 'x-user', value: 'José €' }], add: [], remove: [] },
        { type: 'ResponseHeaderModifier', ...edits('x-plain', 'ascii') },
      ],
    });
    const d = decide(e, req('/'));
    assert.ok(d.kind === 'forward');
    const value = d.request.headerEdits[0]?.set[0]?.value ?? '';
    assert.deepEqual(Buffer.from(value, 'latin1'), Buffer.from('José €', 'utf8'));
    assert.deepEqual(d.responseEdits, [edits('x-plain', 'ascii')]);
  });

  it('passes timeouts and retry from the entry', () => {
    const retry = { attempts: 2, codes: [503], backoffMs: 25 };
    const d = decide(entry('t', { timeouts: { requestMs: 500, backendRequestMs: 200 }, retry }), req('/'));
    assert.ok(d.kind === 'forward');
    assert.deepEqual(d.timeouts, { requestMs: 500, backendRequestMs: 200 });
    assert.deepEqual(d.retry, retry);
  });
});

describe('waypoint/routing mirrors', () => {
  const mirror = (name: string, fraction: number): RouteFilter => ({
    type: 'RequestMirror',
    backend: backend(name),
    fraction,
  });

  function mirrorsOf(filters: RouteFilter[], draws: number[], backendFilters: RouteFilter[] = []): string[] {
    const router = compileRouter(
      snapshot(table([entry('m', { filters, backends: [backend('v1', 1, backendFilters)] })])),
    );
    const random = sequence(...draws);
    const d = router.decide(target(), req('/p?q=1'), random);
    assert.ok(d.kind === 'forward');
    assert.equal(random.used(), draws.length, 'every queued draw is used, no more');
    for (const m of d.mirrors)
      assert.equal(m.request, d.request, 'a mirror sends the rewritten main request');
    return d.mirrors.map((m) => m.backend.service);
  }

  it('always mirrors fraction 1 without drawing', () =>
    assert.deepEqual(mirrorsOf([mirror('shadow', 1)], []), ['shop/shadow']));
  it('never mirrors fraction 0 and does not draw', () =>
    assert.deepEqual(mirrorsOf([mirror('shadow', 0)], []), []));
  it('mirrors a fraction when the draw is below it', () =>
    assert.deepEqual(mirrorsOf([mirror('shadow', 0.25)], [0.2]), ['shop/shadow']));
  it('skips a fraction when the draw is at or above it', () =>
    assert.deepEqual(mirrorsOf([mirror('shadow', 0.25)], [0.25]), []));
  it('draws once per fractional mirror, rule mirrors before backend mirrors', () =>
    assert.deepEqual(
      mirrorsOf([mirror('a', 0.5), mirror('b', 1), mirror('c', 0.5)], [0.9, 0.1, 0.3], [mirror('d', 0.5)]),
      ['shop/b', 'shop/c', 'shop/d'],
    ));
  it('applies the rewrite to the mirrored request', () => {
    const router = compileRouter(
      snapshot(
        table([entry('m', { filters: [{ type: 'URLRewrite', hostname: 'x' }, mirror('shadow', 1)] })]),
      ),
    );
    const d = router.decide(target(), req('/p'), noRandom);
    assert.ok(d.kind === 'forward');
    assert.equal(d.mirrors[0]?.request.authority, 'x');
  });
});
