/** `waymesh x explain` command-line parsing: the request, the `x` verb group and its errors. */
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { parseRequest } from '../../../cli/explain-request.ts';
import { main } from '../../../cli/main.ts';

describe('waymesh x explain (arguments)', () => {
  it('parses URL, method, repeated headers and defaults the port to 80', () => {
    const r = parseRequest({
      from: 'shop/client',
      url: 'echo.shop:8080/a/b?x=1',
      method: 'put',
      headers: ['X-A: 1', 'x-a:2'],
    });
    assert.deepEqual(
      [r.host, r.port, r.method, r.path, r.query, r.authority, r.headers['x-a']],
      ['echo.shop', 8080, 'PUT', '/a/b', 'x=1', 'echo.shop:8080', '1, 2'],
    );
    assert.equal(parseRequest({ from: 'a/b', url: 'http://echo', headers: [] }).port, 80);
  });

  it('turns --grpc into POST /service/method with gRPC headers', () => {
    const r = parseRequest({
      from: 'a/b',
      url: 'http://grpc-echo:9000',
      headers: [],
      grpc: 'echo.v1.Echo/Say',
    });
    assert.deepEqual(
      [r.method, r.path, r.headers['content-type']],
      ['POST', '/echo.v1.Echo/Say', 'application/grpc'],
    );
  });

  it('rejects malformed input with a usage error', () => {
    assert.throws(
      () => parseRequest({ from: 'client', url: 'http://echo', headers: [] }),
      /use NAMESPACE\/POD/,
    );
    assert.throws(() => parseRequest({ from: 'a/b', url: 'https://echo', headers: [] }), /use http:\/\//);
    assert.throws(
      () => parseRequest({ from: 'a/b', url: 'http://echo', headers: ['novalue'] }),
      /use name:value/,
    );
    assert.throws(
      () => parseRequest({ from: 'a/b', url: 'http://echo', headers: [], grpc: 'Say' }),
      /Service\/Method/,
    );
  });

  it('registers `x` with `explain` as its verb and exits 2 on usage errors', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    assert.equal(await main(['x', 'nope'], io), 2);
    assert.match(err.join('\n'), /unknown verb "nope"/);
    assert.equal(await main(['x', 'explain', 'http://echo'], io), 2);
    assert.match(err.join('\n'), /missing required flag --from/);
    assert.equal(await main(['x', '--help'], io), 0);
    assert.match(out.join('\n'), /waymesh x explain --from NS\/POD URL/);
  });
});
