/**
 * The certificate authority: turns verified CSRs into SPIFFE workload certificates.
 *
 * Issuance is synchronous and allocation-light: CSR verification and signing use OpenSSL via
 * Node's crypto, node-forge encodes the structures. Callers decide *who* may get *which*
 * identity (see `service.ts`); this class only enforces what any certificate must satisfy.
 */
import { MeshError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { parseWorkloadId, type WorkloadId } from '../common/spiffe.ts';
import { nameDer } from './asn1.ts';
import { isSelfSignedCa } from './bundle.ts';
import { verifyCsr, type VerifiedCsr } from './csr.ts';
import {
  authorityKeyIdentifier,
  basicConstraints,
  extKeyUsage,
  keyUsage,
  subjectKeyIdentifier,
  uriSubjectAltName,
} from './extensions.ts';
import { keyIdentifier } from './keys.ts';
import { loadCaMaterial, type CaMaterial } from './material.ts';
import { Oid } from './oids.ts';
import { parseCertificate, type Certificate } from './parse.ts';
import { certToPem } from './pem.ts';
import { generateRoot, randomSerial, rootCaFiles, type RootOptions } from './root.ts';
import type { CaStore } from './store.ts';
import { signCertificate } from './x509.ts';

/** Default workload certificate lifetime: 24 hours. */
export const DEFAULT_TTL_SECONDS = 24 * 3600;
/** Longest workload certificate lifetime; longer requests are clamped to it. */
export const MAX_TTL_SECONDS = 90 * 24 * 3600;
/** How far notBefore is backdated, to tolerate clock skew between nodes. */
export const BACKDATE_SECONDS = 5 * 60;

/** Options for {@link CertificateAuthority}. */
export interface CaOptions {
  readonly trustDomain: string;
  readonly defaultTtlSeconds?: number;
  readonly maxTtlSeconds?: number;
  readonly now?: () => Date;
  readonly serial?: () => Buffer;
}

/** A freshly issued workload certificate. */
export interface IssuedCertificate {
  readonly identity: string;
  readonly cert: Certificate;
  /** Leaf first, then the CA chain up to and including the root, as PEM. */
  readonly certChainPem: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Issues SPIFFE workload certificates from validated CA material. */
export class CertificateAuthority {
  readonly trustDomain: string;
  readonly material: CaMaterial;
  readonly #defaultTtl: number;
  readonly #maxTtl: number;
  readonly #now: () => Date;
  readonly #serial: () => Buffer;
  readonly #issuerKeyId: Buffer;
  readonly #chainPem: readonly string[];
  readonly #otherAnchorsPem: readonly string[];
  readonly #subject = nameDer([]);

  constructor(material: CaMaterial, options: CaOptions) {
    this.material = material;
    this.trustDomain = options.trustDomain;
    this.#defaultTtl = options.defaultTtlSeconds ?? DEFAULT_TTL_SECONDS;
    this.#maxTtl = options.maxTtlSeconds ?? MAX_TTL_SECONDS;
    this.#now = options.now ?? (() => new Date());
    this.#serial = options.serial ?? randomSerial;
    this.#issuerKeyId = material.cert.subjectKeyId ?? keyIdentifier(material.cert.spki);
    this.#chainPem = Object.freeze(material.chain.map((c) => certToPem(c.der)));
    this.#otherAnchorsPem = Object.freeze(
      material.roots
        .filter((r) => isSelfSignedCa(r) && !material.chain.some((c) => c.der.equals(r.der)))
        .map((r) => certToPem(r.der)),
    );
  }

  /** The trust anchors as one PEM bundle (what peers verify against). */
  rootsPem(): string {
    return this.material.roots.map((r) => certToPem(r.der)).join('');
  }

  /**
   * The self-signed trust anchors of root-cert.pem that the chain does not end with, as PEM: during
   * a root rotation, the other root (the new one before the switch, the old one after it). The CA
   * service sends them after every chain, so proxies learn a new root before any peer or
   * controller presents a certificate under it (docs/certificates.md, "Rotating the root").
   */
  otherAnchorsPem(): readonly string[] {
    return this.#otherAnchorsPem;
  }

  /** The CA chain (signing certificate … root) as PEM strings. */
  chainPem(): readonly string[] {
    return this.#chainPem;
  }

  /**
   * Verifies `csrPem` and issues a certificate for the identity it requests (see
   * {@link CertificateAuthority.issueVerified}).
   */
  issue(csrPem: string, ttlSeconds?: number): IssuedCertificate {
    return this.issueVerified(verifyCsr(csrPem), ttlSeconds);
  }

  /**
   * Issues a certificate for an already verified CSR. The identity must be a workload id
   * (`/ns/<ns>/sa/<sa>`) in this CA's trust domain. `ttlSeconds` ≤ 0 or absent means the
   * default; longer than the maximum is clamped; the certificate never outlives the signing
   * certificate. Throws `CSR_IDENTITY_INVALID` or `CA_EXPIRED`.
   */
  issueVerified(csr: VerifiedCsr, ttlSeconds?: number): IssuedCertificate {
    this.checkIdentity(csr.identity);
    return this.#sign(csr.spki, csr.identity, ttlSeconds);
  }

  /** Parses `identity` as a workload id of this trust domain; throws `CSR_IDENTITY_INVALID`. */
  checkIdentity(identity: string): WorkloadId {
    let id: WorkloadId;
    try {
      id = parseWorkloadId(identity);
    } catch (err) {
      throw new MeshError('CSR_IDENTITY_INVALID', (err as Error).message);
    }
    if (id.trustDomain !== this.trustDomain) {
      throw new MeshError(
        'CSR_IDENTITY_INVALID',
        `identity ${identity} is in trust domain "${id.trustDomain}", but this CA serves "${this.trustDomain}"`,
      );
    }
    return id;
  }

  #sign(spki: Buffer, identity: string, ttlSeconds: number | undefined): IssuedCertificate {
    if (ttlSeconds !== undefined && !Number.isFinite(ttlSeconds)) {
      throw new MeshError('CA_INVALID_ARGUMENT', `TTL must be a finite number of seconds, got ${ttlSeconds}`);
    }
    const requested = ttlSeconds === undefined || ttlSeconds <= 0 ? this.#defaultTtl : ttlSeconds;
    const ttl = Math.min(requested, this.#maxTtl);
    const now = this.#now();
    const notBefore = new Date(now.getTime() - BACKDATE_SECONDS * 1000);
    const wanted = new Date(now.getTime() + ttl * 1000);
    const notAfter = wanted > this.material.cert.notAfter ? this.material.cert.notAfter : wanted;
    if (notAfter <= now) {
      throw new MeshError(
        'CA_EXPIRED',
        'the CA signing certificate has expired; rotate the CA before issuing',
      );
    }
    const der = signCertificate(
      {
        serial: this.#serial(),
        issuer: this.material.cert.subject,
        subject: this.#subject,
        notBefore,
        notAfter,
        spki,
        extensions: [
          basicConstraints(false),
          keyUsage(['digitalSignature', 'keyEncipherment']),
          extKeyUsage([Oid.serverAuth, Oid.clientAuth]),
          uriSubjectAltName(identity),
          subjectKeyIdentifier(keyIdentifier(spki)),
          authorityKeyIdentifier(this.#issuerKeyId),
        ],
      },
      this.material.key,
    );
    const cert = parseCertificate(der);
    return Object.freeze({
      identity,
      cert,
      certChainPem: Object.freeze([certToPem(der), ...this.#chainPem]),
      // What the certificate says: its times have whole seconds, `now` may not.
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    });
  }
}

/** Options for {@link loadOrCreateCa}. */
export interface LoadOrCreateOptions extends CaOptions {
  readonly store: CaStore;
  readonly root?: Omit<RootOptions, 'trustDomain'>;
  readonly logger?: Logger;
}

/**
 * Loads the CA from its store, or — when the store is empty — generates a self-signed root
 * and saves it first. Invalid stored material is an error, never silently replaced.
 */
export async function loadOrCreateCa(options: LoadOrCreateOptions): Promise<CertificateAuthority> {
  const now = options.now ?? (() => new Date());
  let files = await options.store.load();
  if (files === undefined) {
    const root = generateRoot({ ...options.root, trustDomain: options.trustDomain, now: now() });
    files = rootCaFiles(root);
    await options.store.save(files);
    options.logger?.info('generated a new self-signed root CA', {
      store: options.store.describe(),
      trustDomain: options.trustDomain,
      notAfter: root.cert.notAfter.toISOString(),
    });
  }
  const material = loadCaMaterial(files, now());
  return new CertificateAuthority(material, options);
}

/**
 * A CA over a fresh self-signed root that lives only in memory: for tests, benchmarks and demos
 * that need a working CA without a store. `now` fixes both the root's and the CA's clock.
 */
export function inMemoryRootCa(
  trustDomain: string,
  options: Omit<RootOptions, 'trustDomain'> = {},
): CertificateAuthority {
  const root = generateRoot({ ...options, trustDomain });
  const now = options.now;
  return new CertificateAuthority(loadCaMaterial(rootCaFiles(root), now), {
    trustDomain,
    now: now === undefined ? undefined : () => now,
  });
}
