import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { isMeshError } from '../../../common/errors.ts';
import {
  DEFAULT_TRUST_DOMAIN,
  formatSpiffeId,
  parseSpiffeId,
  parseWorkloadId,
  validateTrustDomain,
  workloadId,
} from '../../../common/spiffe.ts';

/** Asserts `fn` throws SPIFFE_ID_INVALID whose message matches `why`. */
function assertInvalid(fn: () => unknown, why: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isMeshError(err, 'SPIFFE_ID_INVALID'), `expected SPIFFE_ID_INVALID, got ${String(err)}`);
    assert.match(err.message, why);
    return true;
  });
}

describe('common/spiffe', () => {
  describe('parseSpiffeId accepts valid ids', () => {
    const valid: readonly { input: string; trustDomain: string; path: string }[] = [
      { input: 'spiffe://cluster.local', trustDomain: 'cluster.local', path: '' },
      {
        input: 'spiffe://cluster.local/ns/default/sa/web',
        trustDomain: 'cluster.local',
        path: '/ns/default/sa/web',
      },
      { input: 'spiffe://example.org/a', trustDomain: 'example.org', path: '/a' },
      { input: 'spiffe://td-1_x.example/A.b-c_d/0', trustDomain: 'td-1_x.example', path: '/A.b-c_d/0' },
      // "." and ".." are forbidden only as whole segments.
      { input: 'spiffe://td/...', trustDomain: 'td', path: '/...' },
      { input: 'spiffe://td/.a/..b', trustDomain: 'td', path: '/.a/..b' },
      { input: 'spiffe://1.2.3.4/x', trustDomain: '1.2.3.4', path: '/x' },
    ];
    for (const c of valid) {
      it(c.input, () => {
        const id = parseSpiffeId(c.input);
        assert.deepEqual({ ...id }, { trustDomain: c.trustDomain, path: c.path });
        assert.ok(Object.isFrozen(id));
        assert.equal(formatSpiffeId(id), c.input);
      });
    }

    it('an id of exactly 2048 bytes', () => {
      const prefix = 'spiffe://td/';
      const input = prefix + 'a'.repeat(2048 - prefix.length);
      assert.equal(input.length, 2048);
      assert.equal(parseSpiffeId(input).path.length, 2048 - 'spiffe://td'.length);
    });

    it('a trust domain of exactly 255 characters', () => {
      const td = 'a'.repeat(255);
      assert.equal(parseSpiffeId(`spiffe://${td}/x`).trustDomain, td);
    });
  });

  describe('parseSpiffeId refuses invalid ids', () => {
    const invalid: readonly { name: string; input: string; why: RegExp }[] = [
      { name: 'empty string', input: '', why: /scheme/ },
      { name: 'no scheme', input: 'cluster.local/ns/a/sa/b', why: /scheme/ },
      { name: 'uppercase scheme', input: 'SPIFFE://cluster.local/ns/a/sa/b', why: /scheme/ },
      { name: 'mixed-case scheme', input: 'Spiffe://cluster.local/x', why: /scheme/ },
      { name: 'other scheme', input: 'https://cluster.local/x', why: /scheme/ },
      { name: 'single slash after scheme', input: 'spiffe:/cluster.local/x', why: /scheme/ },
      { name: 'empty trust domain', input: 'spiffe://', why: /trust domain is empty/ },
      { name: 'empty trust domain with path', input: 'spiffe:///ns/a/sa/b', why: /trust domain is empty/ },
      { name: 'uppercase trust domain', input: 'spiffe://Cluster.Local/x', why: /lowercase/ },
      { name: 'port in trust domain', input: 'spiffe://cluster.local:8443/x', why: /port/ },
      { name: 'userinfo in trust domain', input: 'spiffe://user@cluster.local/x', why: /user info/ },
      {
        name: 'userinfo with password',
        input: 'spiffe://user:pw@cluster.local/x',
        why: /user info/,
      },
      { name: 'percent-encoded trust domain', input: 'spiffe://clu%73ter/x', why: /trust domain/ },
      { name: 'trust domain longer than 255', input: `spiffe://${'a'.repeat(256)}/x`, why: /255/ },
      { name: 'trailing slash', input: 'spiffe://cluster.local/', why: /empty segment|trailing/ },
      { name: 'trailing slash after path', input: 'spiffe://td/ns/a/', why: /empty segment|trailing/ },
      { name: 'empty segment', input: 'spiffe://td/ns//sa/b', why: /empty segment/ },
      { name: '"." segment', input: 'spiffe://td/ns/./sa', why: /"\." and "\.\."/ },
      { name: '".." segment', input: 'spiffe://td/ns/../sa', why: /"\." and "\.\."/ },
      { name: 'trailing ".." segment', input: 'spiffe://td/a/..', why: /"\." and "\.\."/ },
      { name: 'percent-encoding in path', input: 'spiffe://td/a%20b', why: /characters outside/ },
      { name: 'space in path', input: 'spiffe://td/a b', why: /characters outside/ },
      { name: 'colon in path', input: 'spiffe://td/a:b', why: /characters outside/ },
      { name: 'non-ASCII in path', input: 'spiffe://td/caf\u00e9', why: /characters outside/ },
      { name: 'query', input: 'spiffe://td/a?b=c', why: /query and fragment/ },
      { name: 'fragment', input: 'spiffe://td/a#b', why: /query and fragment/ },
      { name: 'query on trust domain', input: 'spiffe://td?x', why: /query and fragment/ },
      {
        name: 'longer than 2048 bytes',
        input: 'spiffe://td/' + 'a'.repeat(2048 - 'spiffe://td/'.length + 1),
        why: /longer than 2048/,
      },
    ];
    for (const c of invalid) {
      it(c.name, () => assertInvalid(() => parseSpiffeId(c.input), c.why));
    }
  });

  describe('validateTrustDomain', () => {
    it('accepts the default trust domain', () => {
      assert.equal(DEFAULT_TRUST_DOMAIN, 'cluster.local');
      assert.doesNotThrow(() => validateTrustDomain(DEFAULT_TRUST_DOMAIN));
    });
    const bad: readonly [string, RegExp][] = [
      ['', /empty/],
      ['Upper', /lowercase/],
      ['td/path', /lowercase/],
      ['td:80', /lowercase/],
      ['a'.repeat(256), /255/],
    ];
    for (const [td, why] of bad) {
      it(`refuses ${JSON.stringify(td.slice(0, 20))}`, () =>
        assertInvalid(() => validateTrustDomain(td), why));
    }
  });

  describe('workload ids', () => {
    it('parses the ns/<ns>/sa/<sa> shape', () => {
      const id = parseWorkloadId('spiffe://cluster.local/ns/shop/sa/checkout.v2');
      assert.deepEqual(
        { ...id },
        {
          trustDomain: 'cluster.local',
          path: '/ns/shop/sa/checkout.v2',
          namespace: 'shop',
          serviceAccount: 'checkout.v2',
        },
      );
      assert.ok(Object.isFrozen(id));
    });

    it('workloadId builds the same id and round-trips through formatSpiffeId', () => {
      const id = workloadId('example.org', 'kube-system', 'coredns');
      assert.equal(formatSpiffeId(id), 'spiffe://example.org/ns/kube-system/sa/coredns');
      assert.deepEqual({ ...parseWorkloadId(formatSpiffeId(id)) }, { ...id });
    });

    it('accepts a 63-character namespace and a 253-character service account', () => {
      const ns = 'n'.repeat(63);
      const sa = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.');
      assert.equal(sa.length, 253);
      const id = workloadId('td', ns, sa);
      assert.equal(id.namespace, ns);
      assert.equal(id.serviceAccount, sa);
    });

    const badShape: readonly [string, string][] = [
      ['trust-domain id', 'spiffe://td'],
      ['too short', 'spiffe://td/ns/a'],
      ['missing sa value', 'spiffe://td/ns/a/sa'],
      ['too long', 'spiffe://td/ns/a/sa/b/extra'],
      ['swapped keywords', 'spiffe://td/sa/a/ns/b'],
      ['uppercase keyword', 'spiffe://td/NS/a/SA/b'],
      ['other path', 'spiffe://td/workload/web'],
    ];
    for (const [name, input] of badShape) {
      it(`refuses shape: ${name}`, () => assertInvalid(() => parseWorkloadId(input), /\/ns\/<namespace>/));
    }

    const badNames: readonly [string, string, string, RegExp][] = [
      ['uppercase namespace', 'Shop', 'web', /namespace "Shop"/],
      ['namespace with a dot', 'a.b', 'web', /namespace "a\.b"/],
      ['namespace with underscore', 'a_b', 'web', /namespace "a_b"/],
      ['namespace starting with "-"', '-a', 'web', /namespace "-a"/],
      ['namespace ending with "-"', 'a-', 'web', /namespace "a-"/],
      ['namespace of 64 characters', 'n'.repeat(64), 'web', /namespace/],
      ['uppercase service account', 'shop', 'Web', /service account "Web"/],
      ['service account with underscore', 'shop', 'a_b', /service account "a_b"/],
      ['service account with empty label', 'shop', 'a..b', /service account "a\.\.b"/],
      ['service account starting with "."', 'shop', '.a', /service account "\.a"/],
      ['service account of 254 characters', 'shop', 'a'.repeat(254), /service account/],
    ];
    for (const [name, ns, sa, why] of badNames) {
      it(`refuses ${name}`, () => assertInvalid(() => workloadId('cluster.local', ns, sa), why));
    }

    it('refuses a workload id with an invalid trust domain', () => {
      assertInvalid(() => workloadId('Cluster.local', 'a', 'b'), /lowercase/);
    });
  });
});
