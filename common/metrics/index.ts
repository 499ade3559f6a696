/** Prometheus metrics without dependencies: registry, families, text exposition format 0.0.4. */
export { Registry, PROMETHEUS_CONTENT_TYPE } from './registry.ts';
export type { RegistryOptions } from './registry.ts';
export {
  Counter,
  CounterChild,
  Gauge,
  GaugeChild,
  Histogram,
  HistogramChild,
  DEFAULT_MS_BUCKETS,
} from './metrics.ts';
export type { GaugeCollector } from './metrics.ts';
export { Family } from './family.ts';
export type { LabelSet, MetricType, SeriesLabels } from './family.ts';
export { escapeLabelValue, escapeHelp, formatValue } from './names.ts';
