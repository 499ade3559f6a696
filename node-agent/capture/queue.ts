/**
 * Per-key serialisation: operations on one pod run one after another in call order, operations on
 * different pods run concurrently. A failed operation does not stop the ones queued behind it.
 */

/** A queue per pod uid. */
export class PodQueues {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `op` after every earlier operation on `key` has settled; resolves or rejects as `op` does. */
  run<T>(key: string, op: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(op);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Resolves once every queued operation has settled, or after `deadlineMs`, whichever is first. */
  async drain(deadlineMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([Promise.all([...this.#tails.values()]), deadline]);
    clearTimeout(timer);
  }

  /** Keys with operations queued or running. */
  get size(): number {
    return this.#tails.size;
  }
}
