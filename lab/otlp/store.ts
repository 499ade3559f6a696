/**
 * In-memory span storage of the OTLP sink: the last `maxSpans` spans, grouped into traces on
 * demand, with waiters that resolve when the stored spans satisfy a predicate (how tests wait for
 * asynchronous exports), and optional append-only JSONL persistence for `waymesh lab traces`.
 */
import { appendFile } from 'node:fs/promises';
import { errorMessage, MeshError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { groupTraces, type SinkSpan, type SinkTrace } from './types.ts';

/** Decides whether the spans received so far are what a caller waits for. */
export type SpanPredicate = (spans: readonly SinkSpan[]) => boolean;

interface Waiter {
  readonly predicate: SpanPredicate;
  readonly resolve: (spans: readonly SinkSpan[]) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Options for {@link SpanStore}. */
export interface SpanStoreOptions {
  /** Spans kept; the oldest go first. Default 10,000. */
  readonly maxSpans?: number;
  /** Append every received span as one JSON line to this file. */
  readonly file?: string;
  readonly log: Logger;
}

/** Bounded span storage with waiters. */
export class SpanStore {
  private stored: SinkSpan[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly maxSpans: number;
  private writes: Promise<void> = Promise.resolve();
  private writeFailed = false;

  constructor(private readonly opts: SpanStoreOptions) {
    this.maxSpans = opts.maxSpans ?? 10_000;
  }

  /** Adds the spans of one export request and wakes waiters. */
  add(spans: readonly SinkSpan[]): void {
    if (spans.length === 0) return;
    for (const s of spans) this.stored.push(s);
    if (this.stored.length > this.maxSpans)
      this.stored = this.stored.slice(this.stored.length - this.maxSpans);
    if (this.opts.file !== undefined) this.persist(this.opts.file, spans);
    for (const w of this.waiters) {
      if (w.predicate(this.stored)) this.settle(w).resolve(this.stored.slice());
    }
  }

  /** Every stored span in arrival order. */
  spans(): readonly SinkSpan[] {
    return this.stored.slice();
  }

  /** Stored spans grouped by trace id. */
  traces(): SinkTrace[] {
    return groupTraces(this.stored);
  }

  /** Forgets every stored span (the file, if any, is kept). */
  clear(): void {
    this.stored = [];
  }

  /** Resolves with the stored spans once `predicate` holds; rejects after `timeoutMs`. */
  waitForSpans(predicate: SpanPredicate, timeoutMs: number): Promise<readonly SinkSpan[]> {
    if (predicate(this.stored)) return Promise.resolve(this.stored.slice());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.settle(waiter).reject(
            new MeshError('OTLP_WAIT_TIMEOUT', `expected spans did not arrive within ${timeoutMs} ms`, {
              hint: `the sink holds ${this.stored.length} spans: ${summary(this.stored)}`,
            }),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Rejects pending waiters and waits for pending file writes. */
  async close(): Promise<void> {
    for (const w of this.waiters)
      this.settle(w).reject(new MeshError('OTLP_SINK_STOPPED', 'the OTLP sink stopped'));
    await this.writes;
  }

  private settle(w: Waiter): Waiter {
    clearTimeout(w.timer);
    this.waiters.delete(w);
    return w;
  }

  private persist(file: string, spans: readonly SinkSpan[]): void {
    let lines = '';
    for (const s of spans) lines += JSON.stringify(s) + '\n';
    this.writes = this.writes
      .then(() => appendFile(file, lines))
      .catch((err: unknown) => {
        if (this.writeFailed) return;
        this.writeFailed = true;
        this.opts.log.warn('cannot write spans to file; keeping them in memory only', {
          file,
          error: errorMessage(err),
        });
      });
  }
}

function summary(spans: readonly SinkSpan[]): string {
  if (spans.length === 0) return 'none';
  const names = spans.slice(-10).map((s) => `${s.serviceName}:${s.name}`);
  return (spans.length > 10 ? '…, ' : '') + names.join(', ');
}
