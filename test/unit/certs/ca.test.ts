import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { isMeshError } from '../../../common/errors.ts';
import { createLogger } from '../../../common/log.ts';
import {
  BACKDATE_SECONDS,
  CA_FILE_NAMES,
  CertificateAuthority,
  DEFAULT_TTL_SECONDS,
  FileCaStore,
  MAX_TTL_SECONDS,
  rootCaFiles,
  certFromPem,
  createCsr,
  generateKey,
  generateRoot,
  loadCaMaterial,
  loadOrCreateCa,
  verifyCsr,
  type CaMaterial,
  type KeyKind,
} from '../../../certs/index.ts';
import { Oid } from '../../../certs/oids.ts';
import { isSignedBy } from '../../../certs/parse.ts';

const TD = 'cluster.local';
const ID = `spiffe://${TD}/ns/default/sa/web`;
// Whole seconds: certificate times have one-second precision.
const NOW = new Date('2025-06-01T12:00:00Z');
const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

function rootMaterial(now: Date, opts: { validityDays?: number; keyKind?: KeyKind } = {}): CaMaterial {
  const root = generateRoot({ trustDomain: TD, now, ...opts });
  return loadCaMaterial(rootCaFiles(root), now);
}

async function rejectsWithCode(p: Promise<unknown>, code: string, why?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isMeshError(err, code), `expected ${code}, got ${String(err)}`);
    if (why !== undefined) assert.match(err.message, why);
    return true;
  });
}

describe('certs/ca', () => {
  let material: CaMaterial;
  let ca: CertificateAuthority;
  const csrPem = createCsr(generateKey(), ID);

  before(() => {
    material = rootMaterial(NOW);
    ca = new CertificateAuthority(material, { trustDomain: TD, now: () => NOW });
  });

  describe('issued leaf', () => {
    it('has exactly one URI SAN, the requested identity, and nothing else', () => {
      const issued = ca.issue(csrPem);
      assert.equal(issued.identity, ID);
      assert.deepEqual(issued.cert.uris, [ID]);
      assert.equal(issued.cert.otherSans, 0);
      // Cross-check with OpenSSL's parser.
      assert.equal(new X509Certificate(issued.cert.der).subjectAltName, `URI:${ID}`);
    });

    it('carries EKU serverAuth + clientAuth and keyUsage digitalSignature + keyEncipherment', () => {
      const { cert } = ca.issue(csrPem);
      assert.deepEqual(cert.extKeyUsage, [Oid.serverAuth, Oid.clientAuth]);
      assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ['digitalSignature', 'keyEncipherment']);
      assert.deepEqual(new X509Certificate(cert.der).keyUsage, [Oid.serverAuth, Oid.clientAuth]);
    });

    it('is not a CA, has an empty subject and is signed by the CA key', () => {
      const { cert } = ca.issue(csrPem);
      const x = new X509Certificate(cert.der);
      assert.equal(cert.isCa, false);
      assert.equal(x.ca, false);
      assert.ok(cert.subject.equals(Buffer.from([0x30, 0x00])));
      assert.ok(cert.issuer.equals(material.cert.subject));
      assert.ok(isSignedBy(cert, material.cert));
      assert.ok(x.verify(new X509Certificate(material.cert.der).publicKey));
      assert.ok(cert.authorityKeyId?.equals(material.cert.subjectKeyId ?? Buffer.alloc(0)));
      assert.ok(cert.spki.equals(verifyCsr(csrPem).spki));
    });

    it('lives 24 h by default and is backdated, with a fixed clock', () => {
      assert.equal(DEFAULT_TTL_SECONDS, 24 * 3600);
      const issued = ca.issue(csrPem);
      assert.equal(issued.notAfter.getTime(), NOW.getTime() + DAY);
      assert.equal(issued.cert.notAfter.getTime(), NOW.getTime() + DAY);
      assert.ok(issued.cert.notBefore.getTime() <= NOW.getTime());
      assert.ok(issued.cert.notBefore.getTime() >= NOW.getTime() - 10 * 60 * 1000);
      assert.equal(issued.cert.notBefore.getTime(), NOW.getTime() - BACKDATE_SECONDS * 1000);
      assert.equal(issued.notBefore.getTime(), issued.cert.notBefore.getTime());
    });

    it('reports the validity the certificate carries (regression: notAfter was up to 1 s later)', () => {
      // Certificate times have one-second precision; a clock with milliseconds used to leak
      // them into IssuedCertificate, which then claimed validity the certificate does not have.
      const msNow = new Date(NOW.getTime() + 789);
      const msCa = new CertificateAuthority(material, { trustDomain: TD, now: () => msNow });
      const issued = msCa.issue(csrPem);
      assert.equal(issued.notAfter.getTime(), issued.cert.notAfter.getTime());
      assert.equal(issued.notBefore.getTime(), issued.cert.notBefore.getTime());
      assert.equal(issued.notAfter.getTime(), NOW.getTime() + DAY);
    });

    const ttls: readonly { name: string; ttl: number | undefined; lifetimeMs: number }[] = [
      { name: 'absent → default 24 h', ttl: undefined, lifetimeMs: DAY },
      { name: '0 → default', ttl: 0, lifetimeMs: DAY },
      { name: 'negative → default', ttl: -5, lifetimeMs: DAY },
      { name: '1 h', ttl: 3600, lifetimeMs: HOUR },
      { name: 'exactly 90 days', ttl: MAX_TTL_SECONDS, lifetimeMs: 90 * DAY },
      { name: '1 year → clamped to 90 days', ttl: 365 * 24 * 3600, lifetimeMs: 90 * DAY },
    ];
    for (const c of ttls) {
      it(`ttl ${c.name}`, () => {
        const issued = ca.issue(csrPem, c.ttl);
        assert.equal(issued.cert.notAfter.getTime() - NOW.getTime(), c.lifetimeMs);
      });
    }

    it('honours the CA defaultTtlSeconds and maxTtlSeconds options', () => {
      const custom = new CertificateAuthority(material, {
        trustDomain: TD,
        now: () => NOW,
        defaultTtlSeconds: 600,
        maxTtlSeconds: 7200,
      });
      assert.equal(custom.issue(csrPem).notAfter.getTime(), NOW.getTime() + 600_000);
      assert.equal(custom.issue(csrPem, 86_400).notAfter.getTime(), NOW.getTime() + 7_200_000);
    });

    it('never outlives the CA certificate', () => {
      const shortLived = rootMaterial(NOW, { validityDays: 1 });
      const shortCa = new CertificateAuthority(shortLived, { trustDomain: TD, now: () => NOW });
      const issued = shortCa.issue(csrPem, 7 * 24 * 3600);
      assert.equal(issued.notAfter.getTime(), shortLived.cert.notAfter.getTime());
      assert.equal(issued.cert.notAfter.getTime(), shortLived.cert.notAfter.getTime());
    });

    for (const ttl of [Number.NaN, Number.POSITIVE_INFINITY]) {
      it(`refuses a non-finite TTL (${ttl}) → CA_INVALID_ARGUMENT (regression: NaN produced invalid dates)`, () => {
        const fixed = new CertificateAuthority(material, { trustDomain: TD, now: () => NOW });
        assert.throws(
          () => fixed.issue(csrPem, ttl),
          (err: unknown) => isMeshError(err, 'CA_INVALID_ARGUMENT'),
        );
      });
    }

    it('refuses to issue once the CA certificate has expired → CA_EXPIRED', () => {
      const later = new Date(material.cert.notAfter.getTime() + 1000);
      const expiredCa = new CertificateAuthority(material, { trustDomain: TD, now: () => later });
      assert.throws(
        () => expiredCa.issue(csrPem),
        (err: unknown) => isMeshError(err, 'CA_EXPIRED'),
      );
    });

    it('gives unique, positive 16-octet serials over 2 000 issues', () => {
      const csr = verifyCsr(csrPem);
      const serials = new Set<string>();
      for (let i = 0; i < 2000; i++) {
        const { cert } = ca.issueVerified(csr);
        assert.equal(cert.serialHex.length, 32);
        assert.ok(parseInt(cert.serialHex.slice(0, 2), 16) < 0x80, 'serial must be positive');
        serials.add(cert.serialHex);
      }
      assert.equal(serials.size, 2000);
    });

    it('uses the injected serial source', () => {
      const fixed = new CertificateAuthority(material, {
        trustDomain: TD,
        now: () => NOW,
        serial: () => Buffer.from([0x0a, 0xbc]),
      });
      assert.equal(fixed.issue(csrPem).cert.serialHex, '0abc');
    });

    it('issues from an RSA-2048 root too', () => {
      const rsa = rootMaterial(NOW, { keyKind: 'rsa-2048' });
      const rsaCa = new CertificateAuthority(rsa, { trustDomain: TD, now: () => NOW });
      const issued = rsaCa.issue(csrPem);
      assert.equal(issued.cert.signatureAlgorithm, Oid.sha256WithRsa);
      assert.ok(isSignedBy(issued.cert, rsa.cert));
    });
  });

  describe('identity checks', () => {
    const refused: readonly { name: string; id: string; why: RegExp }[] = [
      {
        name: 'another trust domain',
        id: 'spiffe://other.example/ns/default/sa/web',
        why: /trust domain "other\.example", but this CA serves "cluster\.local"/,
      },
      { name: 'a trust-domain id', id: `spiffe://${TD}`, why: /\/ns\/<namespace>\/sa/ },
      { name: 'a non-workload path', id: `spiffe://${TD}/workload/web`, why: /\/ns\/<namespace>\/sa/ },
      { name: 'a bad namespace name', id: `spiffe://${TD}/ns/Default/sa/web`, why: /namespace "Default"/ },
    ];
    for (const c of refused) {
      it(`refuses ${c.name} → CSR_IDENTITY_INVALID`, () => {
        assert.throws(
          () => ca.issue(createCsr(generateKey(), c.id)),
          (err: unknown) => {
            assert.ok(isMeshError(err, 'CSR_IDENTITY_INVALID'), String(err));
            assert.match(err.message, c.why);
            return true;
          },
        );
      });
    }

    it('checkIdentity returns the parsed workload id', () => {
      const id = ca.checkIdentity(ID);
      assert.equal(id.namespace, 'default');
      assert.equal(id.serviceAccount, 'web');
    });
  });

  describe('chains', () => {
    it('serves [leaf, …CA chain] and the roots', () => {
      const issued = ca.issue(csrPem);
      assert.equal(issued.certChainPem.length, 1 + ca.chainPem().length);
      assert.ok(certFromPem(issued.certChainPem[0] ?? '', 'leaf').der.equals(issued.cert.der));
      assert.deepEqual(issued.certChainPem.slice(1), [...ca.chainPem()]);
      assert.equal(ca.chainPem().length, 1);
      assert.ok(certFromPem(ca.chainPem()[0] ?? '', 'chain').der.equals(material.cert.der));
      assert.ok(certFromPem(ca.rootsPem(), 'roots').der.equals(material.cert.der));
      assert.equal(material.pluggedIn, false);
      assert.ok(Object.isFrozen(issued.certChainPem));
    });
  });

  describe('loadOrCreateCa with FileCaStore', () => {
    let base: string;
    before(() => {
      base = mkdtempSync(join(tmpdir(), 'waymesh-ca-'));
    });
    after(() => rmSync(base, { recursive: true, force: true }));

    it('generates a root once, then reloads the same root', async () => {
      const dir = join(base, 'store');
      const lines: string[] = [];
      const logger = createLogger({ sink: { write: (l) => lines.push(l) } });
      const first = await loadOrCreateCa({ store: new FileCaStore(dir), trustDomain: TD, logger });
      assert.equal(lines.filter((l) => l.includes('generated a new self-signed root CA')).length, 1);
      const second = await loadOrCreateCa({ store: new FileCaStore(dir), trustDomain: TD, logger });
      assert.equal(lines.length, 1, 'reloading must not generate again');
      assert.ok(second.material.cert.der.equals(first.material.cert.der));
      assert.equal(second.rootsPem(), first.rootsPem());
      // The reloaded CA signs with the same key: its leaves verify against the first root.
      assert.ok(isSignedBy(second.issue(csrPem).cert, first.material.cert));
      const certOnDisk = await readFile(join(dir, CA_FILE_NAMES.caCertPem), 'utf8');
      assert.ok(certFromPem(certOnDisk, 'ca-cert.pem').der.equals(first.material.cert.der));
    });

    it('writes the key with mode 0600 and the directory with 0700', async () => {
      const dir = join(base, 'modes');
      await loadOrCreateCa({ store: new FileCaStore(dir), trustDomain: TD });
      assert.equal((await stat(join(dir, CA_FILE_NAMES.caKeyPem))).mode & 0o777, 0o600);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      for (const name of [CA_FILE_NAMES.caCertPem, CA_FILE_NAMES.certChainPem, CA_FILE_NAMES.rootCertPem]) {
        assert.equal((await stat(join(dir, name))).mode & 0o022, 0, `${name} is group/world-writable`);
      }
    });

    it('an incomplete store → CA_STORE_INCOMPLETE naming the missing files', async () => {
      const dir = join(base, 'incomplete');
      await loadOrCreateCa({ store: new FileCaStore(dir), trustDomain: TD });
      await rm(join(dir, CA_FILE_NAMES.rootCertPem));
      await rm(join(dir, CA_FILE_NAMES.certChainPem));
      await rejectsWithCode(
        new FileCaStore(dir).load(),
        'CA_STORE_INCOMPLETE',
        /missing cert-chain\.pem, root-cert\.pem/,
      );
      await rejectsWithCode(
        loadOrCreateCa({ store: new FileCaStore(dir), trustDomain: TD }),
        'CA_STORE_INCOMPLETE',
      );
    });

    it('an empty or missing directory loads as "no CA"', async () => {
      assert.equal(await new FileCaStore(join(base, 'does-not-exist')).load(), undefined);
      assert.equal(await new FileCaStore(mkdtempSync(join(base, 'empty-'))).load(), undefined);
    });

    it('invalid stored material is an error and is never replaced', async () => {
      const dir = join(base, 'corrupt');
      await loadOrCreateCa({ store: new FileCaStore(dir), trustDomain: TD });
      const certPath = join(dir, CA_FILE_NAMES.caCertPem);
      await writeFile(certPath, 'not a certificate');
      await rejectsWithCode(
        loadOrCreateCa({ store: new FileCaStore(dir), trustDomain: TD }),
        'CERT_MALFORMED',
      );
      assert.equal(await readFile(certPath, 'utf8'), 'not a certificate');
    });
  });
});
