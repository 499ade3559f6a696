/**
 * Istio-style string globs used by AuthorizationPolicy values: exact, `*` (any non-empty value),
 * `prefix*` and `*suffix`. Compiled once per value into a small matcher object.
 */

const EXACT = 0;
const ANY = 1;
const PREFIX = 2;
const SUFFIX = 3;
const PORT_SUFFIX = /:\d+$/;

/** One compiled glob. */
export class Glob {
  private constructor(
    private readonly kind: number,
    private readonly text: string,
  ) {}

  /** Compiles `pattern`; `lower` lowercases it (for case-insensitive values such as hosts). */
  static of(pattern: string, lower = false): Glob {
    const p = lower ? pattern.toLowerCase() : pattern;
    if (p === '*') return new Glob(ANY, '');
    if (p.length > 1 && p.endsWith('*')) return new Glob(PREFIX, p.slice(0, -1));
    if (p.length > 1 && p.startsWith('*')) return new Glob(SUFFIX, p.slice(1));
    return new Glob(EXACT, p);
  }

  /** True when `value` matches; `*` needs a present, non-empty value. */
  test(value: string): boolean {
    switch (this.kind) {
      case ANY:
        return value.length > 0;
      case PREFIX:
        return value.startsWith(this.text);
      case SUFFIX:
        return value.endsWith(this.text);
      default:
        return value === this.text;
    }
  }

  /** True when the pattern names a port (`host:8080`), for host matching. */
  hasPort(): boolean {
    return PORT_SUFFIX.test(this.text);
  }
}

/** A compiled `values`/`not` pair: any value matches (or none given) and no `not` value matches. */
export class GlobSet {
  constructor(
    private readonly values: readonly Glob[],
    private readonly not: readonly Glob[],
  ) {}

  /** Compiles a MatchSet-shaped pair of pattern lists. */
  static of(
    set: { readonly values: readonly string[]; readonly not: readonly string[] },
    lower = false,
  ): GlobSet {
    return new GlobSet(
      set.values.map((v) => Glob.of(v, lower)),
      set.not.map((v) => Glob.of(v, lower)),
    );
  }

  /** True when the set puts no condition on the value. */
  get empty(): boolean {
    return this.values.length === 0 && this.not.length === 0;
  }

  /**
   * Tests `value`; an absent value matches no `values` entry and no `not` entry (Istio: a
   * `notPrincipals: ["*"]` DENY catches requests without an identity).
   */
  test(value: string | undefined): boolean {
    if (this.values.length > 0 && (value === undefined || !anyMatch(this.values, value))) return false;
    return value === undefined || !anyMatch(this.not, value);
  }
}

function anyMatch(globs: readonly Glob[], value: string): boolean {
  for (const g of globs) if (g.test(value)) return true;
  return false;
}
