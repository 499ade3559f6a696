// The pure parts of the HBONE request: the CONNECT `:authority` target and the `forwarded` header.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  formatAuthority,
  formatForwarded,
  parseAuthority,
  parseForwardedFor,
} from '../../../common/hbone/authority.ts';
import { sanitizeReason } from '../../../common/hbone/tunnel.ts';

describe('common/hbone/authority', () => {
  const valid: [string, string, number][] = [
    ['10.0.0.1:8080', '10.0.0.1', 8080],
    ['127.0.0.1:1', '127.0.0.1', 1],
    ['0.0.0.0:65535', '0.0.0.0', 65535],
    ['[::1]:80', '::1', 80],
    ['[fd00:10:250::2]:15008', 'fd00:10:250::2', 15008],
  ];
  for (const [input, host, port] of valid) {
    it(`parses ${input}`, () => {
      assert.deepEqual(parseAuthority(input), { host, port });
    });
  }

  const invalid = [
    undefined,
    '',
    '10.0.0.1',
    '10.0.0.1:',
    '10.0.0.1:0',
    '10.0.0.1:65536',
    '10.0.0.1:80x',
    '10.0.0.1:+80',
    '10.0.0.1:123456',
    'example.com:80',
    'svc.ns.svc.cluster.local:80',
    '::1:80',
    '[::1]80',
    '[::1]:',
    '[10.0.0.1]:80',
    '[fe80::1%eth0]:80',
    '999.0.0.1:80',
    `${'1'.repeat(70)}:80`,
  ];
  for (const input of invalid) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.equal(parseAuthority(input), undefined);
    });
  }

  it('formats IPv4 and IPv6 authorities, round-tripping through the parser', () => {
    assert.equal(formatAuthority('10.1.2.3', 80), '10.1.2.3:80');
    assert.equal(formatAuthority('fd00::5', 443), '[fd00::5]:443');
    assert.deepEqual(parseAuthority(formatAuthority('fd00::5', 443)), { host: 'fd00::5', port: 443 });
  });

  it('formats and parses the forwarded header', () => {
    assert.equal(formatForwarded('10.0.0.9', 41000), 'for="10.0.0.9:41000"');
    assert.equal(formatForwarded('fd00::9', 41000), 'for="[fd00::9]:41000"');
    assert.deepEqual(parseForwardedFor('for="[fd00::9]:41000"'), { host: 'fd00::9', port: 41000 });
    assert.deepEqual(parseForwardedFor('proto=https;for="10.0.0.9:5", for="10.0.0.8:6"'), {
      host: '10.0.0.9',
      port: 5,
    });
    assert.deepEqual(parseForwardedFor('For=10.0.0.7:99'), { host: '10.0.0.7', port: 99 });
    assert.equal(parseForwardedFor('for=unknown'), undefined);
    assert.equal(parseForwardedFor('by="10.0.0.1:1"'), undefined);
    assert.equal(parseForwardedFor(undefined), undefined);
  });

  it('sanitizes refusal reasons for a header value', () => {
    assert.equal(sanitizeReason('denied\r\nx-injected: 1'), 'denied??x-injected: 1');
    assert.equal(sanitizeReason('policy «deny-all»'), 'policy ?deny-all?');
    assert.equal(sanitizeReason('x'.repeat(500)).length, 200);
  });
});
