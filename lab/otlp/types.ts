/** The span shape the lab's OTLP sink stores, persists as JSONL and renders. */

/** An attribute value as decoded from OTLP (`kvlist` values become plain objects). */
export type SinkValue =
  string | number | boolean | null | readonly SinkValue[] | { readonly [key: string]: SinkValue };

/** Attributes by key. */
export type SinkAttributes = Readonly<Record<string, SinkValue>>;

/** Span kinds by their OTLP names, lowercased. */
export type SinkSpanKind = 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** One span received by the sink, independent of the wire format it came in. */
export interface SinkSpan {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** 16 lowercase hex digits. */
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: SinkSpanKind;
  /** `service.name` of the resource that sent it (empty when absent). */
  readonly serviceName: string;
  /** Instrumentation scope name. */
  readonly scope: string;
  /** Start and end, microseconds since the Unix epoch. */
  readonly startUs: number;
  readonly endUs: number;
  readonly attributes: SinkAttributes;
  readonly resource: SinkAttributes;
  readonly status: { readonly code: 'unset' | 'ok' | 'error'; readonly message: string };
  readonly events: readonly {
    readonly name: string;
    readonly timeUs: number;
    readonly attributes: SinkAttributes;
  }[];
}

/** The spans of one trace, ordered by start time. */
export interface SinkTrace {
  readonly traceId: string;
  readonly spans: readonly SinkSpan[];
  readonly startUs: number;
  readonly endUs: number;
}

/** Groups spans by trace id (traces in order of first arrival, spans by start time). */
export function groupTraces(spans: readonly SinkSpan[]): SinkTrace[] {
  const byId = new Map<string, SinkSpan[]>();
  for (const span of spans) {
    const list = byId.get(span.traceId);
    if (list === undefined) byId.set(span.traceId, [span]);
    else list.push(span);
  }
  const out: SinkTrace[] = [];
  for (const [traceId, list] of byId) {
    list.sort((a, b) => a.startUs - b.startUs || (a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0));
    let startUs = Number.POSITIVE_INFINITY;
    let endUs = Number.NEGATIVE_INFINITY;
    for (const s of list) {
      startUs = Math.min(startUs, s.startUs);
      endUs = Math.max(endUs, s.endUs);
    }
    out.push({ traceId, spans: list, startUs, endUs });
  }
  return out;
}
