/**
 * Level-triggered reconciliation: any change triggers one full pass; passes never overlap,
 * triggers arriving during a pass coalesce into one more pass, and a failed pass is retried
 * with capped backoff.
 */
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';

/** Runs `pass` whenever triggered, one at a time. */
export class Reconciler {
  readonly #name: string;
  readonly #pass: () => Promise<void>;
  readonly #log: Logger;
  #running = false;
  #again = false;
  #stopped = false;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #idle: Promise<void> = Promise.resolve();

  constructor(name: string, pass: () => Promise<void>, logger: Logger) {
    this.#name = name;
    this.#pass = pass;
    this.#log = logger;
  }

  /** Requests a pass (debounced by a few milliseconds to batch bursts of events). */
  trigger(delayMs = 20): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#idle = this.#run();
    }, delayMs);
  }

  /** Stops scheduling passes and waits for a running one to end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#idle;
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      await this.#pass();
      this.#failures = 0;
    } catch (err) {
      this.#failures++;
      const retry = Math.min(10_000, 250 * 2 ** Math.min(this.#failures, 6));
      this.#log.warn('reconcile pass failed; retrying', {
        controller: this.#name,
        error: errorMessage(err),
        retryInMs: retry,
      });
      this.#again = false;
      this.#running = false;
      this.trigger(retry);
      return;
    }
    this.#running = false;
    if (this.#again) {
      this.#again = false;
      this.trigger();
    }
  }
}
