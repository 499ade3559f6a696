/**
 * Request-target normalization (waypoint/http/target.ts): one spelling per resource for routing,
 * policy and the upstream, as RFC 3986 §6.2.2 and Istio's default `BASE` normalization do.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';

import { normalizePath, normalizeTarget } from '../../../waypoint/http/target.ts';

describe('waypoint request target', () => {
  describe('normalizePath', () => {
    const table: readonly [string, string | undefined][] = [
      ['/', '/'],
      ['/api/v1/items', '/api/v1/items'],
      ['/a.b/.c/..d/x.', '/a.b/.c/..d/x.'],
      ['/%61dmin', '/admin'],
      ['/%41%5a%30%2d%2E%5f%7e', '/AZ0-._~'],
      ['/a%2fb', '/a%2Fb'],
      ['/a%2Fb', '/a%2Fb'],
      ['/caf%c3%a9', '/caf%C3%A9'],
      ['/a%20b', '/a%20b'],
      ['/a%3a', '/a%3A'],
      ['/public/../admin', '/admin'],
      ['/public/%2e%2e/admin', '/admin'],
      ['/public/%2E./admin', '/admin'],
      ['/./admin', '/admin'],
      ['/a/b/..', '/a/'],
      ['/a/b/.', '/a/b/'],
      ['/..', '/'],
      ['/../../x', '/x'],
      ['/a//../b', '/a/b'],
      ['//admin', '//admin'],
      ['/a\\..\\admin', '/admin'],
      ['/\\admin', '//admin'],
      ['/..%2fadmin', '/..%2Fadmin'],
      ['/bad%zz', undefined],
      ['/bad%4', undefined],
      ['/bad%', undefined],
    ];
    for (const [input, want] of table) {
      it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => {
        assert.equal(normalizePath(input), want);
      });
    }
    it('returns the very string when it is already normal (no copy per request)', () => {
      const path = ['/api', 'v1', 'items'].join('/');
      assert.equal(normalizePath(path), path);
      assert.equal(normalizePath(path, 'merge-slashes'), path);
      assert.equal(normalizePath(path, 'decode-and-merge-slashes'), path);
    });
  });

  describe('normalizePath with merge-slashes and decode-and-merge-slashes', () => {
    // [input, merge-slashes, decode-and-merge-slashes]
    const table: readonly [string, string | undefined, string | undefined][] = [
      ['/', '/', '/'],
      ['//admin', '/admin', '/admin'],
      ['/a///b//', '/a/b/', '/a/b/'],
      ['/\\admin', '/admin', '/admin'],
      ['/a//../b', '/a/b', '/a/b'],
      ['/public//../admin', '/public/admin', '/public/admin'],
      ['/%61dmin//x', '/admin/x', '/admin/x'],
      ['/a%2fb', '/a%2Fb', '/a/b'],
      ['/a%2F%2Fb', '/a%2F%2Fb', '/a/b'],
      ['/a%5cb', '/a%5Cb', '/a/b'],
      ['/public%2F..%2Fadmin', '/public%2F..%2Fadmin', '/admin'],
      ['/..%2fadmin', '/..%2Fadmin', '/admin'],
      ['/%2F%2Fadmin', '/%2F%2Fadmin', '/admin'],
      ['/caf%c3%a9//', '/caf%C3%A9/', '/caf%C3%A9/'],
      ['//bad%zz', undefined, undefined],
    ];
    for (const [input, merged, decoded] of table) {
      it(`${JSON.stringify(input)} → ${JSON.stringify(merged)} / ${JSON.stringify(decoded)}`, () => {
        assert.equal(normalizePath(input, 'merge-slashes'), merged);
        assert.equal(normalizePath(input, 'decode-and-merge-slashes'), decoded);
      });
    }
    it('applies the mode to a target and keeps the query as sent', () => {
      assert.deepEqual(normalizeTarget('//a%2fb?x=//y', 'GET', true, 'decode-and-merge-slashes'), {
        path: '/a/b',
        query: 'x=//y',
        pathAndQuery: '/a/b?x=//y',
        authority: undefined,
        error: undefined,
      });
      assert.equal(normalizeTarget('//a?x', 'GET', true).pathAndQuery, '//a?x', 'base keeps them');
    });
  });

  describe('normalizeTarget', () => {
    it('keeps the query as sent and rebuilds path?query only when the path changed', () => {
      assert.deepEqual(normalizeTarget('/a?x=%2e%2e/../b', 'GET', true), {
        path: '/a',
        query: 'x=%2e%2e/../b',
        pathAndQuery: '/a?x=%2e%2e/../b',
        authority: undefined,
        error: undefined,
      });
      assert.deepEqual(normalizeTarget('/p/../a?x=1', 'GET', true), {
        path: '/a',
        query: 'x=1',
        pathAndQuery: '/a?x=1',
        authority: undefined,
        error: undefined,
      });
    });
    it('turns absolute-form into origin-form with its authority (HTTP/1.1 only)', () => {
      assert.deepEqual(normalizeTarget('http://reviews.shop:80/admin?q', 'GET', true), {
        path: '/admin',
        query: 'q',
        pathAndQuery: '/admin?q',
        authority: 'reviews.shop:80',
        error: undefined,
      });
      assert.equal(normalizeTarget('HTTPS://h', 'GET', true).pathAndQuery, '/');
      assert.equal(normalizeTarget('http://h?x', 'GET', true).pathAndQuery, '/?x');
      assert.equal(normalizeTarget('http://h/a/../b', 'GET', true).path, '/b');
      assert.match(normalizeTarget('http://h/a', 'GET', false).error ?? '', /not an absolute path/);
    });
    it('keeps * for OPTIONS and refuses every other target that is not a path', () => {
      assert.equal(normalizeTarget('*', 'OPTIONS', true).pathAndQuery, '*');
      for (const [url, method, reason] of [
        ['*', 'GET', /not an absolute path/],
        ['admin', 'GET', /not an absolute path/],
        ['reviews:80', 'CONNECT', /not an absolute path/],
        ['ftp://h/a', 'GET', /not an absolute path/],
        ['http:///a', 'GET', /no host/],
        ['http://user@h/a', 'GET', /userinfo/],
        ['/a%g0', 'GET', /malformed percent-encoding/],
      ] as const) {
        assert.match(normalizeTarget(url, method, true).error ?? '', reason, url);
      }
    });
  });
});
