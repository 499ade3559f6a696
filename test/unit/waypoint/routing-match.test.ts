/**
 * waypoint/routing matching: every match type, first-match precedence, consumer vs producer
 * tables, passthrough / no-match, gRPC service and method, and regexes that do not compile.
 */
import assert from 'node:assert/strict';
import type { GrpcMatch, HttpMatch, RouteEntry } from '../../../common/ir/routes.ts';
import { compileRouter } from '../../../waypoint/routing/index.ts';
import { parseQuery } from '../../../waypoint/routing/request-view.ts';
import type { RouteDecision, RouteRequest } from '../../../waypoint/routing/types.ts';
import {
  PORT,
  SVC,
  entry,
  grpc,
  http,
  noRandom,
  req,
  snapshot,
  table,
  target,
} from '../../golden/waypoint-routing/fixtures.ts';

function ruleOf(d: RouteDecision): string {
  return d.kind === 'forward' || d.kind === 'redirect' || d.kind === 'invalid-backend'
    ? d.entry.rule
    : d.kind;
}

/** Whether `m` alone matches `r`. */
function matches(m: HttpMatch | GrpcMatch, r: RouteRequest): boolean {
  const router = compileRouter(snapshot(table([entry('m', { match: m })])));
  assert.deepEqual(router.errors, []);
  return router.decide(target(), r, noRandom).kind === 'forward';
}

describe('waypoint/routing matches', () => {
  const cases: [string, HttpMatch | GrpcMatch, RouteRequest, boolean][] = [
    ['no path: every path', http(), req('/anything'), true],
    ['Exact equal', http({ path: { type: 'Exact', value: '/a' } }), req('/a'), true],
    ['Exact longer', http({ path: { type: 'Exact', value: '/a' } }), req('/a/'), false],
    ['Exact ignores query', http({ path: { type: 'Exact', value: '/a' } }), req('/a?x=1'), true],
    ['PathPrefix itself', http({ path: { type: 'PathPrefix', value: '/foo' } }), req('/foo'), true],
    ['PathPrefix trailing slash', http({ path: { type: 'PathPrefix', value: '/foo' } }), req('/foo/'), true],
    ['PathPrefix deeper', http({ path: { type: 'PathPrefix', value: '/foo' } }), req('/foo/bar'), true],
    [
      'PathPrefix not mid-segment',
      http({ path: { type: 'PathPrefix', value: '/foo' } }),
      req('/foobar'),
      false,
    ],
    ['PathPrefix other', http({ path: { type: 'PathPrefix', value: '/foo' } }), req('/bar/foo'), false],
    ['PathPrefix / matches all', http({ path: { type: 'PathPrefix', value: '/' } }), req('/x/y'), true],
    [
      'PathPrefix value slash ignored',
      http({ path: { type: 'PathPrefix', value: '/foo/' } }),
      req('/foo'),
      true,
    ],
    [
      'PathPrefix value slash, deeper',
      http({ path: { type: 'PathPrefix', value: '/foo/' } }),
      req('/foo/b'),
      true,
    ],
    [
      'PathPrefix value slash, not /foobar',
      http({ path: { type: 'PathPrefix', value: '/foo/' } }),
      req('/foobar'),
      false,
    ],
    ['regex full match', http({ path: { type: 'RegularExpression', value: '/v[0-9]+' } }), req('/v12'), true],
    [
      'regex is anchored (suffix)',
      http({ path: { type: 'RegularExpression', value: '/v[0-9]+' } }),
      req('/v12/x'),
      false,
    ],
    [
      'regex is anchored (prefix)',
      http({ path: { type: 'RegularExpression', value: '/v[0-9]+' } }),
      req('/a/v1'),
      false,
    ],
    [
      'regex alternation anchored as a whole',
      http({ path: { type: 'RegularExpression', value: '/a|/b' } }),
      req('/b/c'),
      false,
    ],
    ['method equal', http({ method: 'POST' }), req('/', { method: 'POST' }), true],
    ['method differs', http({ method: 'POST' }), req('/', { method: 'GET' }), false],
    [
      'header exact',
      http({ headers: [{ name: 'x-env', type: 'Exact', value: 'canary' }] }),
      req('/', { headers: { 'x-env': 'canary' } }),
      true,
    ],
    [
      'header value is case-sensitive',
      http({ headers: [{ name: 'x-env', type: 'Exact', value: 'canary' }] }),
      req('/', { headers: { 'x-env': 'Canary' } }),
      false,
    ],
    [
      'header absent',
      http({ headers: [{ name: 'x-env', type: 'Exact', value: 'canary' }] }),
      req('/'),
      false,
    ],
    [
      'header regex',
      http({ headers: [{ name: 'x-v', type: 'RegularExpression', value: 'v[12]' }] }),
      req('/', { headers: { 'x-v': 'v2' } }),
      true,
    ],
    [
      'header regex anchored',
      http({ headers: [{ name: 'x-v', type: 'RegularExpression', value: 'v[12]' }] }),
      req('/', { headers: { 'x-v': 'v21' } }),
      false,
    ],
    [
      'every header must match',
      http({
        headers: [
          { name: 'a', type: 'Exact', value: '1' },
          { name: 'b', type: 'Exact', value: '2' },
        ],
      }),
      req('/', { headers: { a: '1', b: '3' } }),
      false,
    ],
    [
      'query exact',
      http({ queryParams: [{ name: 'v', type: 'Exact', value: '2' }] }),
      req('/?a=1&v=2'),
      true,
    ],
    [
      'query first value wins',
      http({ queryParams: [{ name: 'v', type: 'Exact', value: '2' }] }),
      req('/?v=1&v=2'),
      false,
    ],
    [
      'query name case-sensitive',
      http({ queryParams: [{ name: 'v', type: 'Exact', value: '2' }] }),
      req('/?V=2'),
      false,
    ],
    [
      'query decoded',
      http({ queryParams: [{ name: 'q', type: 'Exact', value: 'a b' }] }),
      req('/?q=a%20b'),
      true,
    ],
    [
      'query regex',
      http({ queryParams: [{ name: 'id', type: 'RegularExpression', value: '\\d+' }] }),
      req('/?id=42'),
      true,
    ],
    [
      'query absent',
      http({ queryParams: [{ name: 'id', type: 'RegularExpression', value: '.*' }] }),
      req('/?x=1'),
      false,
    ],
    [
      'query empty value',
      http({ queryParams: [{ name: 'flag', type: 'Exact', value: '' }] }),
      req('/?flag'),
      true,
    ],
    ['gRPC any', grpc(), req('/pkg.Svc/Get', { method: 'POST' }), true],
    [
      'gRPC exact service',
      grpc({ method: { type: 'Exact', service: 'pkg.Svc' } }),
      req('/pkg.Svc/Get'),
      true,
    ],
    [
      'gRPC exact service differs',
      grpc({ method: { type: 'Exact', service: 'pkg.Svc' } }),
      req('/pkg.Other/Get'),
      false,
    ],
    ['gRPC exact method', grpc({ method: { type: 'Exact', method: 'Get' } }), req('/any.Svc/Get'), true],
    [
      'gRPC exact both',
      grpc({ method: { type: 'Exact', service: 'pkg.Svc', method: 'Get' } }),
      req('/pkg.Svc/List'),
      false,
    ],
    [
      'gRPC regex service',
      grpc({ method: { type: 'RegularExpression', service: 'pkg\\..*' } }),
      req('/pkg.Svc/Get'),
      true,
    ],
    [
      'gRPC regex anchored',
      grpc({ method: { type: 'RegularExpression', method: 'Get' } }),
      req('/pkg.Svc/GetAll'),
      false,
    ],
    [
      'gRPC regex method',
      grpc({ method: { type: 'RegularExpression', method: '(Get|List).*' } }),
      req('/p.S/ListAll'),
      true,
    ],
    [
      'gRPC path with extra segment',
      grpc({ method: { type: 'Exact', method: 'Get' } }),
      req('/a/p.S/Get'),
      false,
    ],
    ['gRPC path without method', grpc({ method: { type: 'Exact', service: 'p.S' } }), req('/p.S/'), false],
    [
      'exact header value beyond ASCII, as UTF-8 bytes',
      http({ headers: [{ name: 'x-user', type: 'Exact', value: 'José' }] }),
      req('/', { headers: { 'x-user': Buffer.from('José', 'utf8').toString('latin1') } }),
      true,
    ],
    [
      'exact header value beyond ASCII, as latin1',
      http({ headers: [{ name: 'x-user', type: 'Exact', value: 'José' }] }),
      req('/', { headers: { 'x-user': 'José' } }),
      false,
    ],
    [
      'gRPC header',
      grpc({ headers: [{ name: 'x-t', type: 'Exact', value: '1' }] }),
      req('/p.S/M', { headers: { 'x-t': '1' } }),
      true,
    ],
  ];
  for (const [name, m, r, want] of cases) it(name, () => assert.equal(matches(m, r), want));
});

describe('waypoint/routing tables', () => {
  it('takes the first matching entry in the given order', () => {
    const router = compileRouter(
      snapshot(
        table([
          entry('exact', { match: http({ path: { type: 'Exact', value: '/a/b' } }) }),
          entry('header', { match: http({ headers: [{ name: 'x', type: 'Exact', value: '1' }] }) }),
          entry('prefix', { match: http({ path: { type: 'PathPrefix', value: '/a' } }) }),
          entry('all', { match: http() }),
        ]),
      ),
    );
    assert.equal(ruleOf(router.decide(target(), req('/a/b', { headers: { x: '1' } }), noRandom)), 'exact');
    assert.equal(ruleOf(router.decide(target(), req('/a/c', { headers: { x: '1' } }), noRandom)), 'header');
    assert.equal(ruleOf(router.decide(target(), req('/a/c'), noRandom)), 'prefix');
    assert.equal(ruleOf(router.decide(target(), req('/z'), noRandom)), 'all');
  });

  it('answers no-match when the table has entries and none matches', () => {
    const router = compileRouter(snapshot(table([entry('a', { match: http({ method: 'PUT' }) })])));
    assert.deepEqual(router.decide(target(), req('/'), noRandom), { kind: 'no-match' });
  });

  it('passes through service ports without a table', () => {
    const router = compileRouter(snapshot(table([entry('a')])));
    assert.deepEqual(
      router.decide({ service: SVC, port: 9090, sourceNamespace: 'shop' }, req('/'), noRandom),
      {
        kind: 'passthrough',
        service: SVC,
        port: 9090,
      },
    );
    assert.equal(
      router.decide({ service: 'shop/other', port: PORT, sourceNamespace: undefined }, req('/'), noRandom)
        .kind,
      'passthrough',
    );
  });

  it('uses consumer entries instead of producer entries for clients in their namespace', () => {
    const consumer: RouteEntry = {
      ...entry('consumer', { match: http({ path: { type: 'PathPrefix', value: '/c' } }) }),
    };
    const router = compileRouter(snapshot(table([entry('producer')], { consumers: { web: [consumer] } })));
    assert.equal(ruleOf(router.decide(target('web'), req('/c/1'), noRandom)), 'consumer');
    // Instead of, not in addition to: the producer's catch-all is not consulted.
    assert.equal(ruleOf(router.decide(target('web'), req('/other'), noRandom)), 'no-match');
    assert.equal(ruleOf(router.decide(target('shop'), req('/c/1'), noRandom)), 'producer');
    assert.equal(ruleOf(router.decide(target('batch'), req('/c/1'), noRandom)), 'producer');
    assert.equal(ruleOf(router.decide(target(undefined), req('/c/1'), noRandom)), 'producer');
  });

  it('reports the protocol of each table', () => {
    const router = compileRouter(
      snapshot(table([entry('a')]), table([entry('g', { match: grpc() })], { port: 9000, protocol: 'grpc' })),
    );
    assert.equal(router.protocolOf(SVC, PORT), 'http');
    assert.equal(router.protocolOf(SVC, 9000), 'grpc');
    assert.equal(router.protocolOf(SVC, 1), undefined);
  });

  it('drops and reports an entry whose regex does not compile, without throwing at request time', () => {
    const router = compileRouter(
      snapshot(
        table([
          entry('bad', { match: http({ path: { type: 'RegularExpression', value: '/(unclosed' } }) }),
          entry('bad-header', {
            match: http({ headers: [{ name: 'x', type: 'RegularExpression', value: '[' }] }),
          }),
          entry('bad-grpc', { match: grpc({ method: { type: 'RegularExpression', service: '*' } }) }),
          entry('good'),
        ]),
      ),
    );
    assert.deepEqual(
      router.errors.map((e) => [e.entryId, e.table, e.error.code]),
      [
        ['httproute/shop/r/rule/bad/match/0', 'shop/reviews:8080', 'ROUTE_REGEX_INVALID'],
        ['httproute/shop/r/rule/bad-header/match/0', 'shop/reviews:8080', 'ROUTE_REGEX_INVALID'],
        ['httproute/shop/r/rule/bad-grpc/match/0', 'shop/reviews:8080', 'ROUTE_REGEX_INVALID'],
      ],
    );
    assert.match(
      router.errors[0]?.error.message ?? '',
      /path regular expression "\/\(unclosed" does not compile/,
    );
    assert.equal(ruleOf(router.decide(target(), req('/(unclosed'), noRandom)), 'good');
  });

  it('reports a duplicate table and keeps the first', () => {
    const router = compileRouter(snapshot(table([entry('first')]), table([entry('second')])));
    assert.equal(router.errors[0]?.error.code, 'ROUTE_TABLE_DUPLICATE');
    assert.equal(ruleOf(router.decide(target(), req('/'), noRandom)), 'first');
  });
});

describe('waypoint/routing parseQuery', () => {
  it('keeps the first value, decodes escapes and tolerates malformed ones', () => {
    assert.deepEqual(
      [...parseQuery('a=1&a=2&b&&c=x%2Fy&d=%zz&=e')],
      [
        ['a', '1'],
        ['b', ''],
        ['c', 'x/y'],
        ['d', '%zz'],
        ['', 'e'],
      ],
    );
    assert.equal(parseQuery('').size, 0);
  });
});
