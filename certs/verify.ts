/**
 * Verifies a peer's certificate chain against a trust bundle and returns its SPIFFE id. Used
 * on both sides of every mTLS connection (HBONE, the CA service), after OpenSSL's own chain
 * check, to enforce what OpenSSL does not know: SPIFFE identity, trust domain and purpose.
 */
import { MeshError } from '../common/errors.ts';
import { parseSpiffeId, type SpiffeId } from '../common/spiffe.ts';
import type { TrustBundle } from './bundle.ts';
import { Oid } from './oids.ts';
import { isSignedBy, parseCertificate, type Certificate } from './parse.ts';

/** Which side the peer plays: a client must carry clientAuth, a server serverAuth. */
export type PeerRole = 'client' | 'server';

/** Stable codes of verification failures (each test and metric can match on them). */
export const VerifyError = {
  EMPTY_CHAIN: 'CERT_CHAIN_EMPTY',
  SELF_SIGNED_LEAF: 'CERT_SELF_SIGNED_LEAF',
  LEAF_IS_CA: 'CERT_LEAF_IS_CA',
  UNTRUSTED: 'CERT_UNTRUSTED',
  EXPIRED: 'CERT_EXPIRED',
  NOT_YET_VALID: 'CERT_NOT_YET_VALID',
  NO_SPIFFE_ID: 'CERT_NO_SPIFFE_ID',
  WRONG_TRUST_DOMAIN: 'CERT_WRONG_TRUST_DOMAIN',
  WRONG_EKU: 'CERT_WRONG_EKU',
  LEAF_KEY_USAGE: 'CERT_LEAF_KEY_USAGE',
  CA_KEY_USAGE: 'CERT_CA_KEY_USAGE',
  PATH_LENGTH: 'CERT_PATH_LENGTH',
} as const;

const MAX_DEPTH = 5;

function fail(code: string, message: string, hint = ''): never {
  throw new MeshError(code, message, { hint });
}

/** True when `cert` is within its validity window at `now`. */
function validAt(cert: Certificate, now: Date): boolean {
  return now >= cert.notBefore && now <= cert.notAfter;
}

/**
 * The first of `candidates` valid at `now`, else the first: during a renewal an expired root
 * or intermediate and its successor can share a subject and key, and either verifies the
 * signature, so the choice must not fall on the expired one while the other is there.
 */
function pick(candidates: readonly Certificate[], now: Date): Certificate | undefined {
  return candidates.find((c) => validAt(c, now)) ?? candidates[0];
}

/** Finds the path leaf → … → root, or throws CERT_UNTRUSTED. */
function buildPath(
  leaf: Certificate,
  intermediates: readonly Certificate[],
  bundle: TrustBundle,
  now: Date,
): Certificate[] {
  const path = [leaf];
  let current = leaf;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const root = pick(
      bundle.roots.filter((r) => isSignedBy(current, r)),
      now,
    );
    if (root !== undefined) return [...path, root];
    const next = pick(
      intermediates.filter((c) => c.isCa && !path.includes(c) && isSignedBy(current, c)),
      now,
    );
    if (next === undefined) break;
    path.push(next);
    current = next;
  }
  return fail(
    VerifyError.UNTRUSTED,
    `the peer certificate chain does not lead to a root trusted for ${bundle.trustDomain}`,
    'was it issued by another mesh or an old CA that is no longer in the trust bundle?',
  );
}

/**
 * Key usage and path length along the path (RFC 5280 §4.2.1.3, §4.2.1.9; X509-SVID §4.3):
 * the leaf must be allowed digital signatures and must not sign certificates or CRLs; each CA
 * must be allowed to sign certificates and must not have more CAs under it than it permits.
 */
function checkUsage(path: readonly Certificate[]): void {
  const [leaf, ...cas] = path;
  const usage = leaf?.keyUsage;
  if (usage === undefined || !usage.has('digitalSignature')) {
    fail(
      VerifyError.LEAF_KEY_USAGE,
      `the peer certificate ${usage === undefined ? 'has no keyUsage' : 'lacks keyUsage digitalSignature'}, which a workload certificate (X509-SVID) must carry`,
    );
  }
  if (usage.has('keyCertSign') || usage.has('cRLSign')) {
    fail(
      VerifyError.LEAF_KEY_USAGE,
      'the peer certificate may sign certificates or CRLs (keyUsage keyCertSign/cRLSign), which a workload certificate must not',
    );
  }
  for (const [i, ca] of cas.entries()) {
    const which = `CA certificate ${i + 1} of the peer chain`;
    if (ca.keyUsage !== undefined && !ca.keyUsage.has('keyCertSign'))
      fail(VerifyError.CA_KEY_USAGE, `${which} may not sign certificates (keyUsage lacks keyCertSign)`);
    // Under cas[i] sit i CA certificates before the leaf.
    if (ca.pathLen !== undefined && i > ca.pathLen) {
      fail(
        VerifyError.PATH_LENGTH,
        `${which} allows ${ca.pathLen} CA certificate(s) below it (pathLenConstraint), the chain has ${i}`,
      );
    }
  }
}

function checkValidity(path: readonly Certificate[], now: Date): void {
  for (const [i, cert] of path.entries()) {
    const which = i === 0 ? 'peer certificate' : `CA certificate ${i} of the peer chain`;
    if (now > cert.notAfter) {
      fail(
        VerifyError.EXPIRED,
        `${which} expired at ${cert.notAfter.toISOString()}`,
        'is its rotation failing?',
      );
    }
    if (now < cert.notBefore) {
      fail(
        VerifyError.NOT_YET_VALID,
        `${which} is not valid before ${cert.notBefore.toISOString()}`,
        'check clock skew',
      );
    }
  }
}

/**
 * Verifies `chain` (leaf first, DER) for a peer in `role` and returns the peer's SPIFFE id.
 * Throws a MeshError with one of the {@link VerifyError} codes.
 */
export function verifyPeerChain(
  chain: readonly Buffer[],
  bundle: TrustBundle,
  role: PeerRole,
  now: Date = new Date(),
): SpiffeId {
  const [leafDer, ...rest] = chain;
  if (leafDer === undefined) return fail(VerifyError.EMPTY_CHAIN, 'the peer presented no certificate');
  const leaf = parseCertificate(leafDer);
  if (leaf.issuer.equals(leaf.subject) && isSignedBy(leaf, leaf)) {
    fail(
      VerifyError.SELF_SIGNED_LEAF,
      'the peer presented a self-signed certificate',
      'workload certificates must come from the mesh CA',
    );
  }
  if (leaf.isCa)
    fail(VerifyError.LEAF_IS_CA, 'the peer certificate is a CA certificate, not a workload certificate');
  const path = buildPath(
    leaf,
    rest.map((d) => parseCertificate(d)),
    bundle,
    now,
  );
  checkValidity(path, now);
  checkUsage(path);
  if (leaf.uris.length !== 1 || leaf.uris[0] === undefined) {
    fail(
      VerifyError.NO_SPIFFE_ID,
      `the peer certificate has ${leaf.uris.length} URI SANs; exactly one SPIFFE id is required`,
    );
  }
  let id: SpiffeId;
  try {
    id = parseSpiffeId(leaf.uris[0]);
  } catch (err) {
    return fail(
      VerifyError.NO_SPIFFE_ID,
      `the peer certificate's URI SAN is not a SPIFFE id: ${(err as Error).message}`,
    );
  }
  if (id.path === '') {
    fail(
      VerifyError.NO_SPIFFE_ID,
      `the peer's SPIFFE id ${leaf.uris[0]} names only a trust domain; a workload id has a path (X509-SVID §5.2)`,
    );
  }
  if (id.trustDomain !== bundle.trustDomain) {
    fail(
      VerifyError.WRONG_TRUST_DOMAIN,
      `peer identity ${leaf.uris[0]} is not in trust domain ${bundle.trustDomain}`,
    );
  }
  const purpose = role === 'client' ? Oid.clientAuth : Oid.serverAuth;
  // Stricter than RFC 5280 (absent EKU = any purpose): mesh certificates always carry one.
  if (leaf.extKeyUsage === undefined || !leaf.extKeyUsage.includes(purpose)) {
    fail(
      VerifyError.WRONG_EKU,
      `the peer certificate may not be used as a TLS ${role} (extended key usage lacks ${role}Auth)`,
    );
  }
  return id;
}
