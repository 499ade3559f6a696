/**
 * A light cancellation signal for the request hot path. An `AbortController` per request costs
 * an EventTarget and a listener Map (several percent of the engine's CPU at saturation); the
 * engine only needs "aborted, why, and tell me once". `AbortSignal` has the same shape, so a
 * timeout's or a test's AbortSignal can be passed wherever a {@link CancelSignal} is taken.
 */

/** The part of `AbortSignal` the engine uses. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  throwIfAborted(): void;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A signal and its trigger in one object; listeners are called once, in order. */
export class Cancel implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  #listeners: (() => void)[] | undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const l of listeners) l();
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    const i = listeners.lastIndexOf(listener);
    if (i >= 0) listeners.splice(i, 1);
  }
}

/** An AbortSignal that follows `signal` (for APIs that need a real one: connect, HTTP/2). */
export function toAbortSignal(signal: CancelSignal): AbortSignal {
  if (signal instanceof AbortSignal) return signal;
  const ctl = new AbortController();
  if (signal.aborted) ctl.abort(signal.reason);
  else signal.addEventListener('abort', () => ctl.abort(signal.reason), { once: true });
  return ctl.signal;
}
