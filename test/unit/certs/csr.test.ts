import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { isMeshError } from '../../../common/errors.ts';
import { oidDer, pemEncode } from '../../../certs/asn1.ts';
import { encode, Tag } from '../../../certs/der.ts';
import { extensionSequenceDer, uriSubjectAltName } from '../../../certs/extensions.ts';

import {
  buildCsr,
  createCsr,
  generateKey,
  privateKeyToPem,
  verifyCsr,
  type KeyKind,
} from '../../../certs/index.ts';
import { signatureAlgorithm, signData, spkiOf } from '../../../certs/keys.ts';
import { Oid } from '../../../certs/oids.ts';

const ID = 'spiffe://cluster.local/ns/default/sa/web';

/** Asserts `fn` throws a MeshError with `code` (and a message matching `why`, when given). */
function assertCode(fn: () => unknown, code: string, why?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isMeshError(err, code), `expected ${code}, got ${String(err)}`);
    if (why !== undefined) assert.match(err.message, why);
    return true;
  });
}

/** The parts of a hand-built CSR; each defaults to what createCsr would write. */
interface RawCsr {
  readonly version?: Buffer;
  readonly subject?: Buffer;
  readonly spki?: Buffer;
  readonly extra?: readonly Buffer[];
  readonly algorithm?: Buffer;
  readonly unusedBits?: number;
}

/** A CSR for ID assembled from `parts` and signed by `key` over what it holds. */
function rawCsr(key: KeyObject, parts: RawCsr = {}): string {
  const attributes = encode(
    0xa0,
    encode(
      Tag.SEQUENCE,
      oidDer(Oid.extensionRequest),
      encode(Tag.SET, extensionSequenceDer([uriSubjectAltName(ID)])),
    ),
  );
  const info = encode(
    Tag.SEQUENCE,
    parts.version ?? encode(Tag.INTEGER, Buffer.from([0])),
    parts.subject ?? encode(Tag.SEQUENCE),
    parts.spki ?? spkiOf(key),
    attributes,
    ...(parts.extra ?? []),
  );
  const der = encode(
    Tag.SEQUENCE,
    info,
    parts.algorithm ?? signatureAlgorithm(key),
    encode(Tag.BIT_STRING, Buffer.from([parts.unusedBits ?? 0]), signData(info, key)),
  );
  return pemEncode('CERTIFICATE REQUEST', der);
}

function pemBody(pem: string): Buffer {
  const b64 = pem
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('-----'))
    .join('');
  return Buffer.from(b64, 'base64');
}

describe('certs/csr', () => {
  let dir: string;
  const openssl = (...args: string[]): string =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

  /** Writes a key of the given openssl genpkey options; returns its file name. */
  function opensslKey(name: string, ...genpkey: string[]): string {
    openssl('genpkey', ...genpkey, '-out', name);
    return name;
  }

  /** A CSR made by openssl with an empty subject and the given SAN extension (if any). */
  function opensslCsr(keyFile: string, san?: string): string {
    const out = `req-${Math.random().toString(36).slice(2)}.csr`;
    const args = ['req', '-new', '-key', keyFile, '-subj', '/', '-out', out];
    if (san !== undefined) args.push('-addext', `subjectAltName=${san}`);
    openssl(...args);
    return readFileSync(join(dir, out), 'utf8');
  }

  let p256File: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'waymesh-csr-'));
    p256File = opensslKey('p256.pem', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('round trip', () => {
    const kinds: readonly KeyKind[] = ['ec-p256', 'rsa-2048'];
    for (const kind of kinds) {
      it(`createCsr → verifyCsr with ${kind}`, () => {
        const key = generateKey(kind);
        const pem = createCsr(key, ID);
        assert.match(pem, /^-----BEGIN CERTIFICATE REQUEST-----\r?\n/);
        const csr = verifyCsr(pem);
        assert.equal(csr.identity, ID);
        assert.ok(csr.spki.equals(createPublicKey(key).export({ type: 'spki', format: 'der' })));
        assert.ok(Object.isFrozen(csr));
      });
    }

    it('openssl verifies the CSR createCsr makes and sees its URI SAN', () => {
      writeFileSync(join(dir, 'ours.csr'), createCsr(generateKey('ec-p256'), ID));
      // `req -verify` exits non-zero when the self-signature does not verify.
      const text = openssl('req', '-in', 'ours.csr', '-verify', '-noout', '-text');
      assert.match(
        text,
        /Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/web/,
      );
    });

    it('accepts a P-256 CSR made by openssl', () => {
      const csr = verifyCsr(opensslCsr(p256File, `URI:${ID}`));
      assert.equal(csr.identity, ID);
      const pub = createPublicKey(readFileSync(join(dir, p256File), 'utf8'));
      assert.ok(csr.spki.equals(pub.export({ type: 'spki', format: 'der' })));
    });

    it('createCsr refuses an invalid SPIFFE id', () => {
      assertCode(() => createCsr(generateKey(), 'spiffe://Cluster.local/ns/a/sa/b'), 'SPIFFE_ID_INVALID');
      assertCode(() => createCsr(generateKey(), 'https://example.com/'), 'SPIFFE_ID_INVALID');
    });
  });

  describe('refusals', () => {
    it('a CSR altered in its signed part → CSR_BAD_SIGNATURE', () => {
      const der = pemBody(createCsr(generateKey(), ID));
      // Change one letter of the requested identity: the structure stays valid, the signature not.
      const at = der.indexOf(Buffer.from('/sa/web'));
      assert.ok(at > 0);
      const tampered = Buffer.from(der);
      tampered[at + '/sa/'.length] = 'x'.charCodeAt(0);
      assertCode(
        () => verifyCsr(pemEncode('CERTIFICATE REQUEST', tampered)),
        'CSR_BAD_SIGNATURE',
        /does not verify/,
      );
    });

    it('a CSR whose key was swapped → CSR_BAD_SIGNATURE', () => {
      const signer = generateKey();
      const der = pemBody(createCsr(signer, ID));
      const own = spkiOf(signer);
      const other = spkiOf(generateKey());
      const spkiAt = der.indexOf(own);
      assert.ok(spkiAt > 0);
      const swapped = Buffer.concat([der.subarray(0, spkiAt), other, der.subarray(spkiAt + own.length)]);
      assert.equal(swapped.length, der.length);
      assertCode(() => verifyCsr(pemEncode('CERTIFICATE REQUEST', swapped)), 'CSR_BAD_SIGNATURE');
    });

    const unsupported: readonly { name: string; genpkey: string[]; why: RegExp }[] = [
      {
        name: 'RSA-1024',
        genpkey: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
        why: /RSA key of 1024 bits/,
      },
      {
        name: 'EC P-384',
        genpkey: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
        why: /EC curve secp384r1/,
      },
      { name: 'Ed25519', genpkey: ['-algorithm', 'ED25519'], why: /key type ed25519/ },
    ];
    for (const c of unsupported) {
      it(`a ${c.name} key → KEY_UNSUPPORTED`, () => {
        const keyFile = opensslKey(`${c.name}.pem`, ...c.genpkey);
        assertCode(() => verifyCsr(opensslCsr(keyFile, `URI:${ID}`)), 'KEY_UNSUPPORTED', c.why);
      });
    }

    const badIdentity: readonly { name: string; san: string | undefined; why: RegExp }[] = [
      {
        name: 'two URI SANs',
        san: `URI:${ID},URI:spiffe://cluster.local/ns/default/sa/db`,
        why: /found 2 URI\(s\) and 0 other/,
      },
      { name: 'a URI and a DNS SAN', san: `URI:${ID},DNS:web.default.svc`, why: /1 URI\(s\) and 1 other/ },
      { name: 'only a DNS SAN', san: 'DNS:web.default.svc', why: /0 URI\(s\) and 1 other/ },
      { name: 'no SAN', san: undefined, why: /no subjectAltName/ },
      { name: 'a non-SPIFFE URI', san: 'URI:https://web.default.svc/', why: /scheme/ },
      { name: 'an invalid SPIFFE URI', san: 'URI:spiffe://cluster.local/ns//sa/web', why: /empty segment/ },
    ];
    for (const c of badIdentity) {
      it(`${c.name} → CSR_IDENTITY_INVALID`, () => {
        assertCode(() => verifyCsr(opensslCsr(p256File, c.san)), 'CSR_IDENTITY_INVALID', c.why);
      });
    }

    it('an unreadable SAN extension value → CSR_MALFORMED (regression: was DER_MALFORMED)', () => {
      // A signed, structurally valid CSR whose SAN value is a truncated SEQUENCE. It used to
      // escape verifyCsr as DER_MALFORMED, which the CA service reports as an internal error.
      const key = generateKey();
      const pem = buildCsr(key, [
        { oid: Oid.subjectAltName, critical: true, value: Buffer.from([0x30, 0x05, 0x86, 0x01]) },
      ]);
      assertCode(() => verifyCsr(pem), 'CSR_MALFORMED', /malformed/);
    });

    it('a key whose encoding is BER is certified in canonical DER (regression: the CA answered INTERNAL)', () => {
      const key = generateKey();
      const spki = spkiOf(key); // 30 59 | 30 13 <algorithm> | 03 42 <key bits>
      const alg = spki.subarray(2, 4 + (spki[3] ?? 0));
      const bits = spki.subarray(2 + alg.length + 2); // the BIT STRING's content (short-form length)
      // The key bits as a constructed BIT STRING: BER that OpenSSL reads, not DER.
      const ber = encode(Tag.SEQUENCE, alg, encode(0x23, encode(Tag.BIT_STRING, bits)));
      assert.equal(createPublicKey({ key: ber, format: 'der', type: 'spki' }).asymmetricKeyType, 'ec');
      const verified = verifyCsr(rawCsr(key, { spki: ber }));
      assert.deepEqual(verified.spki, spki);
    });

    it('a signature labelled with the other key type → CSR_BAD_SIGNATURE', () => {
      const rsa = generateKey('rsa-2048');
      const ecdsaLabel = encode(Tag.SEQUENCE, oidDer(Oid.ecdsaWithSha256));
      assertCode(() => verifyCsr(rawCsr(rsa, { algorithm: ecdsaLabel })), 'CSR_BAD_SIGNATURE');
      const ec = generateKey();
      const rsaLabel = encode(Tag.SEQUENCE, oidDer(Oid.sha256WithRsa), encode(Tag.NULL));
      assertCode(() => verifyCsr(rawCsr(ec, { algorithm: rsaLabel })), 'CSR_BAD_SIGNATURE');
    });

    const notDer: readonly { name: string; parts: (key: KeyObject) => RawCsr; why: RegExp }[] = [
      {
        name: 'a key with a non-minimal length',
        parts: (key) => {
          const spki = spkiOf(key);
          return { spki: Buffer.concat([Buffer.from([0x30, 0x82, 0x00, spki[1] ?? 0]), spki.subarray(2)]) };
        },
        why: /leading zero octet/,
      },
      {
        name: 'version written in two octets',
        parts: () => ({ version: encode(Tag.INTEGER, Buffer.from([0, 0])) }),
        why: /version must be 0/,
      },
      {
        name: 'a subject that is not a Name',
        parts: () => ({ subject: encode(Tag.INTEGER, Buffer.from([1])) }),
        why: /subject has tag 0x2/,
      },
      {
        name: 'an extra field after the attributes',
        parts: () => ({ extra: [encode(Tag.NULL)] }),
        why: /certificationRequestInfo is not/,
      },
      { name: 'signature bits with unused bits', parts: () => ({ unusedBits: 5 }), why: /0 unused bits/ },
    ];
    for (const c of notDer) {
      it(`${c.name} → CSR_MALFORMED`, () => {
        const key = generateKey();
        assertCode(() => verifyCsr(rawCsr(key, c.parts(key))), 'CSR_MALFORMED', c.why);
      });
    }

    it('the SAN extension requested twice → CSR_MALFORMED', () => {
      const pem = buildCsr(generateKey(), [
        uriSubjectAltName(ID),
        uriSubjectAltName('spiffe://cluster.local/ns/kube-system/sa/admin'),
      ]);
      assertCode(() => verifyCsr(pem), 'CSR_MALFORMED', /requested more than once/);
    });

    const malformed: readonly { name: string; pem: () => string; why: RegExp }[] = [
      { name: 'empty input', pem: () => '', why: /found 0/ },
      { name: 'plain garbage', pem: () => 'not a csr at all', why: /found 0/ },
      {
        name: 'garbage inside a PEM block',
        pem: () => pemEncode('CERTIFICATE REQUEST', Buffer.from('garbage bytes')),
        why: /malformed/,
      },
      {
        name: 'a broken PEM armour',
        pem: () => '-----BEGIN CERTIFICATE REQUEST-----\n@@@@\n',
        why: /malformed/,
      },
      {
        name: 'two CSR blocks',
        pem: () => createCsr(generateKey(), ID) + createCsr(generateKey(), ID),
        why: /expected one PEM block, found 2/,
      },
      {
        name: 'a certificate instead of a CSR',
        pem: () => pemEncode('CERTIFICATE', pemBody(createCsr(generateKey(), ID))),
        why: /the PEM block is a "CERTIFICATE", not a "CERTIFICATE REQUEST"/,
      },
      {
        name: 'a private key instead of a CSR',
        pem: () => privateKeyToPem(generateKey()),
        why: /the PEM block is a "PRIVATE KEY"/,
      },
      {
        name: 'a CSR followed by a certificate block',
        pem: () => createCsr(generateKey(), ID) + pemEncode('CERTIFICATE', Buffer.from([0x30, 0x00])),
        why: /expected one PEM block, found 2/,
      },
      {
        name: 'a CSR block with encryption headers',
        pem: () =>
          createCsr(generateKey(), ID).replace(
            /-----\r?\n/,
            '-----\r\nProc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\r\n\r\n',
          ),
        why: /carries headers/,
      },
      {
        name: 'trailing bytes after the CSR',
        pem: () =>
          pemEncode(
            'CERTIFICATE REQUEST',
            Buffer.concat([pemBody(createCsr(generateKey(), ID)), Buffer.from([0])]),
          ),
        why: /trailing bytes/,
      },
      {
        name: 'a CSR truncated by one byte',
        pem: () => {
          const der = pemBody(createCsr(generateKey(), ID));
          return pemEncode('CERTIFICATE REQUEST', der.subarray(0, der.length - 1));
        },
        why: /malformed/,
      },
    ];
    for (const c of malformed) {
      it(`${c.name} → CSR_MALFORMED`, () => assertCode(() => verifyCsr(c.pem()), 'CSR_MALFORMED', c.why));
    }
  });
});
