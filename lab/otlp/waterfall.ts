/**
 * Renders one trace as a text waterfall for `waymesh lab traces` and the demo: one line per span,
 * indented under its parent, with its offset from the trace start, its duration, a bar on a
 * shared time axis, the sending service, the span name and kind, and the attributes that explain
 * what happened (status codes, retries, peer, caller identity).
 */
import type { SinkSpan, SinkTrace, SinkValue } from './types.ts';

/** Attributes shown after the span name, in this order, when present. */
const KEY_ATTRIBUTES = [
  'http.response.status_code',
  'rpc.grpc.status_code',
  'http.request.resend_count',
  'server.address',
  'waymesh.source.principal',
  'error.type',
] as const;

/** Options for {@link renderWaterfall}. */
export interface WaterfallOptions {
  /** Characters of the time bar; default 30. */
  readonly barWidth?: number;
}

/** The waterfall of `trace` as lines of text (no trailing newline). */
export function renderWaterfall(trace: SinkTrace, options: WaterfallOptions = {}): string {
  const width = options.barWidth ?? 30;
  const total = Math.max(1, trace.endUs - trace.startUs);
  const lines = [`trace ${trace.traceId} · ${plural(trace.spans.length, 'span')} · ${ms(total)}`];
  lines.push(`${'offset'.padStart(11)} ${'duration'.padStart(11)}  ${'timeline'.padEnd(width + 2)}  span`);
  for (const { span, depth } of treeOrder(trace.spans)) {
    const offset = span.startUs - trace.startUs;
    const duration = Math.max(0, span.endUs - span.startUs);
    lines.push(
      `${ms(offset).padStart(11)} ${ms(duration).padStart(11)}  ${bar(offset, duration, total, width)}  ` +
        `${'  '.repeat(depth)}${describe(span)}`,
    );
  }
  return lines.join('\n');
}

/** Spans depth-first from the roots (spans whose parent is not in the trace count as roots). */
function treeOrder(spans: readonly SinkSpan[]): { span: SinkSpan; depth: number }[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, SinkSpan[]>();
  const roots: SinkSpan[] = [];
  for (const s of spans) {
    if (s.parentSpanId === '' || !ids.has(s.parentSpanId) || s.parentSpanId === s.spanId) {
      roots.push(s);
      continue;
    }
    const list = children.get(s.parentSpanId);
    if (list === undefined) children.set(s.parentSpanId, [s]);
    else list.push(s);
  }
  const out: { span: SinkSpan; depth: number }[] = [];
  const seen = new Set<string>();
  const visit = (span: SinkSpan, depth: number): void => {
    if (seen.has(span.spanId)) return;
    seen.add(span.spanId);
    out.push({ span, depth });
    for (const child of children.get(span.spanId) ?? []) visit(child, depth + 1);
  };
  for (const root of roots) visit(root, 0);
  // A parent cycle leaves spans unreachable from any root; show them rather than lose them.
  for (const s of spans) visit(s, 0);
  return out;
}

function describe(span: SinkSpan): string {
  let text = `${span.serviceName === '' ? '?' : span.serviceName}: ${span.name} (${span.kind})`;
  for (const key of KEY_ATTRIBUTES) {
    const value = span.attributes[key];
    if (value !== undefined) text += ` ${key}=${show(value)}`;
  }
  if (span.status.code === 'error')
    text += span.status.message === '' ? ' ERROR' : ` ERROR: ${span.status.message}`;
  return text;
}

function bar(offset: number, duration: number, total: number, width: number): string {
  const from = Math.min(width - 1, Math.floor((offset / total) * width));
  const to = Math.min(width, Math.max(from + 1, Math.ceil(((offset + duration) / total) * width)));
  return `|${' '.repeat(from)}${'█'.repeat(to - from)}${' '.repeat(width - to)}|`;
}

function ms(us: number): string {
  return `${(us / 1000).toFixed(3)} ms`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function show(value: SinkValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
