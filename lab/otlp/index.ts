/** The lab's OTLP trace sink: receive, store, persist and render spans. */
export { readSpansFile, type SpansFile } from './file.ts';
export { startOtlpSink, type OtlpSink, type OtlpSinkOptions } from './server.ts';
export type { SpanPredicate } from './store.ts';
export {
  groupTraces,
  type SinkAttributes,
  type SinkSpan,
  type SinkSpanKind,
  type SinkTrace,
  type SinkValue,
} from './types.ts';
export { renderWaterfall, type WaterfallOptions } from './waterfall.ts';
