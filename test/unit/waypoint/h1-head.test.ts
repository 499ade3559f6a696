import { strict as assert } from 'node:assert';

import { parseRequestHead, type HeadResult, type RequestHead } from '../../../waypoint/http/h1/head.ts';

const LIMITS = { maxHeadBytes: 1024, maxFields: 8 };

function parse(text: string, limits = LIMITS): HeadResult {
  return parseRequestHead(Buffer.from(text, 'latin1'), limits);
}

function head(text: string): RequestHead {
  const r = parse(text);
  assert.equal(r.kind, 'head', JSON.stringify(r));
  return (r as { head: RequestHead }).head;
}

function refused(text: string, status: number, reason: RegExp): void {
  const r = parse(text);
  assert.equal(r.kind, 'error', `${JSON.stringify(text)} was accepted`);
  if (r.kind !== 'error') return;
  assert.equal(r.status, status, r.reason);
  assert.match(r.reason, reason);
}

describe('waypoint h1 request head parser', () => {
  it('parses a request line, fields and the head length', () => {
    const text =
      'GET /a?b=1 HTTP/1.1\r\nHost: web\r\nX-A: 1\r\nx-a: 2\r\nCookie: a=1\r\ncookie: b=2\r\n\r\nBODY';
    const h = head(text);
    assert.equal(h.method, 'GET');
    assert.equal(h.target, '/a?b=1');
    assert.equal(h.versionMinor, 1);
    assert.equal(h.headers['host'], 'web');
    assert.equal(h.headers['x-a'], '1, 2');
    assert.equal(h.headers['cookie'], 'a=1; b=2');
    assert.deepEqual(h.rawHeaders, ['Host', 'web', 'X-A', '1', 'x-a', '2', 'Cookie', 'a=1', 'cookie', 'b=2']);
    assert.equal(h.headBytes, text.length - 'BODY'.length);
    assert.equal(h.keepAlive, true);
    assert.equal(h.contentLength, undefined);
    assert.equal(h.chunked, false);
  });

  it('keys every spelling of a field name by its lowercase form, common names or not', () => {
    const h = head(
      'GET / HTTP/1.1\r\nHOST: web\r\nuser-agent: a\r\nUser-Agent: b\r\nuSeR-aGeNt: c\r\n' +
        'X-Request-ID: r\r\nETag: e\r\nX-Custom-Thing: x\r\nContent-Lengthy: 1\r\n\r\n',
    );
    assert.deepEqual(Object.entries(h.headers), [
      ['host', 'web'],
      ['user-agent', 'a, b, c'],
      ['x-request-id', 'r'],
      ['etag', 'e'],
      ['x-custom-thing', 'x'],
      ['content-lengthy', '1'],
    ]);
    // A name of a common name's length and first letter that is another name.
    assert.equal(head('GET / HTTP/1.1\r\nHost: a\r\nContent-Lengtx: 5\r\n\r\n').contentLength, undefined);
  });

  it('takes the method as sent: known methods, others, and case (methods are case-sensitive)', () => {
    assert.equal(head('GET / HTTP/1.1\r\nHost: a\r\n\r\n').method, 'GET');
    assert.equal(head('PURGE / HTTP/1.1\r\nHost: a\r\n\r\n').method, 'PURGE');
    assert.equal(head('GEt / HTTP/1.1\r\nHost: a\r\n\r\n').method, 'GEt');
    assert.equal(head('GETS / HTTP/1.1\r\nHost: a\r\n\r\n').method, 'GETS');
  });

  it('reads Content-Length digits exactly: leading zeros, 15 digits at most', () => {
    assert.equal(head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n').contentLength, 7);
    assert.equal(
      head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999\r\n\r\n').contentLength,
      999999999999999,
    );
    refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000000\r\n\r\n', 400, /Content-Length/);
    refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n', 400, /Content-Length/);
  });

  it('trims optional whitespace around values and skips empty lines before the request line', () => {
    const h = head('\r\n\r\nGET / HTTP/1.1\r\nHost: \t web \t\r\n\r\n');
    assert.equal(h.headers['host'], 'web');
    assert.equal(h.headBytes, 4 + 'GET / HTTP/1.1\r\nHost: \t web \t\r\n\r\n'.length);
  });

  it('waits for more bytes until the empty line arrives', () => {
    for (const partial of [
      '',
      'GE',
      'GET / HTTP/1.1',
      'GET / HTTP/1.1\r\nHost: a\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\n\r',
    ]) {
      assert.deepEqual(parse(partial), { kind: 'incomplete' }, JSON.stringify(partial));
    }
  });

  it('frames bodies by Content-Length or chunked', () => {
    assert.equal(head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n').contentLength, 12);
    assert.equal(head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n').contentLength, 5);
    const c = head('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n');
    assert.equal(c.chunked, true);
    assert.equal(c.contentLength, undefined);
  });

  it('refuses what could smuggle a request (400)', () => {
    refused(
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
      400,
      /both/,
    );
    refused(
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
      400,
      /conflicting/,
    );
    refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n', 400, /invalid Content-Length/);
    refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n', 400, /invalid Content-Length/);
    refused(
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1234567890123456\r\n\r\n',
      400,
      /invalid Content-Length/,
    );
    refused('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n', 400, /final/);
    refused(
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n',
      400,
      /more than once/,
    );
    refused('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400, /HTTP\/1.0/);
    refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n', 400, /field name/);
    refused('GET / HTTP/1.1\r\nHost: a\r\n X-Folded: b\r\n\r\n', 400, /folding/);
    refused('GET / HTTP/1.1\nHost: a\r\n\r\n', 400, /bare LF/);
    refused('GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n', 400, /bare LF/);
    refused('GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n', 400, /control/);
    refused('GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', 400, /control/);
  });

  it('takes only SP and HTAB as whitespace around framing values, never a no-break space (0xA0)', () => {
    for (const te of ['\xa0chunked', 'chunked\xa0', 'gzip,\xa0chunked'])
      refused(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${te}\r\n\r\n`, 400, /final/);
    for (const cl of ['\xa05', '5\xa0', '5,\xa05'])
      refused(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${cl}\r\n\r\n`, 400, /Content-Length/);
    assert.equal(head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\t5 \r\n\r\n').contentLength, 5);
    assert.equal(head('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \tchunked \r\n\r\n').chunked, true);
  });

  it('counts empty lines before the request line toward the head limit (431)', () => {
    refused(`${'\r\n'.repeat(600)}GET / HTTP/1.1\r\nHost: a\r\n\r\n`, 431, /larger than 1024/);
    refused('\r\n'.repeat(512), 431, /larger than 1024/);
    assert.equal(head('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n').headBytes, 31);
  });

  it('refuses malformed request lines and Host problems (400)', () => {
    refused('GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400, /request line/);
    refused('G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400, /request line/);
    refused('GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 400, /HTTP version|request line/);
    refused('GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n', 400, /request target/);
    refused('GET / HTTP/1.1\r\n\r\n', 400, /without Host/);
    refused('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, /more than one Host/);
    refused('GET / HTTP/1.1\r\nNoColon\r\n\r\n', 400, /colon/);
    refused('GET / HTTX/1.1\r\nHost: a\r\n\r\n', 400, /version/);
  });

  it('answers 505 for other versions and 501 for other transfer codings', () => {
    refused('GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505, /HTTP\/2.0/);
    refused('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501, /gzip/);
  });

  it('answers 431 past the size and field limits, even before the head is complete', () => {
    const many = Array.from({ length: 9 }, (_, i) => `X-${i}: v\r\n`).join('');
    refused(`GET / HTTP/1.1\r\nHost: a\r\n${many}\r\n`, 431, /header fields/);
    refused(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(2000)}`, 431, /larger than 1024/);
    assert.deepEqual(parse(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(900)}`), { kind: 'incomplete' });
  });

  it('keeps HTTP/1.1 connections alive unless closed, HTTP/1.0 only when asked', () => {
    assert.equal(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n').keepAlive, false);
    assert.equal(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, Close\r\n\r\n').keepAlive, false);
    assert.equal(head('GET / HTTP/1.0\r\n\r\n').keepAlive, false);
    assert.equal(head('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').keepAlive, true);
  });

  it('notes Expect: 100-continue', () => {
    assert.equal(
      head('POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n').expectContinue,
      true,
    );
    assert.equal(head('GET / HTTP/1.1\r\nHost: a\r\n\r\n').expectContinue, false);
  });

  it('treats fields named __proto__ and constructor as fields, with no Object.prototype behind them', () => {
    const h = head('GET / HTTP/1.1\r\nHost: a\r\n__proto__: x\r\nconstructor: y\r\n\r\n');
    assert.equal(h.headers['__proto__'], 'x');
    assert.equal(h.headers['constructor'], 'y');
    assert.equal(head('GET / HTTP/1.1\r\nHost: a\r\n\r\n').headers['constructor'], undefined);
    assert.equal(h.headers instanceof Object, false);
    assert.deepEqual(Object.keys(h.headers), ['host', '__proto__', 'constructor']);
  });
});
