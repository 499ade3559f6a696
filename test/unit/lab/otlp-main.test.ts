// The trace sink program's pure parts: its flags, the query string of /api/traces, and which
// traces a query selects (what `waymesh lab traces` shows).
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';

import {
  MAX_LAST,
  parseSinkArgs,
  parseTraceQuery,
  selectTraces,
  type SinkArgs,
} from '../../../lab/otlp/main.ts';
import type { SinkSpan } from '../../../lab/otlp/index.ts';

const DEFAULTS: SinkArgs = {
  host: '0.0.0.0',
  grpcPort: 4317,
  httpPort: 4318,
  queryPort: 16686,
  maxSpans: 20000,
};

function span(traceNo: number, spanNo: number, extra: Partial<SinkSpan> = {}): SinkSpan {
  return {
    traceId: traceNo.toString(16).padStart(32, '0'),
    spanId: spanNo.toString(16).padStart(16, '0'),
    parentSpanId: '',
    name: `span ${traceNo}.${spanNo}`,
    kind: 'server',
    serviceName: 'waymesh-waypoint',
    scope: 'test',
    startUs: 1_000_000 * traceNo + spanNo,
    endUs: 1_000_000 * traceNo + spanNo + 10,
    attributes: {},
    resource: {},
    status: { code: 'unset', message: '' },
    events: [],
    ...extra,
  };
}

describe('lab/otlp/main', () => {
  describe('parseSinkArgs', () => {
    const ok: [string[], SinkArgs][] = [
      [[], DEFAULTS],
      [
        ['--grpc-port', '4317', '--http-port', '4318', '--file', '/tmp/spans.jsonl'],
        { ...DEFAULTS, file: '/tmp/spans.jsonl' },
      ],
      [
        ['--host=127.0.0.1', '--grpc-port=0', '--http-port=0', '--query-port=0'],
        { ...DEFAULTS, host: '127.0.0.1', grpcPort: 0, httpPort: 0, queryPort: 0 },
      ],
      [['--query-port', '9000', '--max-spans', '5'], { ...DEFAULTS, queryPort: 9000, maxSpans: 5 }],
    ];
    for (const [argv, want] of ok) {
      it(`accepts ${JSON.stringify(argv)}`, () => assert.deepEqual(parseSinkArgs(argv), want));
    }

    const bad: [string[], RegExp][] = [
      [['--grpc-port', 'x'], /--grpc-port must be an integer from 0 to 65535, got "x"/],
      [['--http-port', '70000'], /--http-port must be an integer from 0 to 65535/],
      [['--query-port', '-1'], /--query-port/],
      [['--max-spans', '0'], /--max-spans must be an integer from 1 to 1000000/],
      [['--grpc-port', '5000', '--http-port', '5000'], /must differ/],
      [['--query-port', '4317'], /must differ/],
      [['--file', ''], /--file needs a path/],
      [['--colour'], /Unknown option '--colour'/],
      [['extra'], /positional/],
    ];
    for (const [argv, want] of bad) {
      it(`refuses ${JSON.stringify(argv)} with CLI_USAGE`, () =>
        assert.throws(
          () => parseSinkArgs(argv),
          (err: Error & { code?: string }) => err.code === 'CLI_USAGE' && want.test(err.message),
        ));
    }

    it('lets several ports be 0 (each picks a free one)', () => {
      assert.equal(parseSinkArgs(['--grpc-port', '0', '--http-port', '0']).grpcPort, 0);
    });
  });

  describe('parseTraceQuery', () => {
    it('defaults to the last 5 traces', () => {
      assert.deepEqual(parseTraceQuery(new URLSearchParams()), { last: 5 });
    });

    it('reads last, trace (lowercased) and service', () => {
      const id = 'AB'.repeat(16);
      assert.deepEqual(parseTraceQuery(new URLSearchParams({ last: '2', trace: id, service: 'echo' })), {
        last: 2,
        trace: id.toLowerCase(),
        service: 'echo',
      });
    });

    const bad: [Record<string, string>, RegExp][] = [
      [{ last: '0' }, /--last must be an integer from 1 to 1000/],
      [{ last: String(MAX_LAST + 1) }, /--last/],
      [{ last: 'all' }, /--last/],
      [{ trace: 'abc' }, /--trace must be a trace id of 32 hex digits/],
      [{ trace: 'g'.repeat(32) }, /--trace/],
      [{ service: '' }, /--service needs a name/],
    ];
    for (const [params, want] of bad) {
      it(`refuses ${JSON.stringify(params)}`, () =>
        assert.throws(() => parseTraceQuery(new URLSearchParams(params)), want));
    }
  });

  describe('selectTraces', () => {
    const spans = [
      span(1, 1),
      span(2, 1, { attributes: { 'waymesh.destination.service': 'default/echo' } }),
      span(3, 1, { serviceName: 'client' }),
      span(1, 2, { parentSpanId: span(1, 1).spanId }),
      span(4, 1, { attributes: { 'waymesh.destination.service': 'shop/echo' } }),
    ];
    const ids = (traces: { traceId: string }[]): number[] => traces.map((t) => parseInt(t.traceId, 16));

    it('keeps the most recent N traces, oldest first, each with all its spans', () => {
      const got = selectTraces(spans, { last: 2 });
      assert.deepEqual(ids(got), [3, 4]);
      assert.deepEqual(ids(selectTraces(spans, { last: 10 })), [1, 2, 3, 4]);
      assert.equal(selectTraces(spans, { last: 10 })[0]?.spans.length, 2);
    });

    it('selects one trace by id', () => {
      const got = selectTraces(spans, { last: 5, trace: span(1, 1).traceId });
      assert.deepEqual(ids(got), [1]);
      assert.deepEqual(
        got[0]?.spans.map((s) => s.name),
        ['span 1.1', 'span 1.2'],
      );
      assert.deepEqual(selectTraces(spans, { last: 5, trace: 'f'.repeat(32) }), []);
    });

    it('filters by OTel service name, by namespace/name and by bare Service name', () => {
      assert.deepEqual(ids(selectTraces(spans, { last: 5, service: 'client' })), [3]);
      assert.deepEqual(ids(selectTraces(spans, { last: 5, service: 'default/echo' })), [2]);
      assert.deepEqual(ids(selectTraces(spans, { last: 5, service: 'echo' })), [2, 4]);
      assert.deepEqual(ids(selectTraces(spans, { last: 1, service: 'echo' })), [4]);
      assert.deepEqual(selectTraces(spans, { last: 5, service: 'other/echo' }), []);
    });

    it('returns nothing for no spans', () => {
      assert.deepEqual(selectTraces([], { last: 5 }), []);
    });
  });
});
