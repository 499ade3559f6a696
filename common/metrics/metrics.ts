/**
 * Counter, gauge and histogram families and their children. Children hold plain numbers; the
 * text is built only at scrape time.
 */
import { MeshError } from '../errors.ts';
import { Family, type SeriesLabels } from './family.ts';
import { formatValue } from './names.ts';

function series(name: string, labels: SeriesLabels, extra = ''): string {
  const inner =
    labels.rendered === '' ? extra : extra === '' ? labels.rendered : `${labels.rendered},${extra}`;
  return inner === '' ? name : `${name}{${inner}}`;
}

/** One counter series: only goes up. */
export class CounterChild {
  value = 0;

  /** Adds `n` (default 1); a negative `n` throws `METRIC_COUNTER_DECREASE`. */
  inc(n = 1): void {
    if (n < 0) throw new MeshError('METRIC_COUNTER_DECREASE', `a counter cannot decrease (inc(${n}))`);
    this.value += n;
  }
}

/** A counter family. */
export class Counter extends Family<CounterChild> {
  readonly type = 'counter' as const;

  protected create(): CounterChild {
    return new CounterChild();
  }

  protected renderChild(child: CounterChild, labels: SeriesLabels, out: string[]): void {
    out.push(`${series(this.name, labels)} ${formatValue(child.value)}`);
  }
}

/** One gauge series. */
export class GaugeChild {
  value = 0;

  /** Sets the value. */
  set(v: number): void {
    this.value = v;
  }

  /** Adds `n` (default 1). */
  inc(n = 1): void {
    this.value += n;
  }

  /** Subtracts `n` (default 1). */
  dec(n = 1): void {
    this.value -= n;
  }
}

/** Reads values at scrape time: sets the gauge's children from live state. */
export type GaugeCollector = (gauge: Gauge) => void;

/** A gauge family, optionally with a collector run before each scrape. */
export class Gauge extends Family<GaugeChild> {
  readonly type = 'gauge' as const;
  readonly collect: GaugeCollector | undefined;

  constructor(name: string, help: string, labelNames: readonly string[], collect?: GaugeCollector) {
    super(name, help, labelNames);
    this.collect = collect;
  }

  protected create(): GaugeChild {
    return new GaugeChild();
  }

  protected renderChild(child: GaugeChild, labels: SeriesLabels, out: string[]): void {
    out.push(`${series(this.name, labels)} ${formatValue(child.value)}`);
  }
}

/** One histogram: per-bucket counts (not cumulative until rendered), sum and count. */
export class HistogramChild {
  readonly #bounds: readonly number[];
  /** counts[i] observations ≤ bounds[i] and > bounds[i-1]; the last slot is above every bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Records one observation. */
  observe(v: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && v > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += v;
    this.count++;
  }
}

/** Default buckets (milliseconds), for request durations. */
export const DEFAULT_MS_BUCKETS: readonly number[] = Object.freeze([
  0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
]);

/** A histogram family with fixed upper bounds (`+Inf` is implicit). */
export class Histogram extends Family<HistogramChild> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];
  readonly #le: readonly string[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames, ['le']);
    if (buckets.length === 0) {
      throw new MeshError('METRIC_BUCKETS_INVALID', `histogram ${name}: at least one bucket is needed`);
    }
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i] as number;
      if (!Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] as number))) {
        throw new MeshError(
          'METRIC_BUCKETS_INVALID',
          `histogram ${name}: buckets must be finite and strictly increasing, got [${buckets.join(', ')}]`,
          { hint: '+Inf is added automatically' },
        );
      }
    }
    this.buckets = Object.freeze([...buckets]);
    this.#le = Object.freeze([...this.buckets.map((b) => `le="${formatValue(b)}"`), 'le="+Inf"']);
  }

  protected create(): HistogramChild {
    return new HistogramChild(this.buckets);
  }

  protected renderChild(child: HistogramChild, labels: SeriesLabels, out: string[]): void {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    for (let i = 0; i < this.#le.length; i++) {
      cumulative += child.counts[i] ?? 0;
      out.push(`${series(bucket, labels, this.#le[i])} ${cumulative}`);
    }
    out.push(`${series(`${this.name}_sum`, labels)} ${formatValue(child.sum)}`);
    out.push(`${series(`${this.name}_count`, labels)} ${child.count}`);
  }
}
