/**
 * Workload certificates for the pods on this node (DESIGN.md §6, issue 5 §4), as ztunnel's
 * SecretManager does: one certificate per SPIFFE id in use, fetched when a pod is added
 * (before its first connection needs it), refreshed at half life, the still-valid certificate
 * kept while refreshes fail (retried with backoff), dropped when no pod uses the id any more.
 */
// Certificate pieces come from their own modules, not certs/index.ts: the index also loads the
// CA's gRPC service (grpc-js, protobufjs), which an agent built without a CaClient (tests, the
// l4 bench) would otherwise carry (~12 MB RSS).
import { TrustBundle } from '../../certs/bundle.ts';
import type { Certificate } from '../../certs/parse.ts';
import { certsFromPem } from '../../certs/pem.ts';
import { CertRotator, systemClock, type Clock } from '../../certs/rotation.ts';
import { errorMessage, MeshError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics/index.ts';
import { parseWorkloadId } from '../../common/spiffe.ts';
import { issueIdentity, type IssuedIdentity } from './issue.ts';
import type { CertificateSource } from './source.ts';
import { Entry, type IdentityStatus, type WorkloadIdentity } from './entry.ts';
import { expiryGauge } from './metrics.ts';

/** Options for {@link IdentityManager}. */
export interface IdentityManagerOptions {
  /** Only ids of this trust domain are requested. */
  readonly trustDomain: string;
  readonly source: CertificateSource;
  /** Receives `waymesh_cert_expiry_timestamp_seconds{principal}`. */
  readonly registry: Registry;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Backoff cap for failed requests (default 150 s). */
  readonly maxBackoffMs?: number;
  readonly random?: () => number;
}

/** Keeps one certificate per SPIFFE id in use on the node, and the trust bundle. */
export class IdentityManager {
  readonly #opts: IdentityManagerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<(spiffeId: string) => void>();
  readonly #expiry: ReturnType<typeof expiryGauge>;
  #configuredRoots: readonly Certificate[] = [];
  #bundle: TrustBundle | undefined;
  #bundleKey = '';
  #stopped = false;

  constructor(options: IdentityManagerOptions) {
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ component: 'identity' });
    this.#expiry = expiryGauge(options.registry);
  }

  /** Starts fetching the certificate of `spiffeId` if not yet held (pod added); does not wait. */
  prefetch(spiffeId: string): void {
    this.#entry(spiffeId);
  }

  /** The certificate of `spiffeId`, fetching it first if needed; concurrent calls share one request. */
  ensure(spiffeId: string): Promise<WorkloadIdentity> {
    try {
      return this.#entry(spiffeId).next();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Like {@link ensure}, but rejects with `IDENTITY_TIMEOUT` (and the last failure) after `timeoutMs`. */
  wait(spiffeId: string, timeoutMs: number): Promise<WorkloadIdentity> {
    let entry: Entry;
    try {
      entry = this.#entry(spiffeId);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return entry.next(timeoutMs);
  }

  /** The current, unexpired identity of `spiffeId`, or undefined. Synchronous, for the hot path. */
  get(spiffeId: string): WorkloadIdentity | undefined {
    return this.#entries.get(spiffeId)?.current(this.#clock.now());
  }

  /** Stops refreshing `spiffeId` (no pod on the node uses it any more); pending waits reject. */
  forget(spiffeId: string): void {
    const entry = this.#entries.get(spiffeId);
    if (entry === undefined) return;
    this.#entries.delete(spiffeId);
    entry.stop(new MeshError('IDENTITY_FORGOTTEN', `the certificate of ${spiffeId} is no longer managed`));
    this.#expiry.remove([spiffeId]);
    this.#log.info('identity forgotten', { spiffeId });
    this.#refreshBundle();
  }

  /** Replaces the configured trust anchors (from the snapshot); PEM texts, one or more certificates each. */
  updateRoots(pems: readonly string[]): void {
    const roots = pems.flatMap((p, i) => certsFromPem(p, `trust root ${i}`));
    if (roots.length === 0) {
      throw new MeshError('BUNDLE_EMPTY', 'updateRoots was given no certificates', {
        hint: 'the snapshot must carry at least one root of the mesh CA',
      });
    }
    this.#configuredRoots = Object.freeze(roots);
    this.#refreshBundle();
  }

  /** The trust bundle: configured roots plus the roots the CA sent with current certificates. */
  bundle(): TrustBundle | undefined {
    return this.#bundle;
  }

  /** Calls `listener(spiffeId)` whenever that id's identity (or the bundle it carries) changes; returns an unsubscribe. */
  onChange(listener: (spiffeId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** What `/config_dump` shows: every managed id with validity and refresh state, no keys. */
  status(): IdentityStatus[] {
    const now = this.#clock.now();
    return [...this.#entries.values()]
      .map((e) => e.status(now))
      .sort((a, b) => a.spiffeId.localeCompare(b.spiffeId));
  }

  /** Stops every refresh; pending waits reject, and later requests fail with `IDENTITY_STOPPED`. */
  stop(): void {
    this.#stopped = true;
    for (const [id, entry] of this.#entries) {
      entry.stop(new MeshError('IDENTITY_STOPPED', 'the identity manager stopped'));
      this.#expiry.remove([id]);
    }
    this.#entries.clear();
  }

  #entry(spiffeId: string): Entry {
    const found = this.#entries.get(spiffeId);
    if (found !== undefined) return found;
    if (this.#stopped)
      throw new MeshError('IDENTITY_STOPPED', `cannot fetch ${spiffeId}: the identity manager stopped`);
    const id = parseWorkloadId(spiffeId);
    if (id.trustDomain !== this.#opts.trustDomain) {
      throw new MeshError(
        'IDENTITY_INVALID',
        `${spiffeId} is not in this mesh's trust domain "${this.#opts.trustDomain}"`,
        { hint: 'check the trust domain of the snapshot and of the node agent' },
      );
    }
    const entry: Entry = new Entry(spiffeId, this.#clock, (issued) => this.#bundleFor(issued));
    const rotator = new CertRotator<IssuedIdentity>({
      fetch: () => this.#fetch(entry),
      onUpdate: (issued) => this.#updated(entry, issued),
      clock: this.#clock,
      logger: this.#log.child({ spiffeId }),
      maxBackoffMs: this.#opts.maxBackoffMs,
      random: this.#opts.random,
    });
    this.#entries.set(spiffeId, entry);
    entry.start(rotator);
    return entry;
  }

  async #fetch(entry: Entry): Promise<IssuedIdentity> {
    try {
      const issued = await issueIdentity(this.#opts.source, entry.spiffeId, this.#clock.now());
      if (issued.roots.length === 0 && this.#bundle === undefined) {
        throw new MeshError(
          'IDENTITY_NO_TRUST_BUNDLE',
          `the CA sent no root with the certificate of ${entry.spiffeId} and no roots are configured`,
          { hint: 'the snapshot must carry the mesh roots, or the CA must return its chain up to the root' },
        );
      }
      return issued;
    } catch (err) {
      entry.failed(errorMessage(err));
      throw err;
    }
  }

  #updated(entry: Entry, issued: IssuedIdentity): void {
    if (this.#entries.get(entry.spiffeId) !== entry) return;
    entry.setIssued(issued);
    this.#expiry.labels(entry.spiffeId).set(issued.notAfter.getTime() / 1000);
    this.#log.info('certificate issued', {
      spiffeId: entry.spiffeId,
      serial: issued.leaf.serialHex,
      notAfter: issued.notAfter.toISOString(),
    });
    // A changed bundle rebuilds and notifies every id; otherwise only this one changed.
    if (!this.#refreshBundle()) {
      entry.rebuild();
      this.#notify(entry.spiffeId);
    }
    entry.wake();
  }

  #bundleFor(issued: IssuedIdentity): TrustBundle {
    return this.#bundle ?? new TrustBundle(this.#opts.trustDomain, issued.roots);
  }

  /** Recomputes the bundle; when it changed, rebuilds every identity and notifies. True when changed. */
  #refreshBundle(): boolean {
    const roots = [...this.#configuredRoots];
    for (const e of this.#entries.values()) roots.push(...e.roots());
    const key = [...new Set(roots.map((r) => r.der.toString('base64')))].sort().join(',');
    if (key === this.#bundleKey) return false;
    this.#bundleKey = key;
    this.#bundle = roots.length === 0 ? undefined : new TrustBundle(this.#opts.trustDomain, roots);
    this.#log.info('trust bundle changed', { roots: this.#bundle?.roots.length ?? 0 });
    for (const e of this.#entries.values()) {
      if (e.rebuild()) this.#notify(e.spiffeId);
    }
    return true;
  }

  #notify(spiffeId: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(spiffeId);
      } catch (err) {
        this.#log.error('identity change listener failed', { spiffeId, error: errorMessage(err) });
      }
    }
  }
}
