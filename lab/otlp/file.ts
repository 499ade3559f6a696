/**
 * Reads the JSONL file an OTLP sink writes (`startOtlpSink({file})`), so `waymesh lab traces`
 * can show traces after the fact, from another process.
 */
import { readFile } from 'node:fs/promises';
import { MeshError } from '../../common/errors.ts';
import type { SinkSpan } from './types.ts';

/** What {@link readSpansFile} found. */
export interface SpansFile {
  readonly spans: SinkSpan[];
  /** Lines that were not spans (e.g. a line the sink was still writing). */
  readonly skipped: number;
}

/** Reads every span in `path`; throws a MeshError when the file cannot be read. */
export async function readSpansFile(path: string): Promise<SpansFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new MeshError('OTLP_SPANS_FILE', `cannot read the trace file ${path}`, {
      hint: 'is the lab up? its OTLP sink writes this file once the first spans arrive',
      cause: err,
    });
  }
  const spans: SinkSpan[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const span = parseLine(line);
    if (span === undefined) skipped++;
    else spans.push(span);
  }
  return { spans, skipped };
}

function parseLine(line: string): SinkSpan | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const s = value as Partial<Record<keyof SinkSpan, unknown>>;
  const ok =
    typeof s.traceId === 'string' &&
    typeof s.spanId === 'string' &&
    typeof s.parentSpanId === 'string' &&
    typeof s.name === 'string' &&
    typeof s.startUs === 'number' &&
    typeof s.endUs === 'number' &&
    typeof s.attributes === 'object' &&
    typeof s.status === 'object';
  return ok ? (value as SinkSpan) : undefined;
}
