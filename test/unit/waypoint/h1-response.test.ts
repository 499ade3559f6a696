import { strict as assert } from 'node:assert';

import { parseResponseHead, type ResponseHead } from '../../../waypoint/http/h1/response.ts';

const LIMITS = { maxHeadBytes: 1024, maxFields: 8 };

function head(text: string, method = 'GET'): ResponseHead {
  const r = parseResponseHead(Buffer.from(text, 'latin1'), LIMITS, method);
  assert.equal(r.kind, 'head', JSON.stringify(r));
  return (r as { head: ResponseHead }).head;
}

describe('waypoint h1 response head parser', () => {
  it('parses the status line and fields', () => {
    const h = head('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: 1\r\nX-A: 2\r\n\r\nabc');
    assert.equal(h.status, 200);
    assert.equal(h.headers['x-a'], '1, 2');
    assert.deepEqual(h.framing, { kind: 'length', bytes: 3 });
    assert.equal(h.keepAlive, true);
    assert.equal(h.headBytes, 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: 1\r\nX-A: 2\r\n\r\n'.length);
    assert.equal(head('HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n').status, 404);
    assert.equal(head('HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n').status, 503);
  });

  it('reads the head alone out of a buffer that also holds the body, short or long', () => {
    const h0 = 'HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nX-A: 1\r\n\r\n';
    // A body that looks like more fields and like the end of another head.
    for (const body of ['X-B: 2\r\n\r\n', 'X-B: 2\r\n\r\n' + 'y'.repeat(4000)]) {
      const h = head(h0 + body);
      assert.equal(h.headBytes, h0.length);
      assert.deepEqual(Object.keys(h.headers), ['content-length', 'x-a']);
    }
    // A head cut short behind 3 KiB of fields is still incomplete, not refused.
    const partial = 'HTTP/1.1 200 OK\r\n' + 'X-F: '.padEnd(3000, 'v') + '\r\nX-G: 1';
    const big = { maxHeadBytes: 8192, maxFields: 8 };
    assert.deepEqual(parseResponseHead(Buffer.from(partial, 'latin1'), big, 'GET'), { kind: 'incomplete' });
    const r = parseResponseHead(Buffer.from(partial + '\r\n\r\nbody', 'latin1'), big, 'GET');
    assert.equal(r.kind, 'head');
    if (r.kind === 'head') assert.equal(r.head.headers['x-g'], '1');
  });

  it('frames bodies as RFC 9112 §6.3 says', () => {
    assert.deepEqual(head('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n', 'HEAD').framing, { kind: 'none' });
    assert.deepEqual(head('HTTP/1.1 204 No Content\r\n\r\n').framing, { kind: 'none' });
    assert.deepEqual(head('HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n').framing, {
      kind: 'none',
    });
    assert.deepEqual(head('HTTP/1.1 100 Continue\r\n\r\n').framing, { kind: 'none' });
    assert.deepEqual(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n').framing, {
      kind: 'chunked',
    });
    const both = head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n');
    assert.deepEqual(both.framing, { kind: 'chunked' });
    assert.equal(both.keepAlive, false, 'a response with both is not reused');
    const close = head('HTTP/1.1 200 OK\r\n\r\n');
    assert.deepEqual(close.framing, { kind: 'close' });
    assert.equal(close.keepAlive, false);
  });

  it('reuses HTTP/1.1 connections unless closed, HTTP/1.0 only when kept alive', () => {
    assert.equal(head('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').keepAlive, false);
    assert.equal(head('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').keepAlive, false);
    assert.equal(
      head('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').keepAlive,
      true,
    );
  });

  it('reads an HTTP/1.0 response with Transfer-Encoding, then closes its connection (RFC 9112 §6.1)', () => {
    const h = head(
      'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    assert.deepEqual(h.framing, { kind: 'chunked' });
    assert.equal(h.keepAlive, false);
  });

  it('refuses malformed heads', () => {
    for (const text of [
      'HTTP/1.1 20 OK\r\n\r\n',
      'HTTP/2 200 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX : y\r\n\r\n',
      'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n',
    ]) {
      const r = parseResponseHead(Buffer.from(text, 'latin1'), LIMITS, 'GET');
      assert.equal(r.kind, 'error', JSON.stringify(text));
    }
    const partial = parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'), LIMITS, 'GET');
    assert.deepEqual(partial, { kind: 'incomplete' });
  });
});
