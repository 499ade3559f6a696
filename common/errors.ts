/**
 * One catalogue of coded errors. Every error a waymesh component raises on purpose is a
 * `MeshError`: a stable `code` that tests and metrics can match on, a message written for an
 * operator, and an optional hint that says what to check next.
 */
const BRAND = Symbol.for('waymesh.MeshError');

export class MeshError extends Error {
  /** Stable machine-readable code, e.g. `CSR_BAD_SIGNATURE`. */
  readonly code: string;
  /** What an operator should look at next; empty when there is nothing useful to add. */
  readonly hint: string;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeshError';
    this.code = code;
    this.hint = options.hint ?? '';
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** The message with its hint, as one line for logs and CLI output. */
  describe(): string {
    return this.hint === ''
      ? `${this.code}: ${this.message}`
      : `${this.code}: ${this.message} (${this.hint})`;
  }
}

/** True when `err` is a MeshError carrying `code` (or any MeshError when `code` is omitted). */
export function isMeshError(err: unknown, code?: string): err is MeshError {
  // Also a MeshError made by a second copy of this module: a module loaded by `import()` from
  // code that was itself `require`d (mocha's loader) gets its own copy of everything it imports.
  const mesh = err instanceof MeshError || (err instanceof Error && BRAND in err);
  return mesh && (code === undefined || (err as MeshError).code === code);
}

/** A readable one-line message for any thrown value. */
export function errorMessage(err: unknown): string {
  if (isMeshError(err)) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}
