import { strict as assert } from 'node:assert';

import { ChunkedDecoder, ChunkedError, chunkHeader, lastChunk } from '../../../waypoint/http/h1/chunked.ts';

const LIMITS = { maxExtensionBytes: 64, maxTrailerBytes: 256 };

/** Decodes `text` fed in pieces of `step` bytes. */
function decode(
  text: string,
  step = Number.MAX_SAFE_INTEGER,
): { body: string; rest: string; trailers: string } {
  const d = new ChunkedDecoder(LIMITS);
  const input = Buffer.from(text, 'latin1');
  let body = '';
  for (let at = 0; at < input.length;) {
    const piece = input.subarray(at, Math.min(input.length, at + step));
    const out = d.push(piece);
    body += Buffer.concat(out.data).toString('latin1');
    at += out.consumed;
    if (out.done)
      return { body, rest: input.subarray(at).toString('latin1'), trailers: d.trailers().toString('latin1') };
    assert.equal(out.consumed, piece.length, 'everything is consumed until the end');
  }
  throw new Error('the body did not end');
}

function malformed(text: string, reason: RegExp): void {
  assert.throws(
    () => decode(text),
    (err: unknown) => err instanceof ChunkedError && reason.test(err.message),
  );
}

describe('waypoint h1 chunked coding', () => {
  const body = '5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\nGET /next';

  it('decodes chunks, extensions and the end, leaving the next message alone', () => {
    assert.deepEqual(decode(body), { body: 'hello, world', rest: 'GET /next', trailers: '' });
  });

  it('gives the same result whatever the pieces the bytes arrive in', () => {
    for (const step of [1, 2, 3, 7, 11]) assert.deepEqual(decode(body, step), decode(body), `step ${step}`);
  });

  it('keeps the trailer section', () => {
    const r = decode('3\r\nabc\r\n0\r\nGrpc-Status: 0\r\nX-T: 1\r\n\r\n', 2);
    assert.equal(r.body, 'abc');
    assert.equal(r.trailers, 'Grpc-Status: 0\r\nX-T: 1\r\n');
  });

  it('holds trailer field lines to the grammar of header fields', () => {
    assert.equal(decode('0\r\nX-T:\r\nY: a\tb \r\n\r\n', 1).trailers, 'X-T:\r\nY: a\tb \r\n');
    malformed('0\r\nX-T 1\r\n\r\n', /invalid trailer field name/);
    malformed('0\r\nX-T\r\n\r\n', /without a colon/);
    malformed('0\r\n: v\r\n\r\n', /without a name/);
    malformed('0\r\nX: 1\r\n folded\r\n\r\n', /obsolete line folding/);
    malformed('0\r\nX: a\x01b\r\n\r\n', /control character in a trailer field value/);
    malformed('0\r\nX: a\x7fb\r\n\r\n', /control character in a trailer field value/);
    malformed('0\r\nX: a\rb\r\n\r\n', /without CRLF/);
  });

  it('accepts upper- and lower-case hex sizes', () => {
    assert.equal(decode(`A\r\n${'x'.repeat(10)}\r\na\r\n${'y'.repeat(10)}\r\n0\r\n\r\n`).body.length, 20);
  });

  it('refuses malformed bodies', () => {
    malformed('g\r\nx\r\n0\r\n\r\n', /hexadecimal/);
    malformed('\r\n', /hexadecimal/);
    malformed('-1\r\nx\r\n0\r\n\r\n', /hexadecimal/);
    malformed('5 \r\nhello\r\n0\r\n\r\n', /after the chunk size/);
    malformed('5\nhello\r\n0\r\n\r\n', /after the chunk size/);
    malformed('5\r\nhello!\r\n0\r\n\r\n', /longer than its size/);
    malformed('5\r\nhello\rX0\r\n\r\n', /CRLF/);
    malformed('1000000000000000\r\n', /too large/);
    malformed(`1;${'e'.repeat(100)}\r\nx\r\n0\r\n\r\n`, /extensions too long/);
    malformed('1;a\x00\r\nx\r\n0\r\n\r\n', /control character/);
    malformed(`0\r\n${'X: y\r\n'.repeat(60)}\r\n`, /trailer section too large/);
    malformed('0\r\nX: y\n\r\n', /bare LF/);
  });

  it('frames what the encoder writes so the decoder reads it back', () => {
    const wire =
      chunkHeader(12) + 'hello, world' + '\r\n' + chunkHeader(1) + '!' + '\r\n' + lastChunk('X: 1\r\n');
    assert.deepEqual(decode(wire), { body: 'hello, world!', rest: '', trailers: 'X: 1\r\n' });
    assert.equal(chunkHeader(255), 'ff\r\n');
  });
});
