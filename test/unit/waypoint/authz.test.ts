/**
 * waypoint/policy/authz: DENY before ALLOW, ALLOW with no match denies, scopes (service,
 * namespace, waypoint), not-forms, globs, hosts with ports, methods, ports and `when` conditions.
 */
import assert from 'node:assert/strict';
import type {
  AuthorizationPolicy,
  AuthzFrom,
  AuthzRule,
  AuthzTo,
  MatchSet,
  PolicyScope,
} from '../../../common/ir/policy.ts';
import type { AuthzRequest } from '../../../waypoint/policy/authz.ts';
import { compileAuthz } from '../../../waypoint/policy/authz.ts';

const ANY: MatchSet = { values: [], not: [] };
const set = (values: string[], not: string[] = []): MatchSet => ({ values, not });
const from = (f: Partial<AuthzFrom>): AuthzFrom => ({ principals: ANY, namespaces: ANY, ...f });
const to = (t: Partial<AuthzTo>): AuthzTo => ({ ports: ANY, methods: ANY, paths: ANY, hosts: ANY, ...t });
const rule = (r: Partial<AuthzRule>): AuthzRule => ({ from: [], to: [], when: [], ...r });
const SERVICE_SCOPE: PolicyScope = { kind: 'service', service: 'shop/reviews' };

function policy(
  name: string,
  action: 'ALLOW' | 'DENY',
  rules: AuthzRule[],
  scope: PolicyScope = SERVICE_SCOPE,
): AuthorizationPolicy {
  return {
    id: `authorizationpolicy/shop/${name}`,
    source: { group: 'policy.waymesh.io', kind: 'AuthorizationPolicy', namespace: 'shop', name },
    scope,
    action,
    layer: 'L7',
    rules,
  };
}

const WEB = 'spiffe://cluster.local/ns/web/sa/frontend';

function request(
  r: Partial<Omit<AuthzRequest, 'header'>> & { headers?: Record<string, string> } = {},
): AuthzRequest {
  const headers = r.headers ?? {};
  return {
    service: 'shop/reviews',
    waypoint: { namespace: 'shop', name: 'waypoint' },
    principal: WEB,
    namespace: 'web',
    method: 'GET',
    path: '/reviews/1',
    host: 'reviews.shop:8080',
    port: 8080,
    ...r,
    header: (name) => headers[name],
  };
}

/** Allowed? under a single ALLOW policy with `r`. */
function allows(r: AuthzRule, req: AuthzRequest): boolean {
  const authz = compileAuthz([policy('p', 'ALLOW', [r])]);
  assert.deepEqual(authz.errors, []);
  return authz.evaluate(req).allowed;
}

describe('waypoint/policy/authz semantics', () => {
  it('allows without policies', () =>
    assert.deepEqual(compileAuthz([]).evaluate(request()), { allowed: true, reason: 'no-allow-policy' }));

  it('a matching DENY wins over a matching ALLOW', () => {
    const authz = compileAuthz([
      policy('allow-all', 'ALLOW', [rule({})]),
      policy('deny-delete', 'DENY', [rule({ to: [to({ methods: set(['DELETE']) })] })]),
    ]);
    assert.deepEqual(authz.evaluate(request({ method: 'DELETE' })), {
      allowed: false,
      policy: 'authorizationpolicy/shop/deny-delete',
      reason: 'deny-matched',
    });
    assert.deepEqual(authz.evaluate(request()), {
      allowed: true,
      policy: 'authorizationpolicy/shop/allow-all',
      reason: 'allow-matched',
    });
  });

  it('denies when ALLOW policies apply and none matches', () => {
    const authz = compileAuthz([
      policy('only-get', 'ALLOW', [rule({ to: [to({ methods: set(['GET']) })] })]),
    ]);
    assert.deepEqual(authz.evaluate(request({ method: 'POST' })), {
      allowed: false,
      reason: 'allow-unmatched',
    });
  });

  it('allows when only non-matching DENY policies apply', () => {
    const authz = compileAuthz([policy('d', 'DENY', [rule({ to: [to({ paths: set(['/admin*']) })] })])]);
    assert.deepEqual(authz.evaluate(request()), { allowed: true, reason: 'no-allow-policy' });
    assert.equal(authz.evaluate(request({ path: '/admin/x' })).allowed, false);
  });

  it('an ALLOW policy without rules denies everything; a DENY without rules denies nothing', () => {
    assert.equal(compileAuthz([policy('a', 'ALLOW', [])]).evaluate(request()).allowed, false);
    assert.equal(compileAuthz([policy('d', 'DENY', [])]).evaluate(request()).allowed, true);
  });

  it('applies service, namespace and waypoint scopes, and only those', () => {
    const deny = (scope: PolicyScope) => compileAuthz([policy('d', 'DENY', [rule({})], scope)]);
    const cases: [PolicyScope, boolean][] = [
      [{ kind: 'service', service: 'shop/reviews' }, false],
      [{ kind: 'service', service: 'shop/ratings' }, true],
      [{ kind: 'namespace', namespace: 'shop' }, false],
      [{ kind: 'namespace', namespace: 'web' }, true],
      [{ kind: 'waypoint', namespace: 'shop', name: 'waypoint' }, false],
      [{ kind: 'waypoint', namespace: 'shop', name: 'other' }, true],
      [{ kind: 'waypoint', namespace: 'other', name: 'waypoint' }, true],
    ];
    for (const [scope, allowed] of cases)
      assert.equal(deny(scope).evaluate(request()).allowed, allowed, JSON.stringify(scope));
  });

  it('an ALLOW in another scope does not count as applying', () => {
    const authz = compileAuthz([policy('a', 'ALLOW', [], { kind: 'service', service: 'shop/ratings' })]);
    assert.equal(authz.evaluate(request()).allowed, true);
  });

  it('combines ALLOW policies across scopes: any match allows', () => {
    const authz = compileAuthz([
      policy('svc', 'ALLOW', [rule({ to: [to({ methods: set(['POST']) })] })]),
      policy('ns', 'ALLOW', [rule({ to: [to({ methods: set(['GET']) })] })], {
        kind: 'namespace',
        namespace: 'shop',
      }),
    ]);
    assert.equal(authz.evaluate(request({ method: 'GET' })).policy, 'authorizationpolicy/shop/ns');
    assert.equal(authz.evaluate(request({ method: 'POST' })).policy, 'authorizationpolicy/shop/svc');
    assert.equal(authz.evaluate(request({ method: 'PUT' })).allowed, false);
  });
});

describe('waypoint/policy/authz matching', () => {
  const cases: [string, AuthzRule, AuthzRequest, boolean][] = [
    ['empty rule matches all', rule({}), request(), true],
    ['principal exact', rule({ from: [from({ principals: set([WEB]) })] }), request(), true],
    [
      'principal other',
      rule({ from: [from({ principals: set(['spiffe://cluster.local/ns/x/sa/y']) })] }),
      request(),
      false,
    ],
    [
      'principal prefix glob',
      rule({ from: [from({ principals: set(['spiffe://cluster.local/ns/web/*']) })] }),
      request(),
      true,
    ],
    [
      'principal suffix glob',
      rule({ from: [from({ principals: set(['*/sa/frontend']) })] }),
      request(),
      true,
    ],
    [
      'principal * needs an identity',
      rule({ from: [from({ principals: set(['*']) })] }),
      request({ principal: undefined }),
      false,
    ],
    ['principal * with identity', rule({ from: [from({ principals: set(['*']) })] }), request(), true],
    [
      'notPrincipals excludes',
      rule({ from: [from({ principals: set([], ['*/sa/frontend']) })] }),
      request(),
      false,
    ],
    [
      'notPrincipals passes others',
      rule({ from: [from({ principals: set([], ['*/sa/admin']) })] }),
      request(),
      true,
    ],
    [
      'notPrincipals * catches no identity',
      rule({ from: [from({ principals: set([], ['*']) })] }),
      request({ principal: undefined }),
      true,
    ],
    ['namespace', rule({ from: [from({ namespaces: set(['web']) })] }), request(), true],
    ['notNamespaces', rule({ from: [from({ namespaces: set(['*'], ['web']) })] }), request(), false],
    [
      'any from entry',
      rule({ from: [from({ namespaces: set(['x']) }), from({ namespaces: set(['web']) })] }),
      request(),
      true,
    ],
    [
      'principal AND namespace in one from',
      rule({ from: [from({ principals: set([WEB]), namespaces: set(['x']) })] }),
      request(),
      false,
    ],
    ['method uppercase', rule({ to: [to({ methods: set(['get']) })] }), request(), true],
    ['notMethods', rule({ to: [to({ methods: set([], ['GET']) })] }), request(), false],
    ['path exact', rule({ to: [to({ paths: set(['/reviews/1']) })] }), request(), true],
    ['path exact differs', rule({ to: [to({ paths: set(['/reviews']) })] }), request(), false],
    ['path prefix glob', rule({ to: [to({ paths: set(['/reviews/*']) })] }), request(), true],
    ['path suffix glob', rule({ to: [to({ paths: set(['*/1']) })] }), request(), true],
    ['path *', rule({ to: [to({ paths: set(['*']) })] }), request(), true],
    ['notPaths', rule({ to: [to({ paths: set(['*'], ['/reviews/*']) })] }), request(), false],
    [
      'host case-insensitive, port ignored',
      rule({ to: [to({ hosts: set(['Reviews.Shop']) })] }),
      request(),
      true,
    ],
    ['host with matching port', rule({ to: [to({ hosts: set(['reviews.shop:8080']) })] }), request(), true],
    ['host with other port', rule({ to: [to({ hosts: set(['reviews.shop:9090']) })] }), request(), false],
    ['host suffix glob', rule({ to: [to({ hosts: set(['*.shop']) })] }), request(), true],
    [
      'host without port in request',
      rule({ to: [to({ hosts: set(['reviews.shop']) })] }),
      request({ host: 'REVIEWS.shop' }),
      true,
    ],
    ['notHosts', rule({ to: [to({ hosts: set([], ['*.shop']) })] }), request(), false],
    ['port', rule({ to: [to({ ports: set(['8080']) })] }), request(), true],
    ['other port', rule({ to: [to({ ports: set(['9090']) })] }), request(), false],
    ['notPorts', rule({ to: [to({ ports: set([], ['8080']) })] }), request(), false],
    [
      'all parts of a to entry',
      rule({ to: [to({ methods: set(['GET']), paths: set(['/x']) })] }),
      request(),
      false,
    ],
    [
      'any to entry',
      rule({ to: [to({ paths: set(['/x']) }), to({ methods: set(['GET']) })] }),
      request(),
      true,
    ],
    [
      'when value',
      rule({ when: [{ header: 'X-Env', values: ['prod'], notValues: [] }] }),
      request({ headers: { 'x-env': 'prod' } }),
      true,
    ],
    [
      'when value glob',
      rule({ when: [{ header: 'x-env', values: ['pr*'], notValues: [] }] }),
      request({ headers: { 'x-env': 'prod' } }),
      true,
    ],
    [
      'when value beyond ASCII, compared as the UTF-8 bytes sent',
      rule({ when: [{ header: 'x-team', values: ['Zürich*'], notValues: [] }] }),
      request({ headers: { 'x-team': Buffer.from('Zürich-1', 'utf8').toString('latin1') } }),
      true,
    ],
    [
      'when header absent',
      rule({ when: [{ header: 'x-env', values: ['prod'], notValues: [] }] }),
      request(),
      false,
    ],
    [
      'when notValues',
      rule({ when: [{ header: 'x-env', values: [], notValues: ['dev*'] }] }),
      request({ headers: { 'x-env': 'dev1' } }),
      false,
    ],
    [
      'when notValues, header absent',
      rule({ when: [{ header: 'x-env', values: [], notValues: ['dev'] }] }),
      request(),
      true,
    ],
    [
      'every when must hold',
      rule({
        when: [
          { header: 'a', values: ['1'], notValues: [] },
          { header: 'b', values: ['2'], notValues: [] },
        ],
      }),
      request({ headers: { a: '1', b: '3' } }),
      false,
    ],
    [
      'from AND to AND when',
      rule({
        from: [from({ namespaces: set(['web']) })],
        to: [to({ methods: set(['GET']) })],
        when: [{ header: 'a', values: ['1'], notValues: [] }],
      }),
      request({ headers: { a: '1' } }),
      true,
    ],
  ];
  for (const [name, r, req, want] of cases) it(name, () => assert.equal(allows(r, req), want));

  it('fails safe on a port that is not a port: DENY denies all, ALLOW allows none', () => {
    const bad = rule({ to: [to({ ports: set(['http']) })] });
    const deny = compileAuthz([policy('d', 'DENY', [bad])]);
    assert.equal(deny.errors[0]?.code, 'AUTHZ_PORT_INVALID');
    assert.match(deny.errors[0]?.message ?? '', /authorizationpolicy\/shop\/d: port "http"/);
    assert.equal(deny.evaluate(request({ port: 1 })).allowed, false);
    const allow = compileAuthz([policy('a', 'ALLOW', [bad, rule({ to: [to({ paths: set(['/ok']) })] })])]);
    assert.equal(allow.evaluate(request()).allowed, false);
    assert.equal(allow.evaluate(request({ path: '/ok' })).allowed, true);
  });
});
