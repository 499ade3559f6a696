/**
 * The state of one managed SPIFFE id: its rotator, the latest certificate, the identity view
 * handed to TLS, and callers waiting for the first (or next valid) certificate.
 */
import type { Certificate, CertRotator, Clock, TlsIdentity, TrustBundle } from '../../certs/index.ts';
import { MeshError } from '../../common/errors.ts';
import type { IssuedIdentity } from './issue.ts';

/** A workload's usable identity: TLS material plus the facts callers log and check. */
export interface WorkloadIdentity extends TlsIdentity {
  readonly spiffeId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serial: string;
}

/** One managed id as `/config_dump` shows it (no key material). */
export interface IdentityStatus {
  readonly spiffeId: string;
  readonly state: 'pending' | 'valid' | 'expired';
  readonly serial: string | null;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
  /**
   * The authority key identifier of the certificate (hex): which CA signed it, to compare with the
   * `subjectKeyId` of a root in `trustBundle` during a root rotation.
   */
  readonly issuerKeyId: string | null;
  readonly nextAttemptAt: string | null;
  readonly failures: number;
  readonly lastError: string | null;
}

interface Waiter {
  resolve(identity: WorkloadIdentity): void;
  reject(err: Error): void;
  timer: unknown;
}

/** State of one SPIFFE id inside the manager. */
export class Entry {
  readonly spiffeId: string;
  readonly #clock: Clock;
  readonly #bundleFor: (issued: IssuedIdentity) => TrustBundle;
  readonly #waiters = new Set<Waiter>();
  #rotator: CertRotator<IssuedIdentity> | undefined;
  #issued: IssuedIdentity | undefined;
  #identity: WorkloadIdentity | undefined;
  #lastError: string | undefined;
  #stopped: Error | undefined;

  constructor(spiffeId: string, clock: Clock, bundleFor: (issued: IssuedIdentity) => TrustBundle) {
    this.spiffeId = spiffeId;
    this.#clock = clock;
    this.#bundleFor = bundleFor;
  }

  /** Starts the rotator; its own first-certificate promise is not needed (waiters are kept here). */
  start(rotator: CertRotator<IssuedIdentity>): void {
    this.#rotator = rotator;
    rotator.start().catch(() => undefined);
  }

  /** The identity if it has not expired at `now`. */
  current(now: number): WorkloadIdentity | undefined {
    const id = this.#identity;
    return id !== undefined && id.notAfter.getTime() > now ? id : undefined;
  }

  /** The current identity, or the next one issued; rejects with `IDENTITY_TIMEOUT` after `timeoutMs`. */
  next(timeoutMs?: number): Promise<WorkloadIdentity> {
    const current = this.current(this.#clock.now());
    if (current !== undefined) return Promise.resolve(current);
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    return new Promise<WorkloadIdentity>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        waiter.timer = this.#clock.setTimeout(() => {
          this.#waiters.delete(waiter);
          const last = this.#lastError === undefined ? '' : `; last failure: ${this.#lastError}`;
          reject(
            new MeshError(
              'IDENTITY_TIMEOUT',
              `no certificate for ${this.spiffeId} after ${timeoutMs} ms${last}`,
              {
                hint: 'is the CA (controller, port 15012) reachable, and may this node request this identity?',
              },
            ),
          );
        }, timeoutMs);
      }
      this.#waiters.add(waiter);
    });
  }

  /** Records a new certificate (the manager then rebuilds the identity and wakes waiters). */
  setIssued(issued: IssuedIdentity): void {
    this.#issued = issued;
    this.#lastError = undefined;
  }

  /** Records why the last request failed (for timeouts and status). */
  failed(message: string): void {
    this.#lastError = message;
  }

  /** Rebuilds the identity view with the current bundle; false when there is no certificate yet. */
  rebuild(): boolean {
    const issued = this.#issued;
    if (issued === undefined) return false;
    this.#identity = Object.freeze({
      spiffeId: this.spiffeId,
      keyPem: issued.keyPem,
      certChainPem: issued.certChainPem,
      bundle: this.#bundleFor(issued),
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      serial: issued.leaf.serialHex,
    });
    return true;
  }

  /** Resolves every waiter with the current identity. */
  wake(): void {
    const id = this.current(this.#clock.now());
    if (id === undefined) return;
    for (const w of this.#waiters) {
      if (w.timer !== undefined) this.#clock.clearTimeout(w.timer);
      w.resolve(id);
    }
    this.#waiters.clear();
  }

  /** Roots the CA sent with the current certificate. */
  roots(): readonly Certificate[] {
    return this.#issued?.roots ?? [];
  }

  /** Stops refreshing and rejects every waiter with `reason`. */
  stop(reason: Error): void {
    this.#stopped = reason;
    this.#rotator?.stop();
    for (const w of this.#waiters) {
      if (w.timer !== undefined) this.#clock.clearTimeout(w.timer);
      w.reject(reason);
    }
    this.#waiters.clear();
  }

  /** The status line of this id at `now`. */
  status(now: number): IdentityStatus {
    const issued = this.#issued;
    const next = this.#rotator?.nextAttemptAt();
    return {
      spiffeId: this.spiffeId,
      state: issued === undefined ? 'pending' : issued.notAfter.getTime() > now ? 'valid' : 'expired',
      serial: issued?.leaf.serialHex ?? null,
      notBefore: issued?.notBefore.toISOString() ?? null,
      notAfter: issued?.notAfter.toISOString() ?? null,
      issuerKeyId: issued?.leaf.authorityKeyId?.toString('hex') ?? null,
      nextAttemptAt: next === undefined ? null : new Date(next).toISOString(),
      failures: this.#rotator?.failures() ?? 0,
      lastError: this.#lastError ?? null,
    };
  }
}
