import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { buildProxyRules, type ProxyService } from '../../../../lab/proxy/rules.ts';
import { planRestore } from '../../../../lab/proxy/restore.ts';

const SERVICES: readonly ProxyService[] = [
  {
    namespace: 'shop',
    name: 'web',
    clusterIP: '10.96.0.20',
    ports: [
      {
        name: 'http',
        port: 80,
        protocol: 'TCP',
        endpoints: [
          { ip: '10.244.2.3', port: 8080 },
          { ip: '10.244.1.2', port: 8080 },
        ],
      },
    ],
  },
  {
    namespace: 'kube-system',
    name: 'kube-dns',
    clusterIP: '10.96.0.10',
    ports: [
      { name: 'dns', port: 53, protocol: 'UDP', endpoints: [{ ip: '10.244.1.9', port: 53 }] },
      { name: 'dns-tcp', port: 53, protocol: 'TCP', endpoints: [] },
    ],
  },
];

// Golden: regenerate by printing buildProxyRules(SERVICES) and reviewing the diff by hand.
const GOLDEN = `
*nat
:WML-SERVICES - [0:0]
:WML-POSTROUTING - [0:0]
:WML-MARK-MASQ - [0:0]
:WML-SVC-D2100F05E5DCD85A - [0:0]
:WML-SEP-BADA83D2F74F0223 - [0:0]
:WML-SVC-ADF0DE7B0F40FB52 - [0:0]
:WML-SEP-0FE9122C80741AFE - [0:0]
:WML-SEP-B7CCDE1C414D66E5 - [0:0]
-I PREROUTING 1 -m comment --comment "waymesh service portals" -j WML-SERVICES
-I OUTPUT 1 -m comment --comment "waymesh service portals" -j WML-SERVICES
-I POSTROUTING 1 -m comment --comment "waymesh postrouting rules" -j WML-POSTROUTING
-A WML-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A WML-POSTROUTING -j MARK --xor-mark 0x4000
-A WML-POSTROUTING -m comment --comment "waymesh service traffic requiring SNAT" -j MASQUERADE --random-fully
-A WML-MARK-MASQ -j MARK --or-mark 0x4000
-A WML-SERVICES -m comment --comment "kube-system/kube-dns:dns cluster IP" -d 10.96.0.10/32 -p udp -m udp --dport 53 -j WML-SVC-D2100F05E5DCD85A
-A WML-SERVICES -m comment --comment "shop/web:http cluster IP" -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j WML-SVC-ADF0DE7B0F40FB52
-A WML-SVC-D2100F05E5DCD85A -m comment --comment "kube-system/kube-dns:dns cluster IP" ! -s 10.244.0.0/16 -d 10.96.0.10/32 -p udp -m udp --dport 53 -j WML-MARK-MASQ
-A WML-SVC-D2100F05E5DCD85A -m comment --comment "kube-system/kube-dns:dns -> 10.244.1.9:53" -j WML-SEP-BADA83D2F74F0223
-A WML-SEP-BADA83D2F74F0223 -m comment --comment "kube-system/kube-dns:dns" -s 10.244.1.9/32 -j WML-MARK-MASQ
-A WML-SEP-BADA83D2F74F0223 -m comment --comment "kube-system/kube-dns:dns" -p udp -m udp -j DNAT --to-destination 10.244.1.9:53
-A WML-SVC-ADF0DE7B0F40FB52 -m comment --comment "shop/web:http cluster IP" ! -s 10.244.0.0/16 -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j WML-MARK-MASQ
-A WML-SVC-ADF0DE7B0F40FB52 -m comment --comment "shop/web:http -> 10.244.1.2:8080" -m statistic --mode random --probability 0.5000000000 -j WML-SEP-0FE9122C80741AFE
-A WML-SEP-0FE9122C80741AFE -m comment --comment "shop/web:http" -s 10.244.1.2/32 -j WML-MARK-MASQ
-A WML-SEP-0FE9122C80741AFE -m comment --comment "shop/web:http" -p tcp -m tcp -j DNAT --to-destination 10.244.1.2:8080
-A WML-SVC-ADF0DE7B0F40FB52 -m comment --comment "shop/web:http -> 10.244.2.3:8080" -j WML-SEP-B7CCDE1C414D66E5
-A WML-SEP-B7CCDE1C414D66E5 -m comment --comment "shop/web:http" -s 10.244.2.3/32 -j WML-MARK-MASQ
-A WML-SEP-B7CCDE1C414D66E5 -m comment --comment "shop/web:http" -p tcp -m tcp -j DNAT --to-destination 10.244.2.3:8080
COMMIT
*filter
:WML-SERVICES - [0:0]
-I FORWARD 1 -m conntrack --ctstate NEW -m comment --comment "waymesh service portals" -j WML-SERVICES
-I OUTPUT 1 -m conntrack --ctstate NEW -m comment --comment "waymesh service portals" -j WML-SERVICES
-A WML-SERVICES -m comment --comment "kube-system/kube-dns:dns-tcp has no endpoints" -d 10.96.0.10/32 -p tcp -m tcp --dport 53 -j REJECT --reject-with icmp-port-unreachable
COMMIT
`.trimStart();

describe('lab/proxy/rules', () => {
  it('matches the golden iptables-restore text', () => {
    assert.equal(buildProxyRules(SERVICES), GOLDEN);
  });

  it('is deterministic whatever the input order', () => {
    const shuffled = [...SERVICES].reverse().map((s) => ({
      ...s,
      ports: [...s.ports].reverse().map((p) => ({ ...p, endpoints: [...p.endpoints].reverse() })),
    }));
    assert.equal(buildProxyRules(shuffled), GOLDEN);
  });

  it('spreads three endpoints evenly (1/3, then 1/2, then the rest)', () => {
    const rules = buildProxyRules([
      {
        namespace: 'a',
        name: 'b',
        clusterIP: '10.96.1.1',
        ports: [
          {
            name: 'p',
            port: 1,
            protocol: 'TCP',
            endpoints: [1, 2, 3].map((i) => ({ ip: `10.244.1.${i}`, port: 1 })),
          },
        ],
      },
    ]);
    const probabilities = [...rules.matchAll(/--probability (\S+)/g)].map((m) => m[1]);
    assert.deepEqual(probabilities, ['0.3333333333', '0.5000000000']);
    assert.equal((rules.match(/-j WML-SEP-/g) ?? []).length, 3);
  });

  it('keeps chain names within the iptables limit of 28 characters', () => {
    for (const m of buildProxyRules(SERVICES).matchAll(/^:(\S+)/gm)) {
      assert.ok((m[1] ?? '').length <= 28, m[1]);
    }
  });

  it('with no services declares only the base chains and jumps', () => {
    const rules = buildProxyRules([]);
    assert.deepEqual(
      rules.split('\n').filter((l) => l.startsWith(':')),
      [
        ':WML-SERVICES - [0:0]',
        ':WML-POSTROUTING - [0:0]',
        ':WML-MARK-MASQ - [0:0]',
        ':WML-SERVICES - [0:0]',
      ],
    );
    assert.doesNotMatch(rules, /DNAT|REJECT/);
  });
});

describe('lab/proxy/restore', () => {
  const SAVED = [
    '# Generated by iptables-save',
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':WML-SERVICES - [0:0]',
    ':WML-SVC-OLD - [0:0]',
    ':OTHER - [0:0]',
    '-A PREROUTING -m comment --comment "waymesh service portals" -j WML-SERVICES',
    '-A PREROUTING -m comment --comment "waymesh service portals" -j WML-SERVICES',
    '-A PREROUTING -j OTHER',
    '-A WML-SERVICES -d 10.96.0.9/32 -j WML-SVC-OLD',
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    'COMMIT',
  ].join('\n');

  it('flushes ours, deletes stale chains and every existing jump, and leaves others alone', () => {
    const plan = planRestore(buildProxyRules([]), SAVED);
    const nat = /\*nat\n[\s\S]*?COMMIT/.exec(plan)?.[0] ?? '';
    assert.match(nat, /^:WML-SVC-OLD - \[0:0\]$/m, 'stale chain declared (flushed) first');
    assert.match(nat, /^-X WML-SVC-OLD$/m);
    assert.equal(
      (nat.match(/^-D PREROUTING .*-j WML-SERVICES$/gm) ?? []).length,
      2,
      'both duplicate jumps deleted',
    );
    assert.equal((nat.match(/^-I PREROUTING 1 .*-j WML-SERVICES$/gm) ?? []).length, 1, 'one jump inserted');
    assert.doesNotMatch(plan, /OTHER/);
    assert.ok(nat.indexOf('-X WML-SVC-OLD') > nat.indexOf('-I PREROUTING'), '-X after the flush and rules');
  });

  it('removes everything of ours for empty wanted rules', () => {
    const plan = planRestore('', SAVED);
    assert.equal(
      plan,
      [
        '*nat',
        ':WML-SERVICES - [0:0]',
        ':WML-SVC-OLD - [0:0]',
        '-D PREROUTING -m comment --comment "waymesh service portals" -j WML-SERVICES',
        '-D PREROUTING -m comment --comment "waymesh service portals" -j WML-SERVICES',
        '-X WML-SERVICES',
        '-X WML-SVC-OLD',
        'COMMIT',
        '',
      ].join('\n'),
    );
    assert.equal(planRestore('', '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n'), '');
  });
});
