// Pure pieces of the waypoint's HTTP engine: the edge status catalogue (HTTP + gRPC), gRPC →
// HTTP mapping for retries, protocol detection by prefix, header edits, endpoint choice.
import assert from 'node:assert/strict';

import { MeshError } from '../../../common/errors.ts';
import type { MeshService } from '../../../common/ir/mesh.ts';
import type { ServiceKey } from '../../../common/ir/source.ts';
import { Cancel, toAbortSignal } from '../../../waypoint/http/cancel.ts';
import { classifyPrefix, H2_PREFACE } from '../../../waypoint/http/detect.ts';
import { EndpointHealth } from '../../../common/endpoint-health.ts';
import { EndpointPicker } from '../../../waypoint/http/endpoints.ts';
import { applyHeaderEdits, endToEndHeaders } from '../../../waypoint/http/headers.ts';
import {
  EngineErrorCode,
  GrpcStatus,
  edgeStatus,
  httpEquivalentOfGrpc,
  parseGrpcStatus,
} from '../../../waypoint/http/status.ts';

describe('waypoint http: edge status', () => {
  const table: [string, number, number][] = [
    [EngineErrorCode.NO_ROUTE, 404, GrpcStatus.UNIMPLEMENTED],
    [EngineErrorCode.INVALID_BACKEND, 500, GrpcStatus.UNAVAILABLE],
    [EngineErrorCode.NO_ENDPOINTS, 503, GrpcStatus.UNAVAILABLE],
    [EngineErrorCode.CONNECT_FAILED, 502, GrpcStatus.UNAVAILABLE],
    [EngineErrorCode.UPSTREAM_RESET, 502, GrpcStatus.UNAVAILABLE],
    [EngineErrorCode.TIMEOUT, 504, GrpcStatus.DEADLINE_EXCEEDED],
    [EngineErrorCode.DENIED, 403, GrpcStatus.PERMISSION_DENIED],
    [EngineErrorCode.RATE_LIMITED, 429, GrpcStatus.RESOURCE_EXHAUSTED],
    [EngineErrorCode.BAD_REQUEST, 400, GrpcStatus.INTERNAL],
    ['SOMETHING_ELSE', 500, GrpcStatus.INTERNAL],
  ];
  for (const [code, http, grpc] of table) {
    it(`${code} → ${http} / gRPC ${grpc}`, () => {
      assert.deepEqual(edgeStatus(new MeshError(code, 'x')), { http, grpc });
    });
  }
  it('maps non-MeshErrors to 500 / INTERNAL', () => {
    assert.deepEqual(edgeStatus(new Error('boom')), { http: 500, grpc: GrpcStatus.INTERNAL });
  });
  it('maps gRPC statuses to the HTTP codes retry policies list', () => {
    assert.equal(httpEquivalentOfGrpc(GrpcStatus.UNAVAILABLE), 503);
    assert.equal(httpEquivalentOfGrpc(GrpcStatus.DEADLINE_EXCEEDED), 504);
    assert.equal(httpEquivalentOfGrpc(GrpcStatus.RESOURCE_EXHAUSTED), 429);
    assert.equal(httpEquivalentOfGrpc(GrpcStatus.INTERNAL), 500);
    assert.equal(httpEquivalentOfGrpc(GrpcStatus.NOT_FOUND), 0);
    assert.equal(httpEquivalentOfGrpc(GrpcStatus.OK), 0);
  });
  it('parses grpc-status values', () => {
    assert.equal(parseGrpcStatus('14'), 14);
    assert.equal(parseGrpcStatus(['0']), 0);
    assert.equal(parseGrpcStatus('abc'), undefined);
    assert.equal(parseGrpcStatus('99'), undefined);
    assert.equal(parseGrpcStatus(undefined), undefined);
  });
});

describe('waypoint http: protocol detection', () => {
  it('needs the whole preface for h2 and decides h1 at the first mismatch', () => {
    assert.equal(classifyPrefix(H2_PREFACE), 'h2');
    assert.equal(classifyPrefix(Buffer.concat([H2_PREFACE, Buffer.from('xyz')])), 'h2');
    assert.equal(classifyPrefix(H2_PREFACE.subarray(0, 10)), undefined);
    assert.equal(classifyPrefix(Buffer.from('P')), undefined);
    assert.equal(classifyPrefix(Buffer.from('GET / HTTP/1.1\r\n')), 'h1');
    assert.equal(classifyPrefix(Buffer.from('PUT')), 'h1');
  });
});

describe('waypoint http: headers', () => {
  it('drops hop-by-hop, pseudo and connection-listed headers; keeps te: trailers', () => {
    const out = endToEndHeaders({
      ':path': '/x',
      host: 'a',
      connection: 'x-private, keep-alive',
      'x-private': '1',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      te: 'trailers',
      'x-kept': 'yes',
    });
    assert.deepEqual(out, { 'x-kept': 'yes', te: 'trailers' });
  });
  it('applies set, add and remove in order', () => {
    const out = applyHeaderEdits({ a: '1', b: '2', 'set-cookie': 'x=1' }, [
      { set: [{ name: 'a', value: 'one' }], add: [{ name: 'b', value: '3' }], remove: [] },
      {
        set: [],
        add: [
          { name: 'c', value: 'new' },
          { name: 'set-cookie', value: 'y=2' },
        ],
        remove: ['a'],
      },
    ]);
    assert.deepEqual(out, { b: '2, 3', c: 'new', 'set-cookie': ['x=1', 'y=2'] });
  });
  it('treats constructor and __proto__ as header names, not Object.prototype members', () => {
    const copied = endToEndHeaders(JSON.parse('{"__proto__":"p","x":"1"}') as Record<string, string>);
    const out = applyHeaderEdits(copied, [
      {
        set: [{ name: 'toString', value: 's' }],
        add: [
          { name: 'constructor', value: 'c' },
          { name: '__proto__', value: 'q' },
        ],
        remove: [],
      },
    ]);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal(JSON.stringify(out), '{"__proto__":"p, q","x":"1","toString":"s","constructor":"c"}');
  });
});

describe('waypoint http: endpoint picker', () => {
  const key: ServiceKey = 'ns/svc';
  const svc: MeshService = {
    key,
    namespace: 'ns',
    name: 'svc',
    clusterIPs: [],
    ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }],
    endpoints: [
      { workloadUid: 'a', ip: '10.0.0.1', node: 'n', ready: true, ports: { 80: 8080 } },
      { workloadUid: 'b', ip: '10.0.0.2', node: 'n', ready: true, ports: { 80: 8080 } },
      { workloadUid: 'c', ip: '10.0.0.3', node: 'n', ready: false, ports: { 80: 8080 } },
      { workloadUid: 'd', ip: '10.0.0.4', node: 'n', ready: true, ports: {} },
    ],
    source: { group: '', kind: 'Service', namespace: 'ns', name: 'svc' },
  };
  const services = new Map([[key, svc]]);

  it('picks the least loaded ready endpoint with the target port and counts it', () => {
    const picker = new EndpointPicker(() => 0.99);
    const first = picker.pick(services, key, 80);
    assert.equal(first?.ip, '10.0.0.1');
    assert.equal(first?.port, 8080);
    assert.equal(picker.pick(services, key, 80)?.ip, '10.0.0.2');
    assert.deepEqual(picker.snapshot(), { '10.0.0.1:8080': 1, '10.0.0.2:8080': 1 });
    if (first !== undefined) picker.release(first);
    assert.equal(picker.pick(services, key, 80)?.ip, '10.0.0.1');
  });
  it('breaks ties with the random source', () => {
    assert.equal(new EndpointPicker(() => 0).pick(services, key, 80)?.ip, '10.0.0.2');
    assert.equal(new EndpointPicker(() => 0.9).pick(services, key, 80)?.ip, '10.0.0.1');
  });
  it('returns undefined for unknown services and ports without ready endpoints', () => {
    const picker = new EndpointPicker(() => 0);
    assert.equal(picker.pick(services, 'ns/none', 80), undefined);
    assert.equal(picker.pick(services, key, 81), undefined);
  });
  it('never picks an endpoint to avoid, declining when no other is ready', () => {
    const picker = new EndpointPicker(() => 0.99);
    assert.equal(picker.pick(services, key, 80, new Set(['10.0.0.1:8080']))?.ip, '10.0.0.2');
    assert.equal(picker.pick(services, key, 80, new Set(['10.0.0.1:8080', '10.0.0.2:8080'])), undefined);
    assert.deepEqual(picker.snapshot(), { '10.0.0.2:8080': 1 }, 'a declined pick counts nothing');
  });
  it('skips an endpoint that failed until it succeeds, unless every endpoint failed', () => {
    let now = 0;
    const picker = new EndpointPicker(() => 0.99, new EndpointHealth({ now: () => now }));
    const a = picker.pick(services, key, 80);
    assert.equal(a?.ip, '10.0.0.1');
    if (a === undefined) return;
    picker.release(a);
    picker.failed(a);
    for (let i = 0; i < 3; i++) assert.equal(picker.pick(services, key, 80)?.ip, '10.0.0.2');
    const b = picker.pick(services, key, 80);
    if (b === undefined) throw new Error('b');
    picker.failed(b);
    // Both skipped: the least loaded of all again, never an unready one.
    assert.equal(picker.pick(services, key, 80)?.ip, '10.0.0.1');
    picker.succeeded(b);
    // b is the busier one (5 outstanding against 1) but the only one not skipped.
    assert.equal(picker.pick(services, key, 80)?.ip, '10.0.0.2', 'a success clears the skip');
    now += 2_000;
    assert.equal(picker.pick(services, key, 80)?.ip, '10.0.0.1', 'the skip of a first failure lasts 2 s');
  });
});

describe('waypoint http: cancel signal', () => {
  it('calls each listener once with the first reason, and none after removal or once aborted', () => {
    const c = new Cancel();
    const calls: string[] = [];
    const a = (): void => void calls.push(`a:${String(c.reason)}`);
    const b = (): void => void calls.push('b');
    c.addEventListener('abort', a);
    c.addEventListener('abort', b);
    c.removeEventListener('abort', b);
    assert.doesNotThrow(() => c.throwIfAborted());
    c.abort('first');
    c.abort('second');
    assert.deepEqual(calls, ['a:first']);
    assert.equal(c.aborted, true);
    assert.throws(
      () => c.throwIfAborted(),
      (e: unknown) => e === 'first',
    );
    c.addEventListener('abort', b);
    assert.deepEqual(calls, ['a:first']);
  });

  it('gives a real AbortSignal that follows it, aborted already when it is', () => {
    const c = new Cancel();
    const s = toAbortSignal(c);
    assert.equal(s.aborted, false);
    c.abort(new Error('gone'));
    assert.equal(s.aborted, true);
    assert.equal((s.reason as Error).message, 'gone');
    assert.equal(toAbortSignal(c).aborted, true);
    const native = new AbortController().signal;
    assert.equal(toAbortSignal(native), native);
  });
});
