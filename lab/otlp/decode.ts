/**
 * Turns a decoded `ExportTraceServiceRequest` into {@link SinkSpan}s. One normaliser serves both
 * wire formats: the object @grpc/proto-loader decodes from protobuf (ids as bytes, int64 as
 * strings, no defaults filled) and OTLP/JSON (ids as hex strings, int64 as strings or numbers).
 */
import { MeshError } from '../../common/errors.ts';
import type { SinkAttributes, SinkSpan, SinkSpanKind, SinkValue } from './types.ts';

type Rec = Readonly<Record<string, unknown>>;

const KINDS: readonly SinkSpanKind[] = [
  'unspecified',
  'internal',
  'server',
  'client',
  'producer',
  'consumer',
];
const STATUS: readonly SinkSpan['status']['code'][] = ['unset', 'ok', 'error'];
const HEX = /^[0-9a-f]*$/;
const ALL_ZERO = /^0+$/;

/** Normalises every span of a decoded export request; throws a MeshError on malformed ids. */
export function spansFromExportRequest(request: unknown): SinkSpan[] {
  const out: SinkSpan[] = [];
  for (const rs of list(rec(request)['resourceSpans'])) {
    const resource = attributes(rec(rec(rs)['resource'])['attributes']);
    const service = resource['service.name'];
    const serviceName = typeof service === 'string' ? service : '';
    for (const ss of list(rec(rs)['scopeSpans'])) {
      const scope = text(rec(rec(ss)['scope'])['name']);
      for (const raw of list(rec(ss)['spans'])) {
        out.push(span(rec(raw), serviceName, scope, resource));
      }
    }
  }
  return out;
}

function span(s: Rec, serviceName: string, scope: string, resource: SinkAttributes): SinkSpan {
  const status = rec(s['status']);
  return {
    traceId: id(s['traceId'], 32, 'traceId'),
    spanId: id(s['spanId'], 16, 'spanId'),
    parentSpanId: id(s['parentSpanId'], 16, 'parentSpanId', true),
    name: text(s['name']),
    kind: enumName(s['kind'], KINDS, 'SPAN_KIND_'),
    serviceName,
    scope,
    startUs: micros(s['startTimeUnixNano']),
    endUs: micros(s['endTimeUnixNano']),
    attributes: attributes(s['attributes']),
    resource,
    status: { code: enumName(status['code'], STATUS, 'STATUS_CODE_'), message: text(status['message']) },
    events: list(s['events']).map((e) => ({
      name: text(rec(e)['name']),
      timeUs: micros(rec(e)['timeUnixNano']),
      attributes: attributes(rec(e)['attributes']),
    })),
  };
}

function rec(v: unknown): Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {};
}

function list(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function id(v: unknown, hexLength: number, field: string, optional = false): string {
  const hex =
    v instanceof Uint8Array
      ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')
      : typeof v === 'string'
        ? v.toLowerCase()
        : '';
  if (hex === '' && optional) return '';
  if (hex.length !== hexLength || !HEX.test(hex) || ALL_ZERO.test(hex)) {
    throw new MeshError(
      'OTLP_BAD_SPAN',
      `span ${field} ${JSON.stringify(hex)} is not ${hexLength} hex digits`,
      {
        hint: 'OTLP/JSON carries ids as hex strings, OTLP/protobuf as bytes',
      },
    );
  }
  return hex;
}

function micros(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v / 1000);
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(BigInt(v) / 1000n);
  return 0;
}

function enumName<T extends string>(v: unknown, names: readonly T[], prefix: string): T {
  if (typeof v === 'number') return names[v] ?? (names[0] as T);
  if (typeof v === 'string') {
    const name = v.startsWith(prefix) ? v.slice(prefix.length).toLowerCase() : v.toLowerCase();
    const found = names.find((n) => n === name);
    if (found !== undefined) return found;
  }
  return names[0] as T;
}

function attributes(v: unknown): SinkAttributes {
  const out: Record<string, SinkValue> = {};
  for (const kv of list(v)) {
    const key = text(rec(kv)['key']);
    if (key !== '') out[key] = anyValue(rec(kv)['value']);
  }
  return out;
}

function anyValue(v: unknown): SinkValue {
  const a = rec(v);
  if (a['stringValue'] !== undefined) return text(a['stringValue']);
  if (a['boolValue'] !== undefined) return a['boolValue'] === true;
  const int = a['intValue'];
  if (typeof int === 'string' || typeof int === 'number') {
    const n = Number(int);
    return Number.isSafeInteger(n) ? n : String(int);
  }
  if (a['doubleValue'] !== undefined) return Number(a['doubleValue']);
  if (a['arrayValue'] !== undefined) return list(rec(a['arrayValue'])['values']).map(anyValue);
  if (a['kvlistValue'] !== undefined) return attributes(rec(a['kvlistValue'])['values']);
  if (a['bytesValue'] !== undefined) {
    const b = a['bytesValue'];
    return b instanceof Uint8Array ? Buffer.from(b).toString('base64') : text(b);
  }
  return null;
}
