import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { describe, it } from 'mocha';
import { isMeshError } from '../../../common/errors.ts';
import { formatSpiffeId } from '../../../common/spiffe.ts';
import { nameDer } from '../../../certs/asn1.ts';
import { encode, Tag } from '../../../certs/der.ts';
import {
  authorityKeyIdentifier,
  basicConstraints,
  extKeyUsage,
  keyUsage,
  subjectKeyIdentifier,
  uriSubjectAltName,
  type ExtensionSpec,
  type KeyUsageName,
} from '../../../certs/extensions.ts';
import {
  CertificateAuthority,
  TrustBundle,
  VerifyError,
  caFilesOf,
  rootCaFiles,
  certFromPem,
  createCsr,
  generateKey,
  generateRoot,
  loadCaMaterial,
  verifyPeerChain,
  type Certificate,
} from '../../../certs/index.ts';
import { keyIdentifier, spkiOf } from '../../../certs/keys.ts';
import { Oid } from '../../../certs/oids.ts';
import { parseCertificate } from '../../../certs/parse.ts';
import { randomSerial } from '../../../certs/root.ts';
import { signCertificate } from '../../../certs/x509.ts';

const TD = 'cluster.local';
const ID = `spiffe://${TD}/ns/default/sa/web`;
const NOW = new Date('2025-06-01T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Signed {
  readonly key: KeyObject;
  readonly cert: Certificate;
}

interface ForgeOptions {
  /** URI SANs (default: [ID]); an empty list means no SAN extension. */
  readonly uris?: readonly string[];
  readonly dns?: readonly string[];
  /** EKU purposes (default: serverAuth + clientAuth); null omits the extension. */
  readonly eku?: readonly string[] | null;
  readonly ca?: boolean;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly subject?: Buffer;
  /** Key usages (default: by `ca`); null omits the extension. */
  readonly usage?: readonly KeyUsageName[] | null;
  readonly pathLen?: number;
  /** Extensions appended as they are (duplicates and unknown ones included). */
  readonly extra?: readonly ExtensionSpec[];
  /** The certified key (default: a fresh one), e.g. to renew a root with the same key. */
  readonly key?: KeyObject;
}

function sanExtension(uris: readonly string[], dns: readonly string[]): ExtensionSpec {
  const names = [
    ...uris.map((u) => encode(0x86, Buffer.from(u, 'ascii'))),
    ...dns.map((d) => encode(0x82, Buffer.from(d, 'ascii'))),
  ];
  return { oid: Oid.subjectAltName, critical: true, value: encode(Tag.SEQUENCE, ...names) };
}

/** Forges a certificate for a fresh key, signed by `issuer` (or by itself with `'self'`). */
function forge(issuer: Signed | 'self', o: ForgeOptions = {}): Signed {
  const { key, der } = forgeDer(issuer, o);
  return { key, cert: parseCertificate(der) };
}

/** {@link forge} without parsing the result, for certificates the parser must refuse. */
function forgeDer(issuer: Signed | 'self', o: ForgeOptions = {}): { key: KeyObject; der: Buffer } {
  const key = o.key ?? generateKey();
  const spki = spkiOf(key);
  const subject = o.subject ?? nameDer([]);
  const uris = o.uris ?? [ID];
  const dns = o.dns ?? [];
  const usage =
    o.usage === undefined
      ? o.ca === true
        ? (['digitalSignature', 'keyCertSign'] as const)
        : (['digitalSignature', 'keyEncipherment'] as const)
      : o.usage;
  const extensions: ExtensionSpec[] = [
    basicConstraints(o.ca ?? false, o.pathLen),
    ...(usage === null ? [] : [keyUsage(usage)]),
    subjectKeyIdentifier(keyIdentifier(spki)),
  ];
  if (o.eku !== null) extensions.push(extKeyUsage(o.eku ?? [Oid.serverAuth, Oid.clientAuth]));
  if (uris.length + dns.length > 0) extensions.push(sanExtension(uris, dns));
  extensions.push(...(o.extra ?? []));
  if (issuer !== 'self') {
    extensions.push(authorityKeyIdentifier(issuer.cert.subjectKeyId ?? keyIdentifier(issuer.cert.spki)));
  }
  const der = signCertificate(
    {
      serial: randomSerial(),
      issuer: issuer === 'self' ? subject : issuer.cert.subject,
      subject,
      notBefore: o.notBefore ?? new Date(NOW.getTime() - HOUR),
      notAfter: o.notAfter ?? new Date(NOW.getTime() + DAY),
      spki,
      extensions,
    },
    issuer === 'self' ? key : issuer.key,
  );
  return { key, der };
}

function caName(cn: string): Buffer {
  return nameDer([
    { shortName: 'O', value: TD },
    { shortName: 'CN', value: cn },
  ]);
}

function assertFails(
  chain: readonly Buffer[],
  bundle: TrustBundle,
  code: string,
  why: RegExp,
  role: 'client' | 'server' = 'client',
  now = NOW,
): void {
  assert.throws(
    () => verifyPeerChain(chain, bundle, role, now),
    (err: unknown) => {
      assert.ok(isMeshError(err, code), `expected ${code}, got ${String(err)}`);
      assert.match(err.message, why);
      return true;
    },
  );
}

describe('certs/verify', () => {
  const root: Signed = generateRoot({ trustDomain: TD, now: NOW });
  const bundle = new TrustBundle(TD, [root.cert]);
  const ca = new CertificateAuthority(loadCaMaterial(rootCaFiles(root), NOW), {
    trustDomain: TD,
    now: () => NOW,
  });
  const issued = ca.issue(createCsr(generateKey(), ID));
  const leafDer = issued.cert.der;

  const intermediate = forge(root, { ca: true, subject: caName('intermediate'), uris: [], eku: null });
  const intCa = new CertificateAuthority(
    loadCaMaterial(
      caFilesOf({
        key: intermediate.key,
        cert: intermediate.cert,
        chain: [intermediate.cert, root.cert],
        roots: [root.cert],
      }),
      NOW,
    ),
    { trustDomain: TD, now: () => NOW },
  );
  const intIssued = intCa.issue(createCsr(generateKey(), `spiffe://${TD}/ns/shop/sa/cart`));

  describe('accepts', () => {
    const good: readonly { name: string; chain: () => Buffer[]; id: string }[] = [
      { name: 'root mode: [leaf, root]', chain: () => [leafDer, root.cert.der], id: ID },
      { name: 'root mode: [leaf] alone', chain: () => [leafDer], id: ID },
      {
        name: 'intermediate mode: [leaf, intermediate, root]',
        chain: () => intIssued.certChainPem.map((p) => certFromPem(p, 'chain').der),
        id: `spiffe://${TD}/ns/shop/sa/cart`,
      },
      {
        name: 'intermediate mode: [leaf, intermediate]',
        chain: () => [intIssued.cert.der, intermediate.cert.der],
        id: `spiffe://${TD}/ns/shop/sa/cart`,
      },
    ];
    for (const c of good) {
      for (const role of ['client', 'server'] as const) {
        it(`${c.name} as ${role}`, () => {
          const id = verifyPeerChain(c.chain(), bundle, role, NOW);
          assert.equal(formatSpiffeId(id), c.id);
          assert.equal(id.trustDomain, TD);
        });
      }
    }

    it('uses the current time by default', () => {
      const fresh = generateRoot({ trustDomain: TD });
      const freshCa = new CertificateAuthority(loadCaMaterial(rootCaFiles(fresh)), { trustDomain: TD });
      const leaf = freshCa.issue(createCsr(generateKey(), ID));
      assert.equal(
        formatSpiffeId(verifyPeerChain([leaf.cert.der], new TrustBundle(TD, [fresh.cert]), 'server')),
        ID,
      );
    });
  });

  describe('refuses, each with its own code', () => {
    const otherRoot: Signed = generateRoot({ trustDomain: TD, now: NOW });
    const cases: readonly {
      name: string;
      chain: () => Buffer[];
      code: string;
      why: RegExp;
      role?: 'client' | 'server';
      now?: Date;
    }[] = [
      { name: 'empty chain', chain: () => [], code: VerifyError.EMPTY_CHAIN, why: /no certificate/ },
      {
        name: 'self-signed leaf',
        chain: () => [forge('self').cert.der],
        code: VerifyError.SELF_SIGNED_LEAF,
        why: /self-signed/,
      },
      {
        name: 'self-signed leaf with a subject',
        chain: () => [forge('self', { subject: caName('me') }).cert.der],
        code: VerifyError.SELF_SIGNED_LEAF,
        why: /self-signed/,
      },
      {
        name: 'the root presented as a leaf',
        chain: () => [root.cert.der],
        code: VerifyError.SELF_SIGNED_LEAF,
        why: /self-signed/,
      },
      {
        name: 'CA certificate as leaf',
        chain: () => [forge(root, { ca: true }).cert.der, root.cert.der],
        code: VerifyError.LEAF_IS_CA,
        why: /is a CA certificate/,
      },
      {
        name: 'intermediate presented as leaf',
        chain: () => [intermediate.cert.der, root.cert.der],
        code: VerifyError.LEAF_IS_CA,
        why: /is a CA certificate/,
      },
      {
        name: 'leaf from another CA',
        chain: () => [forge(otherRoot).cert.der, otherRoot.cert.der],
        code: VerifyError.UNTRUSTED,
        why: /does not lead to a root trusted for cluster\.local/,
      },
      {
        name: 'intermediate-issued leaf without its intermediate',
        chain: () => [intIssued.cert.der, root.cert.der],
        code: VerifyError.UNTRUSTED,
        why: /does not lead to a root/,
      },
      {
        name: 'expired leaf',
        chain: () => [
          forge(root, {
            notBefore: new Date(NOW.getTime() - 2 * DAY),
            notAfter: new Date(NOW.getTime() - DAY),
          }).cert.der,
        ],
        code: VerifyError.EXPIRED,
        why: /peer certificate expired at 2025-05-31T12:00:00\.000Z/,
      },
      {
        name: 'issued leaf checked after its notAfter',
        chain: () => [leafDer],
        now: new Date(NOW.getTime() + DAY + 1000),
        code: VerifyError.EXPIRED,
        why: /peer certificate expired/,
      },
      {
        name: 'leaf under an expired intermediate',
        chain: () => {
          const old = forge(root, {
            ca: true,
            subject: caName('old intermediate'),
            uris: [],
            notBefore: new Date(NOW.getTime() - 10 * DAY),
            notAfter: new Date(NOW.getTime() - DAY),
          });
          return [forge(old).cert.der, old.cert.der];
        },
        code: VerifyError.EXPIRED,
        why: /CA certificate 1 of the peer chain expired/,
      },
      {
        name: 'not-yet-valid leaf',
        chain: () => [
          forge(root, { notBefore: new Date(NOW.getTime() + HOUR), notAfter: new Date(NOW.getTime() + DAY) })
            .cert.der,
        ],
        code: VerifyError.NOT_YET_VALID,
        why: /not valid before 2025-06-01T13:00:00\.000Z/,
      },
      {
        name: 'leaf in another trust domain',
        chain: () => [forge(root, { uris: ['spiffe://other.example/ns/default/sa/web'] }).cert.der],
        code: VerifyError.WRONG_TRUST_DOMAIN,
        why: /spiffe:\/\/other\.example\/ns\/default\/sa\/web is not in trust domain cluster\.local/,
      },
      {
        name: 'server-only certificate used as a client',
        chain: () => [forge(root, { eku: [Oid.serverAuth] }).cert.der],
        role: 'client',
        code: VerifyError.WRONG_EKU,
        why: /may not be used as a TLS client/,
      },
      {
        name: 'client-only certificate used as a server',
        chain: () => [forge(root, { eku: [Oid.clientAuth] }).cert.der],
        role: 'server',
        code: VerifyError.WRONG_EKU,
        why: /may not be used as a TLS server/,
      },
      {
        name: 'certificate without extended key usage',
        chain: () => [forge(root, { eku: null }).cert.der],
        code: VerifyError.WRONG_EKU,
        why: /lacks clientAuth/,
      },
      {
        name: 'no URI SAN',
        chain: () => [forge(root, { uris: [] }).cert.der],
        code: VerifyError.NO_SPIFFE_ID,
        why: /has 0 URI SANs/,
      },
      {
        name: 'DNS SAN only',
        chain: () => [forge(root, { uris: [], dns: ['web.default.svc'] }).cert.der],
        code: VerifyError.NO_SPIFFE_ID,
        why: /has 0 URI SANs/,
      },
      {
        name: 'two URI SANs',
        chain: () => [forge(root, { uris: [ID, `spiffe://${TD}/ns/default/sa/db`] }).cert.der],
        code: VerifyError.NO_SPIFFE_ID,
        why: /has 2 URI SANs/,
      },
      {
        name: 'a non-SPIFFE URI SAN',
        chain: () => [forge(root, { uris: ['https://web.default.svc/'] }).cert.der],
        code: VerifyError.NO_SPIFFE_ID,
        why: /not a SPIFFE id/,
      },
      {
        name: 'a leaf without keyUsage',
        chain: () => [forge(root, { usage: null }).cert.der],
        code: VerifyError.LEAF_KEY_USAGE,
        why: /has no keyUsage/,
      },
      {
        name: 'a leaf without digitalSignature',
        chain: () => [forge(root, { usage: ['keyEncipherment'] }).cert.der],
        code: VerifyError.LEAF_KEY_USAGE,
        why: /lacks keyUsage digitalSignature/,
      },
      {
        name: 'a leaf that may sign certificates (cA false, keyCertSign)',
        chain: () => [forge(root, { usage: ['digitalSignature', 'keyCertSign', 'cRLSign'] }).cert.der],
        code: VerifyError.LEAF_KEY_USAGE,
        why: /may sign certificates or CRLs/,
      },
      {
        name: 'an intermediate that may not sign certificates',
        chain: () => {
          const weak = forge(root, {
            ca: true,
            subject: caName('weak'),
            uris: [],
            usage: ['digitalSignature'],
          });
          return [forge(weak).cert.der, weak.cert.der];
        },
        code: VerifyError.CA_KEY_USAGE,
        why: /CA certificate 1 of the peer chain may not sign certificates/,
      },
      {
        name: 'an intermediate under one that allows none (pathLen 0)',
        chain: () => {
          const top = forge(root, { ca: true, subject: caName('top'), uris: [], pathLen: 0 });
          const below = forge(top, { ca: true, subject: caName('below'), uris: [] });
          return [forge(below).cert.der, below.cert.der, top.cert.der];
        },
        code: VerifyError.PATH_LENGTH,
        why: /CA certificate 2 of the peer chain allows 0 CA certificate\(s\) below it/,
      },
      {
        name: 'a SPIFFE id without a path',
        chain: () => [forge(root, { uris: [`spiffe://${TD}`] }).cert.der],
        code: VerifyError.NO_SPIFFE_ID,
        why: /names only a trust domain/,
      },
      {
        name: 'two subjectAltName extensions',
        chain: () => [
          forgeDer(root, { extra: [uriSubjectAltName(`spiffe://${TD}/ns/kube-system/sa/admin`)] }).der,
        ],
        code: 'CERT_MALFORMED',
        why: /extension 2\.5\.29\.17 appears more than once/,
      },
      {
        name: 'an unknown critical extension',
        chain: () => [
          forgeDer(root, { extra: [{ oid: '1.2.3.4.5', critical: true, value: encode(Tag.NULL) }] }).der,
        ],
        code: 'CERT_MALFORMED',
        why: /critical extension 1\.2\.3\.4\.5 is not supported/,
      },
      {
        name: 'an intermediate with name constraints (critical, not supported)',
        chain: () => {
          const permitted = encode(
            Tag.SEQUENCE,
            encode(0xa0, encode(Tag.SEQUENCE, encode(0x82, Buffer.from('.other.example')))),
          );
          const constrained = forgeDer(root, {
            ca: true,
            subject: caName('constrained'),
            uris: [],
            extra: [{ oid: '2.5.29.30', critical: true, value: permitted }],
          });
          // The intermediate is refused while the chain is read, before any path is built.
          return [forge(root).cert.der, constrained.der];
        },
        code: 'CERT_MALFORMED',
        why: /critical extension 2\.5\.29\.30 is not supported/,
      },
      {
        name: 'garbage in the chain',
        chain: () => [Buffer.from('not a certificate')],
        code: 'CERT_MALFORMED',
        why: /not a valid X\.509 certificate/,
      },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.code}`, () => assertFails(c.chain(), bundle, c.code, c.why, c.role, c.now));
    }

    it('every VerifyError code is distinct', () => {
      const codes = Object.values(VerifyError);
      assert.equal(new Set(codes).size, codes.length);
      for (const code of codes)
        assert.ok(
          cases.some((c) => c.code === code),
          `no case for ${code}`,
        );
    });

    it('a wrong-EKU certificate is fine in the role it was made for', () => {
      const serverOnly = forge(root, { eku: [Oid.serverAuth] }).cert.der;
      assert.equal(formatSpiffeId(verifyPeerChain([serverOnly], bundle, 'server', NOW)), ID);
    });
  });

  describe('root rotation', () => {
    const newRoot: Signed = generateRoot({ trustDomain: TD, now: NOW });
    const both = new TrustBundle(TD, [root.cert]).merge(new TrustBundle(TD, [newRoot.cert]));

    it('a bundle with two roots accepts leaves of either', () => {
      assert.equal(formatSpiffeId(verifyPeerChain([leafDer], both, 'client', NOW)), ID);
      const fromNew = forge(newRoot, { uris: [`spiffe://${TD}/ns/a/sa/b`] }).cert.der;
      assert.equal(
        formatSpiffeId(verifyPeerChain([fromNew], both, 'server', NOW)),
        `spiffe://${TD}/ns/a/sa/b`,
      );
    });

    it('an expired root and its renewal (same subject and key) accept leaves in either order', () => {
      const key = generateKey();
      const subject = caName('renewed root');
      const expired = forge('self', {
        ca: true,
        key,
        subject,
        uris: [],
        notBefore: new Date(NOW.getTime() - 10 * DAY),
        notAfter: new Date(NOW.getTime() - DAY),
      });
      const renewed = forge('self', { ca: true, key, subject, uris: [] });
      const leaf = forge(renewed).cert.der;
      for (const roots of [
        [expired.cert, renewed.cert],
        [renewed.cert, expired.cert],
      ]) {
        assert.equal(formatSpiffeId(verifyPeerChain([leaf], new TrustBundle(TD, roots), 'client', NOW)), ID);
      }
      assertFails([leaf], new TrustBundle(TD, [expired.cert]), VerifyError.EXPIRED, /CA certificate 1/);
    });

    it('a bundle with only the new root refuses leaves of the old one', () => {
      assertFails([leafDer], new TrustBundle(TD, [newRoot.cert]), VerifyError.UNTRUSTED, /does not lead/);
    });
  });

  describe('TrustBundle', () => {
    const newRoot: Signed = generateRoot({ trustDomain: TD, now: NOW });
    const oldRoot: Signed = generateRoot({
      trustDomain: TD,
      now: new Date(NOW.getTime() - 10 * DAY),
      validityDays: 5,
    });

    it('merge unions the roots without duplicates', () => {
      const a = new TrustBundle(TD, [root.cert]);
      const merged = a.merge(new TrustBundle(TD, [root.cert, newRoot.cert]));
      assert.deepEqual(
        merged.roots.map((r) => r.serialHex),
        [root.cert.serialHex, newRoot.cert.serialHex],
      );
      assert.equal(a.roots.length, 1, 'merge must not mutate its receiver');
      assert.ok(Object.isFrozen(merged) && Object.isFrozen(merged.roots));
    });

    it('merge refuses another trust domain → BUNDLE_MISMATCH', () => {
      assert.throws(
        () => new TrustBundle(TD, [root.cert]).merge(new TrustBundle('other.example', [newRoot.cert])),
        (e: unknown) =>
          isMeshError(e, 'BUNDLE_MISMATCH') && /cluster\.local and other\.example/.test(e.message),
      );
    });

    it('withoutExpired drops expired roots and keeps the others', () => {
      const b = new TrustBundle(TD, [oldRoot.cert, root.cert]);
      const pruned = b.withoutExpired(NOW);
      assert.deepEqual(
        pruned.roots.map((r) => r.serialHex),
        [root.cert.serialHex],
      );
      assert.equal(b.roots.length, 2);
      assert.equal(pruned.trustDomain, TD);
    });

    it('withoutExpired returns the same bundle when nothing expired', () => {
      const b = new TrustBundle(TD, [root.cert, newRoot.cert]);
      assert.equal(b.withoutExpired(NOW), b);
    });

    it('withoutExpired of only expired roots → BUNDLE_EMPTY', () => {
      assert.throws(
        () => new TrustBundle(TD, [oldRoot.cert]).withoutExpired(NOW),
        (e: unknown) => isMeshError(e, 'BUNDLE_EMPTY'),
      );
    });

    it('fromPem/toPem round-trip, and bad inputs are refused', () => {
      const b = new TrustBundle(TD, [root.cert, newRoot.cert]);
      const again = TrustBundle.fromPem(TD, b.toPem());
      assert.deepEqual(
        again.roots.map((r) => r.der.toString('hex')),
        b.roots.map((r) => r.der.toString('hex')),
      );
      assert.throws(
        () => new TrustBundle(TD, []),
        (e: unknown) => isMeshError(e, 'BUNDLE_EMPTY'),
      );
      assert.throws(
        () => new TrustBundle('Bad TD', [root.cert]),
        (e: unknown) => isMeshError(e, 'SPIFFE_ID_INVALID'),
      );
      assert.throws(
        () => TrustBundle.fromPem(TD, 'no pem here'),
        (e: unknown) => isMeshError(e, 'CERT_MALFORMED'),
      );
    });
  });
});
