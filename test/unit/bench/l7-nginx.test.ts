import assert from 'node:assert/strict';

import { renderBackendConfig, renderProxyConfig } from '../../../bench/l7/nginx.ts';
import { BENCH_RULES, sortByPrecedence, type BenchRule } from '../../../bench/l7/routes.ts';

const base = { prefix: '/tmp/p', listen: { host: '10.250.77.11', port: 8081 }, accessLog: 'off' };
const upstreams = {
  primary: { host: '10.250.77.12', port: 8080 },
  canary: { host: '10.250.77.12', port: 8080 },
};

describe('bench/l7 nginx config', () => {
  it('renders the backend with one worker and a body of exactly the requested size', () => {
    const conf = renderBackendConfig({ ...base, bodyBytes: 1024 });
    assert.match(conf, /^worker_processes 1;$/m);
    const body = /return 200 "(x+)";/.exec(conf)?.[1];
    assert.equal(body?.length, 1024);
    assert.throws(() => renderBackendConfig({ ...base, bodyBytes: 0 }), /BENCH_CONFIG|1\.\.4096/);
  });

  it('renders keep-alive HTTP/1.1 upstreams and one location pair per prefix', () => {
    const conf = renderProxyConfig({ ...base, upstreams, rules: BENCH_RULES, keepalive: 64 });
    assert.match(conf, /upstream primary \{\n\s+server 10\.250\.77\.12:8080;\n\s+keepalive 64;/);
    assert.match(conf, /upstream canary \{/);
    const prefixes = new Set(BENCH_RULES.map((r) => r.pathPrefix));
    const exact = conf.match(/location = \//g) ?? [];
    const prefixed = conf.match(/location \/\S*/g) ?? [];
    assert.equal(exact.length, prefixes.size - 1, 'every prefix but / has an exact location');
    assert.equal(prefixed.length, prefixes.size);
    assert.equal((conf.match(/proxy_http_version 1\.1;/g) ?? []).length, exact.length + prefixed.length);
    assert.equal(
      (conf.match(/proxy_set_header Connection "";/g) ?? []).length,
      exact.length + prefixed.length,
    );
  });

  it('selects the canary upstream by header through a map and keeps the filter', () => {
    const conf = renderProxyConfig({ ...base, upstreams, rules: BENCH_RULES, keepalive: 8 });
    assert.match(
      conf,
      /map \$http_x_bench_canary \$upstream_items \{\n\s+default primary;\n\s+"yes" canary;\n\s+\}/,
    );
    const items = /location \/api\/v1\/items\/ \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    assert.match(items, /proxy_pass http:\/\/\$upstream_items;/);
    assert.match(items, /proxy_set_header x-bench-route "items";/);
  });

  it('refuses tables nginx locations cannot express', () => {
    const headerOnly: BenchRule[] = [
      { name: 'a', pathPrefix: '/a', header: { name: 'x-a', value: '1' }, backend: 'primary' },
    ];
    assert.throws(
      () => renderProxyConfig({ ...base, upstreams, rules: headerOnly, keepalive: 8 }),
      /cannot be rendered as nginx locations/,
    );
    const badName: BenchRule[] = [{ name: 'a b', pathPrefix: '/a', backend: 'primary' }];
    assert.throws(
      () => renderProxyConfig({ ...base, upstreams, rules: badName, keepalive: 8 }),
      /BENCH_CONFIG|cannot/,
    );
  });

  it('orders rules by prefix length, then header matches first', () => {
    const sorted = sortByPrecedence([
      { name: 'root', pathPrefix: '/', backend: 'primary' },
      { name: 'plain', pathPrefix: '/ab', backend: 'primary' },
      { name: 'hdr', pathPrefix: '/ab', header: { name: 'h', value: 'v' }, backend: 'canary' },
      { name: 'long', pathPrefix: '/abcd', backend: 'primary' },
    ]);
    assert.deepEqual(
      sorted.map((r) => r.name),
      ['long', 'hdr', 'plain', 'root'],
    );
    assert.equal(BENCH_RULES.length, 10);
    assert.equal(BENCH_RULES.at(-1)?.pathPrefix, '/');
  });
});
