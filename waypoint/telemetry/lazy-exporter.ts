/**
 * The OTLP span exporter, loaded on demand: the exporter packages (with `@grpc/grpc-js` or
 * protobufjs behind them) add ~15 MB of RSS, so a waypoint without a tracing endpoint never loads
 * them, and one with an endpoint loads them in the background when tracing is created.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** The OTLP transports the exporter speaks. */
export type LazyOtlpProtocol = 'grpc' | 'http/protobuf';

async function load(protocol: LazyOtlpProtocol, url: string, timeoutMillis: number): Promise<SpanExporter> {
  if (protocol === 'grpc') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
    return new OTLPTraceExporter({ url, timeoutMillis });
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({ url, timeoutMillis });
}

/** A SpanExporter that imports and builds the real OTLP exporter once, then delegates to it. */
export class LazyOtlpExporter implements SpanExporter {
  readonly #inner: Promise<SpanExporter>;

  constructor(protocol: LazyOtlpProtocol, url: string, timeoutMillis: number) {
    this.#inner = load(protocol, url, timeoutMillis);
    // A failed import is reported through each export's result; do not also crash the process.
    this.#inner.catch(() => undefined);
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.#inner.then(
      (exporter) => exporter.export(spans, resultCallback),
      (err: unknown) =>
        resultCallback({
          code: ExportResultCode.FAILED,
          error: err instanceof Error ? err : new Error(String(err)),
        }),
    );
  }

  async shutdown(): Promise<void> {
    const exporter = await this.#inner.catch(() => undefined);
    await exporter?.shutdown();
  }

  async forceFlush(): Promise<void> {
    const exporter = await this.#inner.catch(() => undefined);
    await exporter?.forceFlush?.();
  }
}
