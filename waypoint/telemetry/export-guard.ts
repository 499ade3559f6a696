/**
 * Keeps span export off the request path and accounts for every span it gives up on. The
 * {@link QueueGuard} in front of the batch processor refuses spans once `maxQueueSize` are waiting
 * (so the batch processor itself never has to drop silently), and the {@link GuardedExporter}
 * behind it counts the spans of failed export batches. Both report to one {@link DropCounter},
 * which calls `onDropped(n)` and logs once per outage rather than once per batch.
 */
import { TraceFlags, type Context } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';

/** Minimum time between two "queue full" warnings while exports keep succeeding. */
const QUEUE_WARN_INTERVAL_MS = 60_000;

/** Options for {@link DropCounter}. */
export interface DropCounterOptions {
  readonly maxQueueSize: number;
  /** The collector URL, for log lines. */
  readonly endpoint: string;
  readonly onDropped: (count: number) => void;
  readonly log: Logger;
  readonly now?: () => number;
}

/** Tracks spans waiting for export and spans dropped, and logs outages once. */
export class DropCounter {
  /** Spans handed to the batch processor and not yet handed to the exporter. */
  private queued = 0;
  private failing = false;
  private droppedInOutage = 0;
  private lastQueueWarn = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(private readonly opts: DropCounterOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Called for each finished sampled span: true when it may be queued, false when dropped. */
  admit(): boolean {
    if (this.queued < this.opts.maxQueueSize) {
      this.queued++;
      return true;
    }
    this.opts.onDropped(1);
    this.droppedInOutage++;
    const t = this.now();
    if (!this.failing && t - this.lastQueueWarn >= QUEUE_WARN_INTERVAL_MS) {
      this.lastQueueWarn = t;
      this.opts.log.warn('trace queue full; dropping spans', {
        endpoint: this.opts.endpoint,
        maxQueueSize: this.opts.maxQueueSize,
        hint: 'the collector is slower than the request rate; lower the sampling ratio or scale the collector',
      });
    }
    return false;
  }

  /** Called when the batch processor hands `count` spans to the exporter. */
  handedOff(count: number): void {
    this.queued = Math.max(0, this.queued - count);
  }

  /** Called when an export batch of `count` spans failed. */
  failed(count: number, error: unknown): void {
    if (count > 0) this.opts.onDropped(count);
    this.droppedInOutage += count;
    if (this.failing) return;
    this.failing = true;
    this.opts.log.warn('trace export failing; dropping spans until the collector answers', {
      endpoint: this.opts.endpoint,
      error: errorMessage(error),
      hint: 'is the OTLP collector running and reachable at this endpoint?',
    });
  }

  /** Called when an export batch succeeded; ends an outage. */
  succeeded(): void {
    if (this.failing) {
      this.opts.log.info('trace export recovered', {
        endpoint: this.opts.endpoint,
        droppedSpans: this.droppedInOutage,
      });
    }
    this.failing = false;
    this.droppedInOutage = 0;
  }
}

/**
 * Wraps the OTLP exporter. A failed batch is counted and logged by the {@link DropCounter} and
 * then reported as handled, so the batch processor neither rejects flushes nor reports each
 * failure again; the spans are gone either way (the batch processor never retries).
 */
export class GuardedExporter implements SpanExporter {
  private stopped = false;

  constructor(
    private readonly inner: SpanExporter,
    private readonly counter: DropCounter,
  ) {}

  /** Exports one batch; `done` always receives SUCCESS once the outcome is accounted for. */
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const count = spans.length;
    this.counter.handedOff(count);
    const finish = (result: ExportResult): void => {
      if (result.code === ExportResultCode.SUCCESS) this.counter.succeeded();
      else this.counter.failed(count, result.error ?? new Error('export failed'));
      done({ code: ExportResultCode.SUCCESS });
    };
    try {
      this.inner.export(spans, finish);
    } catch (err) {
      finish({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  /** Shuts the wrapped exporter down once (closes its gRPC channel or HTTP agent). */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.inner.shutdown();
  }

  /** Forwards to the wrapped exporter. */
  async forceFlush(): Promise<void> {
    await this.inner.forceFlush?.();
  }
}

/** Sits in front of the batch processor and refuses sampled spans when its queue is full. */
export class QueueGuard implements SpanProcessor {
  constructor(
    private readonly inner: SpanProcessor,
    private readonly counter: DropCounter,
  ) {}

  /** Forwards to the batch processor. */
  onStart(span: Span, parentContext: Context): void {
    this.inner.onStart(span, parentContext);
  }

  /** Queues a finished sampled span unless the queue is full (then it is counted as dropped). */
  onEnd(span: ReadableSpan): void {
    // The batch processor ignores unsampled spans; do not count them against the queue.
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.counter.admit()) this.inner.onEnd(span);
  }

  /** Exports everything queued. */
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  /** Flushes and shuts down the batch processor and its exporter. */
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
