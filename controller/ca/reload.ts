/**
 * Picks up a changed CA Secret without a restart (a step of a root rotation, a renewed plugged-in
 * intermediate): {@link CaReloader.check} re-reads the store and, when the material differs,
 * validates it and swaps it in. Material that does not validate is refused with its reason, once
 * per distinct problem, and the CA in use stays (a half-edited Secret must not stop issuance).
 */
import { CertificateAuthority, loadCaMaterial, type CaMaterial, type CaOptions } from '../../certs/index.ts';
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { SecretCaStore } from './secret-store.ts';

/** Options of {@link CaReloader}. */
export interface CaReloaderOptions extends CaOptions {
  readonly store: Pick<SecretCaStore, 'load' | 'describe'>;
  /** The CA loaded at start. */
  readonly initial: CertificateAuthority;
  readonly logger: Logger;
  /** Told about each CA swapped in (serving certificate, root ConfigMaps). */
  readonly onReload: (ca: CertificateAuthority) => void;
}

/** What one check found. */
export type ReloadResult = 'unchanged' | 'reloaded' | 'refused';

function sameCerts(a: CaMaterial['chain'], b: CaMaterial['chain']): boolean {
  return a.length === b.length && a.every((c, i) => b[i]?.der.equals(c.der) === true);
}

/** True when `a` and `b` sign with the same key and certificate, chain and trust anchors. */
export function sameMaterial(a: CaMaterial, b: CaMaterial): boolean {
  return (
    a.cert.der.equals(b.cert.der) &&
    a.key.equals(b.key) &&
    sameCerts(a.chain, b.chain) &&
    sameCerts(a.roots, b.roots)
  );
}

/** Holds the controller's current CA and replaces it when its Secret changes. */
export class CaReloader {
  readonly #opts: CaReloaderOptions;
  #ca: CertificateAuthority;
  /** The last refusal logged, so a Secret that stays broken is reported once. */
  #lastProblem: string | undefined;

  constructor(opts: CaReloaderOptions) {
    this.#opts = opts;
    this.#ca = opts.initial;
  }

  /** The CA to issue with now. */
  current(): CertificateAuthority {
    return this.#ca;
  }

  /** Re-reads the store; swaps in changed, valid material. Never throws. */
  async check(): Promise<ReloadResult> {
    const { store, logger } = this.#opts;
    let material: CaMaterial;
    try {
      const files = await store.load();
      if (files === undefined) return this.#refuse(`${store.describe()}: no CA Secret exists any more`);
      material = loadCaMaterial(files, (this.#opts.now ?? (() => new Date()))());
    } catch (err) {
      return this.#refuse(errorMessage(err));
    }
    this.#lastProblem = undefined;
    if (sameMaterial(material, this.#ca.material)) return 'unchanged';
    const ca = new CertificateAuthority(material, this.#opts);
    this.#ca = ca;
    logger.info('CA reloaded from its Secret', {
      store: store.describe(),
      pluggedIn: material.pluggedIn,
      signer: material.cert.subjectKeyId?.toString('hex') ?? null,
      roots: material.roots.length,
      notAfter: material.cert.notAfter.toISOString(),
    });
    this.#opts.onReload(ca);
    return 'reloaded';
  }

  #refuse(problem: string): ReloadResult {
    if (problem !== this.#lastProblem) {
      this.#lastProblem = problem;
      this.#opts.logger.error('CA Secret refused; still issuing with the CA loaded before', {
        store: this.#opts.store.describe(),
        error: problem,
        hint: 'fix the Secret (docs/certificates.md, "Rotating the root"); the controller reads it again at its next check (every WAYMESH_CA_RELOAD_SECONDS, 30 s by default)',
      });
    }
    return 'refused';
  }
}
