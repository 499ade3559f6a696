import assert from 'node:assert/strict';
import { isMeshError } from '../../../common/errors.ts';
import type { AuthorizationPolicy, AuthzRule, MatchSet, Workload } from '../../../common/ir/index.ts';
import { compileL4Policy, isL7Rule } from '../../../node-agent/policy/compile.ts';
import { authorizeL4, namespaceOfPrincipal, type L4Decision } from '../../../node-agent/policy/l4.ts';
import { compileStrings, matchesString } from '../../../node-agent/policy/match.ts';

const TD = 'spiffe://cluster.local';
const FRONT = `${TD}/ns/shop/sa/frontend`;
const ADMIN = `${TD}/ns/ops/sa/admin`;
const BAD = `${TD}/ns/evil/sa/bot`;

function set(values: readonly string[] = [], not: readonly string[] = []): MatchSet {
  return { values, not };
}

interface RuleSpec {
  principals?: string[];
  notPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  paths?: string[];
  hosts?: string[];
  when?: boolean;
}

/** One rule with at most one `from` and one `to` entry, each only when one of its fields is set. */
function rule(s: RuleSpec = {}): AuthzRule {
  const hasFrom = [s.principals, s.notPrincipals, s.namespaces, s.notNamespaces].some((v) => v !== undefined);
  const hasTo = [s.ports, s.notPorts, s.methods, s.paths, s.hosts].some((v) => v !== undefined);
  return {
    from: hasFrom
      ? [{ principals: set(s.principals, s.notPrincipals), namespaces: set(s.namespaces, s.notNamespaces) }]
      : [],
    to: hasTo
      ? [
          {
            ports: set(s.ports, s.notPorts),
            methods: set(s.methods),
            paths: set(s.paths),
            hosts: set(s.hosts),
          },
        ]
      : [],
    when: s.when === true ? [{ header: 'x-user', values: ['alice'], notValues: [] }] : [],
  };
}

function policy(name: string, action: 'ALLOW' | 'DENY', rules: AuthzRule[]): AuthorizationPolicy {
  return {
    id: `authorizationpolicy/shop/${name}`,
    source: { group: 'policy.waymesh.io', kind: 'AuthorizationPolicy', namespace: 'shop', name },
    scope: { kind: 'namespace', namespace: 'shop' },
    action,
    layer: 'L4',
    rules,
  };
}

const POD: Workload = {
  uid: 'uid-api',
  name: 'api-0',
  namespace: 'shop',
  node: 'node-a',
  ips: ['10.1.0.11'],
  serviceAccount: 'api',
  identity: `${TD}/ns/shop/sa/api`,
  captured: true,
  labels: {},
  namedPorts: {},
};

function decide(
  policies: AuthorizationPolicy[],
  principal: string | undefined,
  port = 8080,
  pod: Workload = POD,
): L4Decision {
  return authorizeL4(
    pod,
    policies.map((p) => compileL4Policy(p)),
    { principal, namespace: namespaceOfPrincipal(principal), port },
  );
}

describe('node-agent/policy/l4', () => {
  interface Case {
    name: string;
    policies: AuthorizationPolicy[];
    principal: string | undefined;
    port?: number;
    allowed: boolean;
    policy?: string;
  }
  const id = (n: string): string => `authorizationpolicy/shop/${n}`;
  const cases: Case[] = [
    { name: 'no policy allows', policies: [], principal: FRONT, allowed: true },
    { name: 'no policy allows plaintext', policies: [], principal: undefined, allowed: true },
    {
      name: 'DENY beats a matching ALLOW',
      policies: [
        policy('allow-all', 'ALLOW', [rule()]),
        policy('deny-front', 'DENY', [rule({ principals: [FRONT] })]),
      ],
      principal: FRONT,
      allowed: false,
      policy: id('deny-front'),
    },
    {
      name: 'a DENY that does not match leaves the connection allowed',
      policies: [policy('deny-bad', 'DENY', [rule({ principals: [BAD] })])],
      principal: FRONT,
      allowed: true,
    },
    {
      name: 'ALLOW matching allows and names the policy',
      policies: [policy('allow-front', 'ALLOW', [rule({ principals: [FRONT] })])],
      principal: FRONT,
      allowed: true,
      policy: id('allow-front'),
    },
    {
      name: 'ALLOW policies applying with none matching deny',
      policies: [
        policy('allow-admin', 'ALLOW', [rule({ principals: [ADMIN] })]),
        policy('allow-ops', 'ALLOW', [rule({ namespaces: ['ops'] })]),
      ],
      principal: FRONT,
      allowed: false,
      policy: id('allow-admin'),
    },
    {
      name: 'the second ALLOW policy may match',
      policies: [
        policy('allow-admin', 'ALLOW', [rule({ principals: [ADMIN] })]),
        policy('allow-shop', 'ALLOW', [rule({ namespaces: ['shop'] })]),
      ],
      principal: FRONT,
      allowed: true,
      policy: id('allow-shop'),
    },
    {
      name: 'ALLOW with no rules allows nothing',
      policies: [policy('allow-nothing', 'ALLOW', [])],
      principal: FRONT,
      allowed: false,
      policy: id('allow-nothing'),
    },
    {
      name: 'DENY with no rules denies nothing',
      policies: [policy('deny-nothing', 'DENY', [])],
      principal: FRONT,
      allowed: true,
    },
    {
      name: 'an empty rule matches everything, plaintext included',
      policies: [policy('deny-all', 'DENY', [rule()])],
      principal: undefined,
      allowed: false,
      policy: id('deny-all'),
    },
    // principals
    ...(
      [
        ['exact', FRONT, FRONT, true],
        ['exact, other id', FRONT, ADMIN, false],
        ['*', '*', BAD, true],
        ['* needs an identity', '*', undefined, false],
        ['prefix glob', `${TD}/ns/shop/*`, FRONT, true],
        ['prefix glob, other namespace', `${TD}/ns/shop/*`, ADMIN, false],
        ['suffix glob', '*/sa/admin', ADMIN, true],
        ['suffix glob, other account', '*/sa/admin', FRONT, false],
      ] as const
    ).map(([label, pattern, who, allowed]): Case => ({
      name: `principals ${label}`,
      policies: [policy('p', 'ALLOW', [rule({ principals: [pattern] })])],
      principal: who,
      allowed,
      policy: id('p'),
    })),
    {
      name: 'notPrincipals excludes the listed id',
      policies: [policy('p', 'ALLOW', [rule({ notPrincipals: [BAD] })])],
      principal: BAD,
      allowed: false,
      policy: id('p'),
    },
    {
      name: 'notPrincipals allows the others',
      policies: [policy('p', 'ALLOW', [rule({ notPrincipals: [BAD] })])],
      principal: FRONT,
      allowed: true,
      policy: id('p'),
    },
    {
      name: 'DENY notPrincipals denies plaintext (an absent id is never excluded)',
      policies: [policy('only-admin', 'DENY', [rule({ notPrincipals: [ADMIN] })])],
      principal: undefined,
      allowed: false,
      policy: id('only-admin'),
    },
    {
      name: 'DENY by principal does not match plaintext',
      policies: [policy('deny-bad', 'DENY', [rule({ principals: [BAD] })])],
      principal: undefined,
      allowed: true,
    },
    // namespaces
    ...(
      [
        ['exact', ['shop'], [], FRONT, true],
        ['exact, other', ['shop'], [], ADMIN, false],
        ['wildcard', ['*'], [], BAD, true],
        ['wildcard needs an identity', ['*'], [], undefined, false],
        ['not', [], ['evil'], BAD, false],
        ['not, other', [], ['evil'], FRONT, true],
        ['values and not', ['*'], ['evil'], BAD, false],
      ] as const
    ).map(([label, values, not, who, allowed]): Case => ({
      name: `namespaces ${label}`,
      policies: [policy('n', 'ALLOW', [rule({ namespaces: [...values], notNamespaces: [...not] })])],
      principal: who,
      allowed,
      policy: id('n'),
    })),
    // ports
    ...(
      [
        ['exact', ['8080'], [], 8080, true],
        ['exact, other', ['8080'], [], 9090, false],
        ['not', [], ['9090'], 9090, false],
        ['not, other', [], ['9090'], 8080, true],
      ] as const
    ).map(([label, values, not, port, allowed]): Case => ({
      name: `ports ${label}`,
      policies: [policy('t', 'ALLOW', [rule({ ports: [...values], notPorts: [...not] })])],
      principal: FRONT,
      port,
      allowed,
      policy: id('t'),
    })),
    {
      name: 'from AND to: right source, wrong port',
      policies: [policy('ft', 'ALLOW', [rule({ principals: [FRONT], ports: ['8080'] })])],
      principal: FRONT,
      port: 9090,
      allowed: false,
      policy: id('ft'),
    },
    {
      name: 'any from entry matches',
      policies: [
        policy('two-froms', 'ALLOW', [
          {
            from: [
              { principals: set([ADMIN]), namespaces: set() },
              { principals: set(), namespaces: set(['shop']) },
            ],
            to: [],
            when: [],
          },
        ]),
      ],
      principal: FRONT,
      allowed: true,
      policy: id('two-froms'),
    },
    {
      name: 'any to entry matches',
      policies: [
        policy('two-tos', 'ALLOW', [
          {
            from: [],
            to: [
              { ports: set(['80']), methods: set(), paths: set(), hosts: set() },
              { ports: set(['8080']), methods: set(), paths: set(), hosts: set() },
            ],
            when: [],
          },
        ]),
      ],
      principal: FRONT,
      allowed: true,
      policy: id('two-tos'),
    },
    {
      name: 'any rule of a policy matches',
      policies: [policy('rules', 'ALLOW', [rule({ principals: [ADMIN] }), rule({ ports: ['8080'] })])],
      principal: FRONT,
      allowed: true,
      policy: id('rules'),
    },
    // L7 fields reaching L4
    {
      name: 'ALLOW: an L7 rule never matches at L4',
      policies: [policy('l7', 'ALLOW', [rule({ principals: [FRONT], methods: ['GET'] })])],
      principal: FRONT,
      allowed: false,
      policy: id('l7'),
    },
    {
      name: 'ALLOW: a `when` rule never matches at L4',
      policies: [policy('l7', 'ALLOW', [rule({ when: true })])],
      principal: FRONT,
      allowed: false,
      policy: id('l7'),
    },
    {
      name: 'ALLOW: the L4 rules of a policy still allow',
      policies: [policy('mixed', 'ALLOW', [rule({ paths: ['/admin'] }), rule({ principals: [FRONT] })])],
      principal: FRONT,
      allowed: true,
      policy: id('mixed'),
    },
    {
      name: 'DENY: an L7 rule denies its sources at L4 (fail closed)',
      policies: [policy('l7-deny', 'DENY', [rule({ principals: [FRONT], hosts: ['a.example'] })])],
      principal: FRONT,
      allowed: false,
      policy: id('l7-deny'),
    },
    {
      name: 'DENY: a `when` rule denies at L4',
      policies: [policy('when-deny', 'DENY', [rule({ when: true })])],
      principal: ADMIN,
      allowed: false,
      policy: id('when-deny'),
    },
    {
      name: 'DENY: an L7 rule keeps its port condition',
      policies: [policy('l7-port', 'DENY', [rule({ ports: ['9090'], methods: ['POST'] })])],
      principal: FRONT,
      port: 8080,
      allowed: true,
    },
    {
      name: 'DENY: an L7 rule keeps its source condition',
      policies: [policy('l7-src', 'DENY', [rule({ principals: [BAD], methods: ['POST'] })])],
      principal: FRONT,
      allowed: true,
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const d = decide(c.policies, c.principal, c.port);
      assert.equal(d.allowed, c.allowed, d.reason);
      assert.equal(d.policy, c.policy);
      assert.ok(d.reason.length > 0);
    });
  }

  describe('mTLS mode', () => {
    const strict: Workload = { ...POD, mtls: 'STRICT' };
    it('STRICT refuses plaintext as unauthenticated, before any policy', () => {
      const d = decide([policy('allow-all', 'ALLOW', [rule()])], undefined, 8080, strict);
      assert.equal(d.allowed, false);
      assert.equal(d.unauthenticated, true);
      assert.equal(d.policy, undefined);
      assert.match(d.reason, /STRICT/);
    });
    it('STRICT accepts an authenticated peer', () => {
      assert.equal(decide([], FRONT, 8080, strict).allowed, true);
    });
    it('PERMISSIVE accepts plaintext', () => {
      const d = decide([], undefined, 8080, { ...POD, mtls: 'PERMISSIVE' });
      assert.equal(d.allowed, true);
      assert.equal(d.unauthenticated, undefined);
    });
  });

  describe('namespaceOfPrincipal', () => {
    const table: [string | undefined, string | undefined][] = [
      [FRONT, 'shop'],
      ['spiffe://td.example/ns/a-b/sa/x.y', 'a-b'],
      [undefined, undefined],
      ['spiffe://cluster.local/sa/x', undefined],
      ['spiffe://cluster.local/ns//sa/x', undefined],
      ['spiffe://cluster.local/ns/shop/other/x', undefined],
      ['https://cluster.local/ns/shop/sa/x', undefined],
    ];
    for (const [input, want] of table) {
      it(`${String(input)} → ${String(want)}`, () => assert.equal(namespaceOfPrincipal(input), want));
    }
  });

  describe('compile', () => {
    it('turns globs into prefix/suffix lists once', () => {
      const m = compileStrings(['*', 'a*', '*b', 'exact']);
      assert.ok(m !== undefined);
      assert.deepEqual([m.any, [...m.exact], m.prefixes, m.suffixes], [true, ['exact'], ['a'], ['b']]);
      const n = compileStrings([`${TD}/ns/shop/*`]);
      assert.ok(n !== undefined && matchesString(n, FRONT) && !matchesString(n, ADMIN));
      assert.equal(compileStrings([]), undefined);
    });
    it('classifies L7 rules', () => {
      assert.equal(isL7Rule(rule({ principals: [FRONT], ports: ['80'] })), false);
      assert.equal(isL7Rule(rule({ methods: ['GET'] })), true);
      assert.equal(isL7Rule(rule({ when: true })), true);
    });
    it('rejects a port that is not a number, naming policy and rule', () => {
      for (const bad of ['http', '0', '65536', '80a']) {
        assert.throws(
          () => compileL4Policy(policy('bad-port', 'ALLOW', [rule(), rule({ ports: [bad] })])),
          (err: unknown) =>
            isMeshError(err, 'NODE_SNAPSHOT_INVALID') &&
            err.message.includes('authorizationpolicy/shop/bad-port rule 1'),
        );
      }
    });
    it('compiles a policy into a frozen object', () => {
      const c = compileL4Policy(policy('p', 'DENY', [rule({ principals: [BAD] })]));
      assert.ok(Object.isFrozen(c) && Object.isFrozen(c.rules));
      assert.equal(c.matchedReason, 'denied by authorizationpolicy/shop/p');
    });
  });
});
