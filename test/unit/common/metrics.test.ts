import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { isMeshError } from '../../../common/errors.ts';
import { createLogger } from '../../../common/log.ts';
import { formatValue, Registry } from '../../../common/metrics/index.ts';

function throwsCode(fn: () => unknown, code: string, why?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isMeshError(err, code), `expected ${code}, got ${String(err)}`);
    if (why !== undefined) assert.match(err.message + ' ' + err.hint, why);
    return true;
  });
}

describe('common/metrics', () => {
  describe('counters', () => {
    it('renders HELP, TYPE and one line per child, escaping label values and help', () => {
      const reg = new Registry();
      const c = reg.counter('waymesh_requests_total', 'Requests.\nBy code \\ route.', [
        'route',
        'response_code',
      ]);
      c.labels('a"b', '200').inc();
      c.labels('x\\y\nz', '503').inc(2);
      assert.equal(
        reg.render(),
        [
          '# HELP waymesh_requests_total Requests.\\nBy code \\\\ route.',
          '# TYPE waymesh_requests_total counter',
          'waymesh_requests_total{route="a\\"b",response_code="200"} 1',
          'waymesh_requests_total{route="x\\\\y\\nz",response_code="503"} 2',
          '',
        ].join('\n'),
      );
    });

    it('caches children: labels() and with() return the same handle for the same values', () => {
      const c = new Registry().counter('c_total', 'c', ['a', 'b']);
      const child = c.labels('1', '2');
      assert.equal(c.labels('1', '2'), child);
      assert.equal(c.with({ b: '2', a: '1' }), child);
      assert.notEqual(c.labels('12', ''), child, 'value tuples that concatenate equally stay distinct');
      assert.equal(c.size(), 2);
    });

    it('a metric without labels renders a bare name', () => {
      const reg = new Registry();
      reg.counter('plain_total', 'p').labels().inc(3);
      assert.match(reg.render(), /^plain_total 3$/m);
    });

    it('refuses to decrease', () => {
      const child = new Registry().counter('d_total', 'd').labels();
      throwsCode(() => child.inc(-1), 'METRIC_COUNTER_DECREASE');
      assert.equal(child.value, 0);
    });

    it('checks label arity and names in labels()/with()', () => {
      const c = new Registry().counter('e_total', 'e', ['a', 'b']);
      throwsCode(() => c.labels('1'), 'METRIC_LABELS_MISMATCH', /takes 2 label value/);
      throwsCode(() => c.with({ a: '1' }), 'METRIC_LABELS_MISMATCH', /missing b/);
      throwsCode(() => c.with({ a: '1', b: '2', z: '3' }), 'METRIC_LABELS_MISMATCH', /unknown z/);
    });
  });

  describe('registration', () => {
    const cases: readonly { what: string; fn: (r: Registry) => unknown; code: string }[] = [
      { what: 'metric name with a dash', fn: (r) => r.counter('bad-name', 'x'), code: 'METRIC_NAME_INVALID' },
      {
        what: 'metric name starting with a digit',
        fn: (r) => r.gauge('1x', 'x'),
        code: 'METRIC_NAME_INVALID',
      },
      { what: 'label with a dot', fn: (r) => r.counter('ok', 'x', ['a.b']), code: 'METRIC_LABEL_INVALID' },
      {
        what: 'reserved __ label',
        fn: (r) => r.counter('ok', 'x', ['__name']),
        code: 'METRIC_LABEL_INVALID',
      },
      { what: 'repeated label', fn: (r) => r.counter('ok', 'x', ['a', 'a']), code: 'METRIC_LABEL_INVALID' },
      {
        what: 'histogram with le',
        fn: (r) => r.histogram('h', 'x', ['le'], [1]),
        code: 'METRIC_LABEL_INVALID',
      },
      { what: 'no buckets', fn: (r) => r.histogram('h', 'x', [], []), code: 'METRIC_BUCKETS_INVALID' },
      {
        what: 'unsorted buckets',
        fn: (r) => r.histogram('h', 'x', [], [2, 1]),
        code: 'METRIC_BUCKETS_INVALID',
      },
      {
        what: 'infinite bucket',
        fn: (r) => r.histogram('h', 'x', [], [1, Infinity]),
        code: 'METRIC_BUCKETS_INVALID',
      },
    ];
    for (const c of cases) {
      it(`rejects ${c.what}`, () => throwsCode(() => c.fn(new Registry()), c.code));
    }

    it('rejects a second metric with the same name, and get() finds the first', () => {
      const reg = new Registry();
      const g = reg.gauge('dup', 'first');
      throwsCode(() => reg.counter('dup', 'second'), 'METRIC_DUPLICATE');
      assert.equal(reg.get('dup'), g);
      assert.ok(reg.unregister('dup'));
      assert.equal(reg.get('dup'), undefined);
    });
  });

  describe('gauges', () => {
    it('set, inc and dec', () => {
      const reg = new Registry();
      const g = reg.gauge('pool_size', 'p', ['pool']).labels('a');
      g.set(10);
      g.inc();
      g.dec(4);
      assert.match(reg.render(), /^pool_size\{pool="a"\} 7$/m);
    });

    it('runs the collector at every scrape', () => {
      let live = 1;
      const reg = new Registry();
      reg.gauge('live', 'l', ['k'], (g) => g.labels('x').set(live));
      assert.match(reg.render(), /^live\{k="x"\} 1$/m);
      live = 5;
      assert.match(reg.render(), /^live\{k="x"\} 5$/m);
    });

    it('a failing collector keeps its last values, logs, and does not break the scrape', () => {
      const lines: string[] = [];
      const reg = new Registry({ logger: createLogger({ sink: { write: (l) => lines.push(l) } }) });
      let fail = false;
      reg.gauge('flaky', 'f', [], (g) => {
        if (fail) throw new Error('backend gone');
        g.labels().set(3);
      });
      reg.counter('other_total', 'o').labels().inc();
      reg.render();
      fail = true;
      const text = reg.render();
      assert.match(text, /^flaky 3$/m);
      assert.match(text, /^other_total 1$/m);
      assert.equal(lines.length, 1);
      assert.match(lines[0] ?? '', /"metric":"flaky".*backend gone/);
    });
  });

  describe('histograms', () => {
    it('renders cumulative buckets with +Inf, _sum and _count', () => {
      const reg = new Registry();
      const h = reg.histogram('dur_ms', 'd', ['route'], [1, 10, 100]).labels('r');
      for (const v of [0.5, 1, 5, 50, 500]) h.observe(v);
      assert.equal(
        reg.render(),
        [
          '# HELP dur_ms d',
          '# TYPE dur_ms histogram',
          'dur_ms_bucket{route="r",le="1"} 2',
          'dur_ms_bucket{route="r",le="10"} 3',
          'dur_ms_bucket{route="r",le="100"} 4',
          'dur_ms_bucket{route="r",le="+Inf"} 5',
          'dur_ms_sum{route="r"} 556.5',
          'dur_ms_count{route="r"} 5',
          '',
        ].join('\n'),
      );
    });

    it('a histogram without labels has only le on buckets', () => {
      const reg = new Registry();
      reg.histogram('h', 'h', [], [0.25]).labels().observe(0.1);
      assert.match(reg.render(), /^h_bucket\{le="0.25"\} 1$/m);
      assert.match(reg.render(), /^h_count 1$/m);
    });
  });

  describe('removal and output', () => {
    it('remove() drops one child; removeWhere() drops every child matching', () => {
      const reg = new Registry();
      const c = reg.counter('conn_total', 'c', ['workload', 'direction']);
      c.labels('a', 'in').inc();
      c.labels('a', 'out').inc();
      c.labels('b', 'in').inc();
      assert.equal(c.remove(['b', 'in']), true);
      assert.equal(c.remove({ workload: 'b', direction: 'in' }), false);
      assert.equal(c.removeWhere({ workload: 'a' }), 2);
      assert.equal(reg.render(), '# HELP conn_total c\n# TYPE conn_total counter\n');
      throwsCode(() => c.removeWhere({ nope: 'x' }), 'METRIC_LABELS_MISMATCH');
    });

    it('sorts families by name, and an empty registry renders nothing', () => {
      assert.equal(new Registry().render(), '');
      const reg = new Registry();
      reg.counter('zz_total', 'z');
      reg.counter('aa_total', 'a');
      const text = reg.render();
      assert.ok(text.indexOf('aa_total') < text.indexOf('zz_total'));
    });

    it('formats special values as Prometheus does', () => {
      assert.deepEqual([NaN, Infinity, -Infinity, 1.5].map(formatValue), ['NaN', '+Inf', '-Inf', '1.5']);
    });
  });
});
