import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { isMeshError } from '../../../common/errors.ts';
import {
  children,
  decodeBoolean,
  decodeOid,
  decodeSmallInt,
  decodeTime,
  encode,
  readRoot,
  readTlv,
  Tag,
  type Tlv,
} from '../../../certs/der.ts';
import { createCsr, generateKey, inMemoryRootCa } from '../../../certs/index.ts';
import { parseCertificate } from '../../../certs/parse.ts';

const hex = (s: string): Buffer => Buffer.from(s.replaceAll(' ', ''), 'hex');

function refuses(fn: () => unknown, code: string, why: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isMeshError(err, code), `expected ${code}, got ${String(err)}`);
    assert.match(err.message, why);
    return true;
  });
}

/** The one element of `der`, for the decoders that take a TLV. */
function tlv(der: Buffer): Tlv {
  return readTlv(der, 0);
}

describe('certs/der', () => {
  describe('lengths (X.690 §10.1: DER takes the fewest octets)', () => {
    it('reads short and long forms', () => {
      assert.equal(readTlv(hex('04 03 010203')).end, 5);
      const long = Buffer.concat([hex('04 81 80'), Buffer.alloc(128)]);
      assert.equal(readTlv(long).end, 131);
    });
    const bad: readonly [string, string, RegExp][] = [
      ['indefinite length', '30 80 0000', /indefinite length/],
      ['a leading zero length octet', '04 82 0003 010203', /leading zero octet/],
      ['long form below 128', '04 81 03 010203', /long-form length below 128/],
      ['more than four length octets', '04 85 0100000000', /unsupported length/],
    ];
    for (const [name, bytes, why] of bad) {
      it(`refuses ${name}`, () => refuses(() => readTlv(hex(bytes)), 'DER_MALFORMED', why));
    }
  });

  describe('OBJECT IDENTIFIER', () => {
    const good: readonly [string, string][] = [
      ['2a864886f70d010101', '1.2.840.113549.1.1.1'],
      ['551d11', '2.5.29.17'],
      ['2b06010505070302', '1.3.6.1.5.5.7.3.2'],
      // The first subidentifier 128 = 40 × 2 + 48: arc 2 may take second arcs above 39.
      ['8100', '2.48'],
      ['00', '0.0'],
    ];
    for (const [bytes, oid] of good) it(`${bytes} → ${oid}`, () => assert.equal(decodeOid(hex(bytes)), oid));

    const bad: readonly [string, string, RegExp][] = [
      ['a subidentifier padded with 0x80 (aliases subjectAltName)', '551d8011', /leading 0x80/],
      ['a last octet with the continuation bit', '551d11ff', /ends inside a subidentifier/],
      ['an arc beyond 2^53', '2a ffffffffffffffff7f', /arc too large/],
      ['no octets', '', /empty OID/],
    ];
    for (const [name, bytes, why] of bad) {
      it(`refuses ${name}`, () => refuses(() => decodeOid(hex(bytes)), 'DER_MALFORMED', why));
    }
  });

  describe('BOOLEAN and small INTEGERs', () => {
    it('reads 00 and FF', () => {
      assert.equal(decodeBoolean(hex('010100'), tlv(hex('010100'))), false);
      assert.equal(decodeBoolean(hex('0101ff'), tlv(hex('0101ff'))), true);
    });
    for (const bytes of ['0100', '010101', '01020000']) {
      it(`refuses BOOLEAN ${bytes}`, () =>
        refuses(() => decodeBoolean(hex(bytes), tlv(hex(bytes))), 'DER_MALFORMED', /BOOLEAN/));
    }
    it('reads 0, 127 and 128', () => {
      for (const [bytes, n] of [
        ['020100', 0],
        ['02017f', 127],
        ['02020080', 128],
      ] as const) {
        assert.equal(decodeSmallInt(hex(bytes), tlv(hex(bytes)), 'n'), n);
      }
    });
    const bad: readonly [string, RegExp][] = [
      ['0200', /empty INTEGER/],
      ['02020001', /non-minimal/],
      ['0201ff', /negative/],
      ['02050100000000', /too large/],
    ];
    for (const [bytes, why] of bad) {
      it(`refuses INTEGER ${bytes}`, () =>
        refuses(() => decodeSmallInt(hex(bytes), tlv(hex(bytes)), 'n'), 'DER_MALFORMED', why));
    }
  });

  describe('times', () => {
    const time = (tag: number, s: string): Buffer => encode(tag, Buffer.from(s, 'latin1'));
    it('reads UTCTime (two-digit years per RFC 5280) and GeneralizedTime', () => {
      const a = time(Tag.UTC_TIME, '250601120000Z');
      assert.equal(decodeTime(a, tlv(a)).toISOString(), '2025-06-01T12:00:00.000Z');
      const b = time(Tag.UTC_TIME, '991231235959Z');
      assert.equal(decodeTime(b, tlv(b)).toISOString(), '1999-12-31T23:59:59.000Z');
      const c = time(Tag.GENERALIZED_TIME, '20510228000000Z');
      assert.equal(decodeTime(c, tlv(c)).toISOString(), '2051-02-28T00:00:00.000Z');
    });
    for (const s of ['251301120000Z', '250230120000Z', '250601240000Z', '250601126000Z', '250601120060Z']) {
      it(`refuses UTCTime ${s} (a field out of range, not rolled over)`, () => {
        const t = time(Tag.UTC_TIME, s);
        refuses(() => decodeTime(t, tlv(t)), 'DER_MALFORMED', /invalid time/);
      });
    }
  });
});

describe('certs/parse: certificate structure (RFC 5280 §4.1)', () => {
  const ca = inMemoryRootCa('cluster.local');
  const good = ca.issue(createCsr(generateKey(), 'spiffe://cluster.local/ns/default/sa/web')).cert.der;
  const top = children(good, readRoot(good, Tag.SEQUENCE));
  const [tbsT, algT, sigT] = top as [Tlv, Tlv, Tlv];
  const part = (t: Tlv): Buffer => good.subarray(t.start, t.end);
  const fields = children(good, tbsT).map(part);

  /** A certificate whose TBSCertificate holds `tbsFields` (not re-signed: parsing checks no signature). */
  function withTbs(
    tbsFields: readonly Buffer[],
    outer: readonly Buffer[] = [part(algT), part(sigT)],
  ): Buffer {
    return encode(Tag.SEQUENCE, encode(Tag.SEQUENCE, ...tbsFields), ...outer);
  }

  it('the untouched certificate parses, and so does its reassembly', () => {
    assert.equal(parseCertificate(good).isCa, false);
    assert.deepEqual(withTbs(fields), good);
    assert.ok(parseCertificate(withTbs(fields)));
  });

  // fields: [0] version, serial, signature, issuer, validity, subject, spki, [3] extensions
  const replace = (i: number, by: Buffer): Buffer[] => fields.map((f, j) => (j === i ? by : f));
  const cases: readonly { name: string; der: () => Buffer; why: RegExp }[] = [
    {
      name: 'a fourth element in the Certificate',
      der: () => withTbs(fields, [part(algT), part(sigT), encode(Tag.NULL)]),
      why: /a certificate is \{tbsCertificate/,
    },
    {
      name: 'an extra element after subjectPublicKeyInfo',
      der: () => withTbs([...fields.slice(0, 7), encode(Tag.NULL), ...fields.slice(7)]),
      why: /unexpected field with tag 0x5/,
    },
    {
      name: 'extensions before a subject unique id',
      der: () => withTbs([...fields, encode(0x82, Buffer.from([0]))]),
      why: /unexpected field with tag 0x82/,
    },
    {
      name: 'a zero-length serial number',
      der: () => withTbs(replace(1, encode(Tag.INTEGER))),
      why: /serialNumber is empty/,
    },
    {
      name: 'a signed algorithm that differs from the outer one',
      der: () =>
        withTbs(replace(2, encode(Tag.SEQUENCE, encode(Tag.OID, Buffer.from('2a864886f70d01010b', 'hex'))))),
      why: /differs from the outer one/,
    },
    {
      name: 'a subject that is not an RDNSequence',
      der: () => withTbs(replace(5, encode(Tag.SEQUENCE, encode(Tag.INTEGER, Buffer.from([1]))))),
      why: /subject RDN has tag 0x2/,
    },
    {
      name: 'a validity with three times',
      der: () => {
        const v = children(good, children(good, tbsT)[4] as Tlv).map(part);
        return withTbs(replace(4, encode(Tag.SEQUENCE, ...v, v[0] as Buffer)));
      },
      why: /validity is not/,
    },
    {
      name: 'version 4',
      der: () => withTbs(replace(0, encode(0xa0, encode(Tag.INTEGER, Buffer.from([3]))))),
      why: /unknown certificate version 4/,
    },
    {
      name: 'a signature with unused bits',
      der: () => {
        const sig = Buffer.from(good.subarray(sigT.contentStart, sigT.end));
        sig[0] = 7;
        return withTbs(fields, [part(algT), encode(Tag.BIT_STRING, sig)]);
      },
      why: /0 unused bits/,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}`, () => refuses(() => parseCertificate(c.der()), 'CERT_MALFORMED', c.why));
  }
});
