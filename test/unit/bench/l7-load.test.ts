import assert from 'node:assert/strict';

import { dueCount, intendedMs, percentile, summarize } from '../../../bench/l7/schedule.ts';
import { parseWrkOutput, wrkArgs } from '../../../bench/l7/wrk.ts';

const WRK = `Running 8s test @ http://127.0.0.1:18002/api/v1/items/42
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.99ms    5.01ms  56.44ms   91.00%
    Req/Sec     4.08k   312.00     4.50k    80.00%
  Latency Distribution
     50%    6.69ms
     75%    8.01ms
     90%   11.20ms
     99%  856.00us
  32472 requests in 8.00s, 36.08MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   4059.00
Transfer/sec:      4.51MB
`;

describe('bench/l7 open-loop schedule', () => {
  it('spaces requests evenly from the start', () => {
    assert.equal(intendedMs(0, 1000), 0);
    assert.equal(intendedMs(250, 1000), 250);
    assert.equal(intendedMs(3, 200), 15);
  });

  it('counts due requests by elapsed time, capped at the total', () => {
    const table: [number, number, number, number][] = [
      [-1, 1000, 100, 0],
      [0, 1000, 100, 1],
      [0.99, 1000, 100, 1],
      [1, 1000, 100, 2],
      [50.5, 1000, 100, 51],
      [10_000, 1000, 100, 100],
      [12, 250, 100, 4],
    ];
    for (const [elapsed, rate, total, want] of table)
      assert.equal(dueCount(elapsed, rate, total), want, `${elapsed} ms`);
  });

  it('takes nearest-rank percentiles and summarises a window', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(
      percentile(
        [...values].sort((a, b) => a - b),
        50,
      ),
      50,
    );
    assert.equal(
      percentile(
        [...values].sort((a, b) => a - b),
        99,
      ),
      99,
    );
    assert.equal(percentile([], 99), 0);
    const s = summarize(values, 2, 2000);
    assert.deepEqual(s, { count: 100, errors: 2, rps: 50, p50_ms: 50, p99_ms: 99, max_ms: 100 });
  });
});

describe('bench/l7 wrk', () => {
  it('parses throughput, percentiles in any unit, and errors', () => {
    assert.deepEqual(parseWrkOutput(WRK), { rps: 4059, p50_ms: 6.69, p99_ms: 0.856, errors: 7 });
    assert.equal(parseWrkOutput(WRK.replace('6.69ms', '1.50s')).p50_ms, 1500);
  });

  it('throws when wrk printed no result', () => {
    assert.throws(
      () => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n'),
      /no requests\/sec/,
    );
  });

  it('builds the command line with the latency distribution on', () => {
    assert.deepEqual(wrkArgs({ url: 'http://h/p', connections: 32, seconds: 8 }), [
      '-t1',
      '-c32',
      '-d8s',
      '--timeout',
      '5s',
      '--latency',
      'http://h/p',
    ]);
  });
});
