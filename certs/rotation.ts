/**
 * Certificate rotation: refresh at half life, and when a refresh fails keep the still-valid
 * certificate and retry with capped exponential backoff (as Istio's ztunnel does). Time is
 * injected so tests drive it without waiting.
 */
import { errorMessage, MeshError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';

/** A certificate's validity window; all the rotator needs to know about it. */
export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Timers and the clock, injected. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Longest delay Node's setTimeout honours; a longer one fires after 1 ms (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A real timer, re-armed in steps when its delay exceeds {@link MAX_TIMER_MS}. */
interface SystemTimer {
  timer: NodeJS.Timeout | undefined;
}

function armTimer(handle: SystemTimer, fn: () => void, ms: number): void {
  const step = Math.min(ms, MAX_TIMER_MS);
  handle.timer = setTimeout(() => (ms > step ? armTimer(handle, fn, ms - step) : fn()), step);
  handle.timer.unref();
}

/** The real clock. Delays of any length are honoured (a 90-day certificate refreshes after 45 days). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle: SystemTimer = { timer: undefined };
    armTimer(handle, fn, Math.max(0, ms));
    return handle;
  },
  clearTimeout: (h) => clearTimeout((h as SystemTimer).timer),
};

/** When a certificate should be refreshed: `notBefore + ttl/2`. */
export function refreshAt(cert: Validity): Date {
  const ttl = cert.notAfter.getTime() - cert.notBefore.getTime();
  return new Date(cert.notBefore.getTime() + ttl / 2);
}

/**
 * When to refresh a certificate received at `now`: at half life, or — when that has already
 * passed (the CA's clock behind ours, or a lifetime cut short by the CA's own expiry) — at half
 * its remaining life, so that each answer is not fetched again at once.
 */
function nextRefresh(cert: Validity, now: number): number {
  const half = refreshAt(cert).getTime();
  return half > now ? half : now + (cert.notAfter.getTime() - now) / 2;
}

/** Backoff for the n-th consecutive failure (n ≥ 1): 1 s doubling, capped, with ±10 % jitter. */
export function backoffMs(failures: number, capMs: number, random: () => number = Math.random): number {
  const base = Math.min(capMs, 1000 * 2 ** Math.max(0, failures - 1));
  return Math.round(Math.min(capMs, base * (0.9 + 0.2 * random())));
}

/** Options for {@link CertRotator}. */
export interface RotatorOptions<T extends Validity> {
  /** Obtains a fresh certificate (CSR + CA call). */
  readonly fetch: () => Promise<T>;
  /** Called with every new certificate. */
  readonly onUpdate?: (cert: T) => void;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Backoff cap; ~150 s by default. */
  readonly maxBackoffMs?: number;
  readonly random?: () => number;
}

/** Keeps one certificate fresh. `start()` resolves with the first certificate. */
export class CertRotator<T extends Validity> {
  readonly #opts: RotatorOptions<T>;
  readonly #clock: Clock;
  #current: T | undefined;
  #failures = 0;
  #timer: unknown;
  #stopped = false;
  #nextAttemptAt: number | undefined;
  #first: { resolve: (c: T) => void; reject: (e: Error) => void } | undefined;

  constructor(options: RotatorOptions<T>) {
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Fetches the first certificate, retrying with backoff until it succeeds or `stop()`. */
  start(): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#first = { resolve, reject };
      this.#attempt();
    });
  }

  /** The certificate to use now: the latest one that has not expired. */
  current(): T | undefined {
    const c = this.#current;
    return c !== undefined && c.notAfter.getTime() > this.#clock.now() ? c : undefined;
  }

  /** When the next fetch is scheduled (ms since epoch), for status pages and tests. */
  nextAttemptAt(): number | undefined {
    return this.#nextAttemptAt;
  }

  /** Consecutive failed refreshes. */
  failures(): number {
    return this.#failures;
  }

  /** Cancels the schedule; a pending `start()` rejects. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextAttemptAt = undefined;
    this.#first?.reject(new Error('certificate rotation stopped before a certificate was obtained'));
    this.#first = undefined;
  }

  #schedule(at: number): void {
    if (this.#stopped) return;
    this.#nextAttemptAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#attempt(), Math.max(0, at - this.#clock.now()));
  }

  #attempt(): void {
    this.#timer = undefined;
    this.#opts.fetch().then(
      (cert) => {
        if (this.#stopped) return;
        const now = this.#clock.now();
        if (cert.notAfter.getTime() <= now) {
          this.#failed(
            new MeshError(
              'CERT_EXPIRED',
              `the CA issued a certificate that expired at ${cert.notAfter.toISOString()}`,
              {
                hint: 'are the clocks of the CA and this host in sync?',
              },
            ),
          );
          return;
        }
        this.#current = cert;
        this.#failures = 0;
        this.#opts.onUpdate?.(cert);
        this.#first?.resolve(cert);
        this.#first = undefined;
        this.#schedule(nextRefresh(cert, now));
      },
      (err: unknown) => {
        if (!this.#stopped) this.#failed(err);
      },
    );
  }

  #failed(err: unknown): void {
    this.#failures++;
    const delay = backoffMs(this.#failures, this.#opts.maxBackoffMs ?? 150_000, this.#opts.random);
    this.#opts.logger?.warn('certificate refresh failed; keeping the current certificate and retrying', {
      error: errorMessage(err),
      failures: this.#failures,
      retryInMs: delay,
      currentExpires: this.#current?.notAfter.toISOString() ?? null,
    });
    this.#schedule(this.#clock.now() + delay);
  }
}
