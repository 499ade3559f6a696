// DNS wire format: round trips of every record type the lab serves, name compression both ways,
// EDNS0, truncation, and malformed packets that must fail with DNS_FORMERR instead of crashing.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';

import { isMeshError } from '../../../../common/errors.ts';
import { readName, writeName } from '../../../../lab/dns/names.ts';
import {
  CLASS_IN,
  decodeMessage,
  encodeMessage,
  RCODE,
  RR,
  type DnsMessage,
  type ResourceRecord,
} from '../../../../lab/dns/wire.ts';

const flags = { qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: false, rcode: 0 };

function rr(name: string, data: ResourceRecord['data']): ResourceRecord {
  return { name, class: CLASS_IN, ttl: 5, data };
}

const sample: DnsMessage = {
  id: 0xbeef,
  flags,
  questions: [{ name: 'echo.demo.svc.cluster.local', type: RR.A, class: CLASS_IN }],
  answers: [
    rr('echo.demo.svc.cluster.local', { type: 'A', address: '10.96.0.20' }),
    rr('echo.demo.svc.cluster.local', { type: 'AAAA', address: 'fd00::1' }),
    rr('alias.demo.svc.cluster.local', { type: 'CNAME', target: 'echo.demo.svc.cluster.local' }),
    rr('20.0.96.10.in-addr.arpa', { type: 'PTR', target: 'echo.demo.svc.cluster.local' }),
    rr('_http._tcp.echo.demo.svc.cluster.local', {
      type: 'SRV',
      priority: 0,
      weight: 100,
      port: 8080,
      target: 'echo.demo.svc.cluster.local',
    }),
    rr('odd.cluster.local', { type: 'raw', rrtype: 99, bytes: Uint8Array.from([1, 2, 3]) }),
  ],
  authority: [
    rr('cluster.local', {
      type: 'SOA',
      mname: 'ns.dns.cluster.local',
      rname: 'hostmaster.cluster.local',
      serial: 4_000_000_000,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: 5,
    }),
  ],
  additional: [],
  edns: { udpPayloadSize: 1232, extendedRcode: 0, version: 0, dnssecOk: true },
};

function expectFormerr(buf: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => decodeMessage(buf),
    (err: unknown) => isMeshError(err, 'DNS_FORMERR') && pattern.test(err.message),
  );
}

/** A query header with the given counts. */
function header(qd: number, an = 0, ns = 0, ar = 0): number[] {
  return [0x12, 0x34, 0x01, 0x00, 0, qd, 0, an, 0, ns, 0, ar];
}

describe('lab/dns/wire', () => {
  it('round-trips every record type, SOA and EDNS0', () => {
    const decoded = decodeMessage(encodeMessage(sample));
    assert.deepEqual(decoded, sample);
  });

  it('compresses repeated names and decodes the pointers', () => {
    // Without the SRV record, whose target RFC 2782 keeps uncompressed.
    const bytes = encodeMessage({ ...sample, answers: sample.answers.filter((a) => a.data.type !== 'SRV') });
    const suffix = Buffer.from('\x04demo\x03svc\x07cluster\x05local\x00', 'latin1');
    // The long suffix is written once; every later occurrence is a 2-byte pointer.
    assert.equal(Buffer.from(bytes).indexOf(suffix), Buffer.from(bytes).lastIndexOf(suffix));
    assert.ok(bytes.length < 260, `${bytes.length} bytes: names were not compressed`);
  });

  it('keeps the SRV target uncompressed (RFC 2782)', () => {
    const msg: DnsMessage = { ...sample, answers: [sample.answers[4]!], authority: [], additional: [] };
    const bytes = Buffer.from(encodeMessage(msg));
    const target = Buffer.from('\x04echo\x04demo\x03svc\x07cluster\x05local\x00', 'latin1');
    assert.ok(bytes.indexOf(target) > 0, 'SRV target written in full');
  });

  it('escapes dots and unprintable bytes inside labels, and back', () => {
    const wire = writeName('a\\.b.\\000x.example', 0);
    assert.deepEqual([...wire.subarray(0, 4)], [3, 0x61, 0x2e, 0x62]);
    assert.equal(readName(wire, 0).name, 'a\\.b.\\000x.example');
  });

  it('refuses names that are not names', () => {
    assert.throws(
      () => writeName('a..b', 0),
      (e: unknown) => isMeshError(e, 'DNS_NAME_INVALID'),
    );
    assert.throws(
      () => writeName(`${'x'.repeat(64)}.local`, 0),
      (e: unknown) => isMeshError(e, 'DNS_NAME_INVALID'),
    );
    assert.throws(
      () => writeName(Array(130).fill('ab').join('.'), 0),
      (e: unknown) => isMeshError(e, 'DNS_NAME_INVALID'),
    );
  });

  it('sets TC and drops records when the message is larger than maxSize', () => {
    const many: DnsMessage = {
      ...sample,
      flags: { ...flags, tc: false },
      answers: Array.from({ length: 60 }, (_, i) =>
        rr('web.demo.svc.cluster.local', { type: 'A', address: `10.1.0.${i}` }),
      ),
      authority: [],
    };
    const full = encodeMessage(many);
    assert.ok(full.length > 512);
    const cut = decodeMessage(encodeMessage(many, { maxSize: 512 }));
    assert.equal(cut.flags.tc, true);
    assert.equal(cut.answers.length, 0);
    assert.deepEqual(cut.questions, many.questions);
    assert.equal(cut.edns?.udpPayloadSize, 1232, 'OPT survives truncation');
    assert.equal(decodeMessage(encodeMessage(many, { maxSize: full.length })).flags.tc, false);
  });

  it('carries a 12-bit rcode through the OPT record (BADVERS)', () => {
    const bytes = encodeMessage({ ...sample, flags: { ...flags, rcode: RCODE.BADVERS } });
    assert.equal(bytes[3]! & 0xf, 0);
    assert.equal(decodeMessage(bytes).flags.rcode, RCODE.BADVERS);
  });

  describe('malformed input', () => {
    const cases: [string, number[], RegExp][] = [
      ['empty packet', [], /shorter than the 12-byte header/],
      ['truncated header', header(1).slice(0, 7), /shorter than the 12-byte header/],
      ['question count larger than the packet', [...header(3), 0, 0, 1, 0, 1], /counts are larger/],
      ['answer count larger than the packet', [...header(1, 200), 0, 0, 1, 0, 1], /counts are larger/],
      ['truncated question', [...header(1), 3, 0x61, 0x62, 0x63, 0, 0, 1], /truncated question/],
      ['label past the end', [...header(1), 9, 0x61, 0x62, 0, 0, 0], /runs past the end/],
      ['pointer to itself', [...header(1), 0xc0, 12, 0, 1, 0, 1], /does not point backwards/],
      [
        'pointer loop between two names',
        // The first name jumps forward to the second, which jumps back to the first.
        [...header(2), 0xc0, 18, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1],
        /does not point backwards/,
      ],
      ['pointer past the end', [...header(1), 1, 0x61, 1, 0x62, 0xc0], /truncated compression pointer/],
      ['reserved label type', [...header(1), 0x80, 0, 0, 1, 0, 1], /unknown label type/],
      ['trailing bytes', [...header(1), 0, 0, 1, 0, 1, 0xff], /trailing bytes/],
      [
        'record data longer than the packet',
        [...header(0, 1), 0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 40, 10, 0, 0, 1],
        /truncated record data/,
      ],
      ['A record of 3 bytes', [...header(0, 1), 0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 3, 10, 0, 0], /wrong length/],
      [
        'CNAME target running past its record',
        [...header(0, 1), 0, 0, 5, 0, 1, 0, 0, 0, 5, 0, 2, 1, 0x61, 0],
        /past its record|wrong length/,
      ],
      [
        'OPT in the answer section',
        [...header(0, 1), 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0],
        /misplaced or repeated OPT/,
      ],
    ];
    for (const [what, bytes, pattern] of cases) {
      it(`rejects ${what}`, () => expectFormerr(Uint8Array.from(bytes), pattern));
    }

    it('never throws anything but DNS_FORMERR on random corruption', () => {
      const good = encodeMessage(sample);
      let seed = 42;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      for (let i = 0; i < 3000; i++) {
        const bad = good.slice(0, rand(good.length + 1));
        for (let j = 0; j < 3; j++) if (bad.length > 0) bad[rand(bad.length)] = rand(256);
        try {
          decodeMessage(bad);
        } catch (err) {
          assert.ok(isMeshError(err, 'DNS_FORMERR'), `unexpected ${String(err)}`);
        }
      }
    });
  });
});
