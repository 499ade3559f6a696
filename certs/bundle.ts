/**
 * A trust bundle: the roots a peer's chain must lead to, bound to one trust domain (SPIFFE
 * bundles are per trust domain). Several roots coexist during a root rotation.
 */
import { createHash } from 'node:crypto';

import { MeshError } from '../common/errors.ts';
import { validateTrustDomain } from '../common/spiffe.ts';
import type { Certificate } from './parse.ts';
import { certsFromPem, certsToPem } from './pem.ts';

/** True for a self-signed CA certificate (subject and issuer name match): a trust anchor. */
export function isSelfSignedCa(c: Certificate): boolean {
  return c.isCa && c.subject.equals(c.issuer);
}

/**
 * Where the trust anchors a CA's answer ends with begin: the self-signed CA certificates after the
 * chain a workload presents (the leaf always stays in the chain). The CA sends every root of its
 * bundle there (CertificateAuthority.otherAnchorsPem), so proxies learn a new root from it.
 */
export function anchorsStart(chain: readonly Certificate[]): number {
  let end = chain.length;
  while (end > 1 && isSelfSignedCa(chain[end - 1] as Certificate)) end--;
  return end;
}

/** One root of a bundle, described for operators ({@link TrustBundle.describe}). */
export interface RootSummary {
  readonly sha256: string;
  readonly subjectKeyId: string | null;
  readonly notAfter: string;
}

/** An immutable set of trust anchors for one trust domain. */
export class TrustBundle {
  readonly trustDomain: string;
  readonly roots: readonly Certificate[];

  constructor(trustDomain: string, roots: readonly Certificate[]) {
    validateTrustDomain(trustDomain);
    if (roots.length === 0)
      throw new MeshError('BUNDLE_EMPTY', `trust bundle for ${trustDomain} has no roots`);
    const unique = new Map(roots.map((r) => [r.der.toString('base64'), r] as const));
    this.trustDomain = trustDomain;
    this.roots = Object.freeze([...unique.values()]);
    Object.freeze(this);
  }

  /** Parses a PEM set of roots. */
  static fromPem(trustDomain: string, pem: string): TrustBundle {
    return new TrustBundle(trustDomain, certsFromPem(pem, `trust bundle for ${trustDomain}`));
  }

  /** A new bundle with the roots of both (for rotations: old and new roots trusted together). */
  merge(other: TrustBundle): TrustBundle {
    if (other.trustDomain !== this.trustDomain) {
      throw new MeshError(
        'BUNDLE_MISMATCH',
        `cannot merge bundles of ${this.trustDomain} and ${other.trustDomain}`,
      );
    }
    return new TrustBundle(this.trustDomain, [...this.roots, ...other.roots]);
  }

  /** A new bundle without the roots that have expired at `now`. */
  withoutExpired(now: Date): TrustBundle {
    const live = this.roots.filter((r) => r.notAfter > now);
    return live.length === this.roots.length ? this : new TrustBundle(this.trustDomain, live);
  }

  /**
   * Each root as an operator compares it (admin `/config_dump`, e.g. during a root rotation): the
   * SHA-256 fingerprint as `openssl x509 -noout -fingerprint -sha256` prints it, the subject key
   * identifier and the expiry.
   */
  describe(): RootSummary[] {
    return this.roots.map((r) => ({
      sha256: (createHash('sha256').update(r.der).digest('hex').toUpperCase().match(/../g) ?? []).join(':'),
      subjectKeyId: r.subjectKeyId === undefined ? null : r.subjectKeyId.toString('hex'),
      notAfter: r.notAfter.toISOString(),
    }));
  }

  /** All roots as one PEM text (for `tls` `ca` options and for distribution). */
  toPem(): string {
    return certsToPem(this.roots);
  }
}
