/**
 * A Prometheus registry: metric families by name, rendered in the text exposition format
 * 0.0.4 on scrape. Generic; the names waymesh uses are fixed in DESIGN.md §7.
 */
import { errorMessage, MeshError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Counter, Gauge, Histogram, type GaugeCollector } from './metrics.ts';

/** Content type of {@link Registry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Options for {@link Registry}. */
export interface RegistryOptions {
  /** Where collector failures are reported (the scrape goes on with the last values). */
  readonly logger?: Logger;
}

/** Holds metric families and renders them. */
export class Registry {
  readonly #families = new Map<string, Counter | Gauge | Histogram>();
  readonly #logger: Logger | undefined;

  constructor(options: RegistryOptions = {}) {
    this.#logger = options.logger;
  }

  /** Registers a counter; throws `METRIC_DUPLICATE` when the name is taken. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  /** Registers a gauge; `collect` runs before each scrape to set values read from live state. */
  gauge(name: string, help: string, labelNames: readonly string[] = [], collect?: GaugeCollector): Gauge {
    return this.#add(new Gauge(name, help, labelNames, collect));
  }

  /** Registers a histogram with these upper bounds (strictly increasing; `+Inf` implied). */
  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  /** The family registered under `name`, if any. */
  get(name: string): Counter | Gauge | Histogram | undefined {
    return this.#families.get(name);
  }

  /** Unregisters a family; true when it existed. */
  unregister(name: string): boolean {
    return this.#families.delete(name);
  }

  /** Runs the collectors, then renders every family sorted by name, ending with a newline. */
  render(): string {
    const out: string[] = [];
    const names = [...this.#families.keys()].sort();
    for (const name of names) {
      const family = this.#families.get(name);
      if (family === undefined) continue;
      if (family instanceof Gauge && family.collect !== undefined) {
        try {
          family.collect(family);
        } catch (err) {
          this.#logger?.warn('metric collector failed; serving its last values', {
            metric: name,
            error: errorMessage(err),
          });
        }
      }
      family.render(out);
    }
    return out.length === 0 ? '' : out.join('\n') + '\n';
  }

  #add<M extends Counter | Gauge | Histogram>(family: M): M {
    if (this.#families.has(family.name)) {
      throw new MeshError('METRIC_DUPLICATE', `metric ${family.name} is already registered`, {
        hint: 'register each metric once and share the handle',
      });
    }
    this.#families.set(family.name, family);
    return family;
  }
}
