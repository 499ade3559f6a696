import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { signSubCa, type Signed, type SubCaOptions } from '../../helpers/pki.ts';
import { isMeshError } from '../../../common/errors.ts';
import {
  CertificateAuthority,
  caFilesOf,
  certFromPem,
  certToPem,
  createCsr,
  generateKey,
  generateRoot,
  loadCaMaterial,
  privateKeyToPem,
  type CaFiles,
  type Certificate,
} from '../../../certs/index.ts';
import { isSignedBy } from '../../../certs/parse.ts';

const TD = 'cluster.local';
const NOW = new Date('2025-06-01T12:00:00Z');
const DAY = 86_400_000;

/** A CA certificate under `issuer`, valid around NOW unless told otherwise. */
function subCa(issuer: Signed, cn: string, opts: SubCaOptions = {}): Signed {
  return signSubCa(issuer, cn, { now: NOW, ...opts });
}

function files(signer: Signed, chain: readonly Certificate[], roots: readonly Certificate[]): CaFiles {
  return caFilesOf({ key: signer.key, cert: signer.cert, chain, roots });
}

function assertInvalid(f: CaFiles, why: RegExp): string {
  let message = '';
  assert.throws(
    () => loadCaMaterial(f, NOW),
    (err: unknown) => {
      assert.ok(isMeshError(err, 'CA_MATERIAL_INVALID'), `expected CA_MATERIAL_INVALID, got ${String(err)}`);
      assert.match(err.message, why);
      message = err.message;
      return true;
    },
  );
  return message;
}

describe('certs/material', () => {
  const root: Signed = generateRoot({ trustDomain: TD, now: NOW });
  const intermediate = subCa(root, 'waymesh intermediate CA');

  describe('plug-in intermediate', () => {
    it('loads [intermediate, root] as plugged-in material', () => {
      const m = loadCaMaterial(files(intermediate, [intermediate.cert, root.cert], [root.cert]), NOW);
      assert.equal(m.pluggedIn, true);
      assert.ok(m.cert.der.equals(intermediate.cert.der));
      assert.deepEqual(
        m.chain.map((c) => c.der.toString('hex')),
        [intermediate.cert, root.cert].map((c) => c.der.toString('hex')),
      );
      assert.ok(Object.isFrozen(m));
    });

    it('accepts a chain that stops below the root when the root is in root-cert.pem', () => {
      const m = loadCaMaterial(files(intermediate, [intermediate.cert], [root.cert]), NOW);
      assert.equal(m.pluggedIn, true);
    });

    it('a self-signed root alone is not plugged in', () => {
      assert.equal(loadCaMaterial(files(root, [root.cert], [root.cert]), NOW).pluggedIn, false);
    });

    it('the CA issues with the intermediate and serves [leaf, intermediate, root]', () => {
      const m = loadCaMaterial(files(intermediate, [intermediate.cert, root.cert], [root.cert]), NOW);
      const ca = new CertificateAuthority(m, { trustDomain: TD, now: () => NOW });
      const issued = ca.issue(createCsr(generateKey(), `spiffe://${TD}/ns/shop/sa/cart`));
      const served = issued.certChainPem.map((p) => certFromPem(p, 'served').der);
      assert.equal(served.length, 3);
      assert.ok(served[0]?.equals(issued.cert.der));
      assert.ok(served[1]?.equals(intermediate.cert.der));
      assert.ok(served[2]?.equals(root.cert.der));
      assert.ok(isSignedBy(issued.cert, intermediate.cert));
      assert.ok(!isSignedBy(issued.cert, root.cert));
      assert.ok(issued.cert.authorityKeyId?.equals(intermediate.cert.subjectKeyId ?? Buffer.alloc(0)));
      assert.equal(ca.rootsPem(), certToPem(root.cert.der));
    });

    it('a three-level chain loads and round-trips through caFilesOf', () => {
      const lower = subCa(intermediate, 'lower');
      const f = files(lower, [lower.cert, intermediate.cert, root.cert], [root.cert]);
      const m = loadCaMaterial(f, NOW);
      assert.equal(m.chain.length, 3);
      assert.deepEqual(caFilesOf(m), f);
    });

    it('trusts a chain anchored at any of several roots (rotation)', () => {
      const newRoot = generateRoot({ trustDomain: TD, now: NOW });
      const m = loadCaMaterial(
        files(intermediate, [intermediate.cert, root.cert], [newRoot.cert, root.cert]),
        NOW,
      );
      assert.equal(m.roots.length, 2);
    });
  });

  describe('refusals (CA_MATERIAL_INVALID, one message per rule)', () => {
    const otherRoot: Signed = generateRoot({ trustDomain: TD, now: NOW });
    const lower = subCa(intermediate, 'lower');
    const notCa = subCa(root, 'not a CA', { ca: false, usages: ['digitalSignature'] });
    const noCertSign = subCa(root, 'no keyCertSign', { usages: ['digitalSignature', 'cRLSign'] });
    const expired = subCa(root, 'expired', {
      notBefore: new Date(NOW.getTime() - 30 * DAY),
      notAfter: new Date(NOW.getTime() - DAY),
    });
    const notYet = subCa(root, 'not yet', {
      notBefore: new Date(NOW.getTime() + DAY),
      notAfter: new Date(NOW.getTime() + 30 * DAY),
    });
    const expiredMiddle = subCa(root, 'expired middle', {
      notBefore: new Date(NOW.getTime() - 30 * DAY),
      notAfter: new Date(NOW.getTime() - DAY),
    });
    const belowExpired = subCa(expiredMiddle, 'below an expired intermediate');
    const leafLikeMiddle = subCa(root, 'leaf-like middle', { ca: false });
    const belowLeafLike = subCa(leafLikeMiddle, 'below a non-CA');

    const cases: readonly { name: string; files: () => CaFiles; why: RegExp }[] = [
      {
        name: 'key does not match the certificate',
        files: () => ({
          ...files(intermediate, [intermediate.cert, root.cert], [root.cert]),
          caKeyPem: privateKeyToPem(generateKey()),
        }),
        why: /ca-key\.pem does not match the public key of ca-cert\.pem/,
      },
      {
        name: 'signing certificate is not a CA',
        files: () => files(notCa, [notCa.cert, root.cert], [root.cert]),
        why: /not a CA certificate/,
      },
      {
        name: 'signing certificate may not sign certificates',
        files: () => files(noCertSign, [noCertSign.cert, root.cert], [root.cert]),
        why: /keyUsage lacks keyCertSign/,
      },
      {
        name: 'expired intermediate',
        files: () => files(expired, [expired.cert, root.cert], [root.cert]),
        why: /ca-cert\.pem is not valid now/,
      },
      {
        name: 'not-yet-valid intermediate',
        files: () => files(notYet, [notYet.cert, root.cert], [root.cert]),
        why: /ca-cert\.pem is not valid now \(valid 2025-06-02/,
      },
      {
        name: 'chain does not start with the signing certificate',
        files: () => files(intermediate, [root.cert, intermediate.cert], [root.cert]),
        why: /must start with ca-cert\.pem/,
      },
      {
        name: 'chain in the wrong order',
        files: () => files(lower, [lower.cert, root.cert, intermediate.cert], [root.cert]),
        why: /entry 1 is not signed by entry 2/,
      },
      {
        name: 'chain with a missing link',
        files: () => files(lower, [lower.cert, root.cert], [root.cert]),
        why: /entry 1 is not signed by entry 2/,
      },
      {
        name: 'chain not ending at a root of root-cert.pem',
        files: () => files(intermediate, [intermediate.cert, root.cert], [otherRoot.cert]),
        why: /does not end at a certificate in root-cert\.pem/,
      },
      {
        name: 'chain without its parent, under a foreign root',
        files: () => files(intermediate, [intermediate.cert], [otherRoot.cert]),
        why: /does not end at a certificate in root-cert\.pem/,
      },
      {
        name: 'an expired intermediate higher up the chain',
        files: () => files(belowExpired, [belowExpired.cert, expiredMiddle.cert, root.cert], [root.cert]),
        why: /cert-chain\.pem entry 2 is not valid now/,
      },
      {
        name: 'a non-CA certificate higher up the chain',
        files: () => files(belowLeafLike, [belowLeafLike.cert, leafLikeMiddle.cert, root.cert], [root.cert]),
        why: /cert-chain\.pem entry 2 is not a CA certificate/,
      },
    ];

    const messages = new Map<string, string>();
    for (const c of cases) {
      it(c.name, () => {
        messages.set(c.name, assertInvalid(c.files(), c.why));
      });
    }

    it('each rule has its own message', () => {
      assert.equal(messages.size, cases.length, 'every case must have run');
      for (const a of cases) {
        for (const b of cases) {
          if (a.why.source === b.why.source) continue;
          assert.notEqual(messages.get(a.name), messages.get(b.name), `${a.name} vs ${b.name}`);
        }
      }
    });

    it('unreadable files fail with their own codes', () => {
      const good = files(intermediate, [intermediate.cert, root.cert], [root.cert]);
      assert.throws(
        () => loadCaMaterial({ ...good, caKeyPem: 'nope' }, NOW),
        (e: unknown) => isMeshError(e, 'KEY_INVALID'),
      );
      assert.throws(
        () => loadCaMaterial({ ...good, caCertPem: 'nope' }, NOW),
        (e: unknown) => isMeshError(e, 'CERT_MALFORMED') && /ca-cert\.pem/.test(e.message),
      );
      assert.throws(
        () => loadCaMaterial({ ...good, caCertPem: good.certChainPem }, NOW),
        (e: unknown) =>
          isMeshError(e, 'CERT_MALFORMED') && /expected one certificate, found 2/.test(e.message),
      );
      assert.throws(
        () => loadCaMaterial({ ...good, rootCertPem: '' }, NOW),
        (e: unknown) => isMeshError(e, 'CERT_MALFORMED') && /root-cert\.pem/.test(e.message),
      );
    });
  });
});
