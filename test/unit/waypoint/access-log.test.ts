import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { RequestDone } from '../../../waypoint/http/index.ts';
import { accessFields, accessMembers } from '../../../waypoint/program/access-log.ts';

const FULL: RequestDone = {
  route: 'httproute/shop/cart',
  rule: 'httproute/shop/cart/rule/0/match/1',
  outcome: 'forward',
  status: 503,
  grpcStatus: 14,
  durationMs: 12.3456,
  attempts: 3,
  retries: 2,
  source: 'spiffe://cluster.local/ns/shop/sa/client',
  service: 'shop/cart',
  backend: 'shop/cart-v2',
  errorCode: 'UPSTREAM_CONNECT_FAILED',
  policy: 'ratelimitpolicy/shop/cart',
  method: 'POST',
  path: '/cart.Cart/Add',
  endpoint: { ip: 'fd00::7', port: 8080, workloadUid: 'u1', service: 'shop/cart-v2', servicePort: 80 },
};

const MINIMAL: RequestDone = {
  ...FULL,
  route: undefined,
  rule: undefined,
  grpcStatus: undefined,
  source: undefined,
  backend: undefined,
  errorCode: undefined,
  policy: undefined,
  endpoint: undefined,
  status: 404,
  durationMs: 0,
  attempts: 0,
};

describe('waypoint/program access log line', () => {
  const cases: [string, RequestDone][] = [
    ['every field', FULL],
    ['only the fields always present', MINIMAL],
    ['a path needing escapes', { ...FULL, path: '/a"b\\c\u0001\u007fé\u2028?q=😀' }],
    [
      'IPv4 endpoint, sub-millisecond duration',
      { ...FULL, durationMs: 0.04, endpoint: { ...FULL.endpoint!, ip: '10.0.0.1' } },
    ],
    ['a non-finite duration', { ...FULL, durationMs: Number.NaN }],
  ];
  for (const [name, done] of cases) {
    it(`writes what JSON.stringify writes, member for member: ${name}`, () => {
      assert.equal(accessMembers(done).json, JSON.stringify(accessFields(done)).slice(1, -1));
    });
  }

  it('names the endpoint, rounds the duration to 0.1 ms and leaves out what is unknown', () => {
    assert.deepEqual(JSON.parse(`{${accessMembers(FULL).json}}`), {
      method: 'POST',
      path: '/cart.Cart/Add',
      status: 503,
      grpcStatus: 14,
      route: 'httproute/shop/cart',
      rule: 'httproute/shop/cart/rule/0/match/1',
      outcome: 'forward',
      sourcePrincipal: 'spiffe://cluster.local/ns/shop/sa/client',
      destinationService: 'shop/cart',
      backend: 'shop/cart-v2',
      endpoint: '[fd00::7]:8080',
      attempts: 3,
      durationMs: 12.3,
      errorCode: 'UPSTREAM_CONNECT_FAILED',
      policy: 'ratelimitpolicy/shop/cart',
    });
    assert.deepEqual(Object.keys(JSON.parse(`{${accessMembers(MINIMAL).json}}`) as object), [
      'method',
      'path',
      'status',
      'outcome',
      'destinationService',
      'attempts',
      'durationMs',
    ]);
  });
});
