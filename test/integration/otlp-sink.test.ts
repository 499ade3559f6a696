import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMeshError } from '../../common/errors.ts';
import {
  groupTraces,
  readSpansFile,
  renderWaterfall,
  startTestSink,
  type OtlpSink,
} from '../helpers/otlp.ts';

const T = '5b8efff798038103d269b633813fc60c';
const S1 = 'eee19b7ec3c1b174';
const S2 = 'eee19b7ec3c1b175';
const S3 = 'eee19b7ec3c1b176';
const BASE = 1_700_000_000_000_000_000n;
const ns = (ms: number): string => String(BASE + BigInt(ms * 1_000_000));

/** A known trace in OTLP/JSON: a server span and two upstream attempts (503, then 200). */
const REQUEST = {
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'waymesh-waypoint' } }] },
      scopeSpans: [
        {
          scope: { name: 'waymesh-waypoint' },
          spans: [
            {
              traceId: T,
              spanId: S1,
              name: 'GET shop/reviews/0',
              kind: 2,
              startTimeUnixNano: ns(0),
              endTimeUnixNano: ns(10),
              attributes: [
                { key: 'http.response.status_code', value: { intValue: '200' } },
                {
                  key: 'waymesh.source.principal',
                  value: { stringValue: 'spiffe://cluster.local/ns/shop/sa/web' },
                },
              ],
            },
            {
              traceId: T,
              spanId: S2,
              parentSpanId: S1,
              name: 'upstream shop/reviews-v1',
              kind: 3,
              startTimeUnixNano: ns(1),
              endTimeUnixNano: ns(4),
              attributes: [{ key: 'http.response.status_code', value: { intValue: 503 } }],
              status: { code: 2 },
            },
            {
              traceId: T,
              spanId: S3,
              parentSpanId: S1,
              name: 'upstream shop/reviews-v1',
              kind: 3,
              startTimeUnixNano: ns(5),
              endTimeUnixNano: ns(9),
              attributes: [
                { key: 'http.response.status_code', value: { intValue: 200 } },
                { key: 'http.request.resend_count', value: { intValue: 1 } },
                {
                  key: 'tags',
                  value: { arrayValue: { values: [{ stringValue: 'a' }, { boolValue: true }] } },
                },
              ],
            },
          ],
        },
      ],
    },
  ],
};

const WATERFALL = `trace ${T} · 3 spans · 10.000 ms
     offset    duration  timeline                          span
   0.000 ms   10.000 ms  |██████████████████████████████|  waymesh-waypoint: GET shop/reviews/0 (server) http.response.status_code=200 waymesh.source.principal=spiffe://cluster.local/ns/shop/sa/web
   1.000 ms    3.000 ms  |   █████████                  |    waymesh-waypoint: upstream shop/reviews-v1 (client) http.response.status_code=503 ERROR
   5.000 ms    4.000 ms  |               ████████████   |    waymesh-waypoint: upstream shop/reviews-v1 (client) http.response.status_code=200 http.request.resend_count=1`;

function post(sink: OtlpSink, body: string, type = 'application/json'): Promise<Response> {
  return fetch(sink.httpUrl, { method: 'POST', headers: { 'content-type': type }, body });
}

describe('lab OTLP sink', function () {
  this.timeout(20_000);
  let sink: OtlpSink;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wm-otlp-'));
    sink = await startTestSink({ file: join(dir, 'spans.jsonl'), maxSpans: 5 });
  });
  after(async () => {
    await sink.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts OTLP/JSON, groups the trace and renders its waterfall', async () => {
    const res = await post(sink, JSON.stringify(REQUEST));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    const [trace] = sink.traces();
    assert.ok(trace);
    assert.equal(trace.spans[2]?.attributes['tags'] !== undefined, true);
    assert.deepEqual(trace.spans[2]?.attributes['tags'], ['a', true]);
    assert.equal(renderWaterfall(trace), WATERFALL);
  });

  it('persists spans as JSONL that readSpansFile reads back, skipping broken lines', async () => {
    await sink.stop();
    const file = join(dir, 'spans.jsonl');
    await appendFile(file, '{"half a line');
    const { spans, skipped } = await readSpansFile(file);
    assert.equal(skipped, 1);
    assert.equal(spans.length, 3);
    const [trace] = groupTraces(spans);
    assert.ok(trace);
    assert.equal(renderWaterfall(trace), WATERFALL);
    sink = await startTestSink({ maxSpans: 5 });
  });

  it('keeps only the newest maxSpans spans', async () => {
    sink.clear();
    await post(sink, JSON.stringify(REQUEST));
    await post(sink, JSON.stringify(REQUEST));
    assert.equal(sink.spans().length, 5);
  });

  it('answers bad requests with the HTTP status that says why', async () => {
    assert.equal((await post(sink, 'x', 'text/plain')).status, 415);
    assert.equal((await post(sink, '{not json')).status, 400);
    const badId = JSON.stringify({
      resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'zz', spanId: S1 }] }] }],
    });
    const res = await post(sink, badId);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /traceId/);
    assert.equal(
      (await fetch(sink.httpUrl.replace('/v1/traces', '/v1/metrics'), { method: 'POST' })).status,
      404,
    );
  });

  it('times out a wait with a MeshError naming what did arrive', async () => {
    await assert.rejects(
      sink.waitForSpans((s) => s.some((x) => x.name === 'never'), 50),
      (e) => isMeshError(e, 'OTLP_WAIT_TIMEOUT') && e.hint.includes('upstream shop/reviews-v1'),
    );
  });

  it('reports an unreadable trace file as a MeshError', async () => {
    await writeFile(join(dir, 'exists'), '');
    assert.deepEqual(await readSpansFile(join(dir, 'exists')), { spans: [], skipped: 0 });
    await assert.rejects(readSpansFile(join(dir, 'missing.jsonl')), (e) => isMeshError(e, 'OTLP_SPANS_FILE'));
  });
});
