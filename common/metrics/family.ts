/**
 * A metric family: one name, one HELP, fixed label names, and a child per distinct label value
 * tuple. Children are created once and cached, so the hot path keeps a child handle and
 * updates it without allocating.
 */
import { MeshError } from '../errors.ts';
import { checkLabelNames, checkMetricName, escapeHelp, renderLabels } from './names.ts';

/** Label values by label name. */
export type LabelSet = Readonly<Record<string, string>>;

/** The Prometheus metric types this registry renders. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** A child's identity: its label values and their pre-rendered `{…}` text. */
export interface SeriesLabels {
  readonly values: readonly string[];
  /** `name="value",…` without braces, escaped; `''` when the family has no labels. */
  readonly rendered: string;
}

function cacheKey(values: readonly string[]): string {
  // Length-prefixed, so no choice of values can make two different tuples collide.
  let key = '';
  for (const v of values) key += `${v.length}:${v}`;
  return key;
}

/** Shared behaviour of counters, gauges and histograms; `C` is the child type. */
export abstract class Family<C> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: MetricType;
  readonly #children = new Map<string, { labels: SeriesLabels; child: C }>();
  /**
   * The same children by label value, one Map level per label: the hot path (a request's
   * labels) walks Maps of strings it already holds, with no key string built and hashed per
   * call. Dropped whole on any removal and refilled by lookups.
   */
  #trie = new Map<string, unknown>();

  constructor(name: string, help: string, labelNames: readonly string[], reserved: readonly string[] = []) {
    checkMetricName(name);
    checkLabelNames(name, labelNames, reserved);
    this.name = name;
    this.help = help;
    this.labelNames = Object.freeze([...labelNames]);
  }

  /** Makes the child for one label tuple (called once per tuple). */
  protected abstract create(labels: SeriesLabels): C;

  /** Renders the child's sample lines (without HELP/TYPE) into `out`. */
  protected abstract renderChild(child: C, labels: SeriesLabels, out: string[]): void;

  /** The child for these label values, in `labelNames` order; cached. */
  labels(...values: string[]): C {
    const fast = this.#trieGet(values);
    if (fast !== undefined) return fast;
    const key = cacheKey(values);
    const found = this.#children.get(key);
    if (found !== undefined) {
      this.#trieSet(values, found.child);
      return found.child;
    }
    if (values.length !== this.labelNames.length) {
      throw new MeshError(
        'METRIC_LABELS_MISMATCH',
        `metric ${this.name} takes ${this.labelNames.length} label value(s) (${this.labelNames.join(', ')}), got ${values.length}`,
      );
    }
    const inner = renderLabels(this.labelNames, values);
    const labels: SeriesLabels = Object.freeze({
      values: Object.freeze([...values]),
      rendered: inner === '' ? '' : inner.slice(1, -1),
    });
    const child = this.create(labels);
    this.#children.set(key, { labels, child });
    this.#trieSet(values, child);
    return child;
  }

  /** The child for a label set given by name; every label must be present and no other. */
  with(labels: LabelSet): C {
    return this.labels(...this.#valuesOf(labels));
  }

  /** Drops the child for these labels (a pod that left); true when it existed. */
  remove(labels: LabelSet | readonly string[]): boolean {
    const values = Array.isArray(labels) ? (labels as readonly string[]) : this.#valuesOf(labels as LabelSet);
    this.#trie = new Map();
    return this.#children.delete(cacheKey(values));
  }

  /** Drops every child whose labels include all of `partial`; returns how many were dropped. */
  removeWhere(partial: LabelSet): number {
    const checks = Object.entries(partial).map(([name, value]) => {
      const i = this.labelNames.indexOf(name);
      if (i === -1)
        throw new MeshError('METRIC_LABELS_MISMATCH', `metric ${this.name} has no label "${name}"`);
      return [i, value] as const;
    });
    let dropped = 0;
    this.#trie = new Map();
    for (const [key, entry] of this.#children) {
      if (checks.every(([i, value]) => entry.labels.values[i] === value)) {
        this.#children.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  /** Drops every child. */
  clear(): void {
    this.#children.clear();
    this.#trie = new Map();
  }

  /** Number of children (series, or histograms). */
  size(): number {
    return this.#children.size;
  }

  /** Appends HELP, TYPE and every child's samples to `out`. */
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
    for (const { labels, child } of this.#children.values()) this.renderChild(child, labels, out);
  }

  #trieGet(values: readonly string[]): C | undefined {
    if (values.length !== this.labelNames.length || values.length === 0) return undefined;
    let node = this.#trie;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      const next = node.get(values[i] as string) as Map<string, unknown> | undefined;
      if (next === undefined) return undefined;
      node = next;
    }
    return node.get(values[last] as string) as C | undefined;
  }

  #trieSet(values: readonly string[], child: C): void {
    if (values.length === 0) return;
    let node = this.#trie;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      const key = values[i] as string;
      let next = node.get(key) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(key, next);
      }
      node = next;
    }
    node.set(values[last] as string, child);
  }

  #valuesOf(labels: LabelSet): string[] {
    const keys = Object.keys(labels);
    const values = this.labelNames.map((n) => labels[n]);
    const missing = this.labelNames.filter((_, i) => values[i] === undefined);
    if (missing.length > 0 || keys.length !== this.labelNames.length) {
      const extra = keys.filter((k) => !this.labelNames.includes(k));
      throw new MeshError(
        'METRIC_LABELS_MISMATCH',
        `metric ${this.name}: labels must be exactly {${this.labelNames.join(', ')}}` +
          (missing.length > 0 ? `; missing ${missing.join(', ')}` : '') +
          (extra.length > 0 ? `; unknown ${extra.join(', ')}` : ''),
      );
    }
    return values as string[];
  }
}
