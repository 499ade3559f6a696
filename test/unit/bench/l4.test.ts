import assert from 'node:assert/strict';

import { medianSample, type BulkSample } from '../../../bench/l4/bulk.ts';
import { medianFixed, type FixedSample } from '../../../bench/l4/fixed.ts';
import { pairedDifference, pairedRatio, rotatingRounds } from '../../../bench/lib.ts';
import { parseResponseHead } from '../../../bench/l4/openloop.ts';
import {
  cpuTicksOfStat,
  dueCount,
  intendedSendMs,
  latencyStartMs,
  parseWrk,
  percentile,
  rssMbOfStatus,
} from '../../../bench/l4/stats.ts';
import { renderStunnelConfig } from '../../../bench/l4/stunnel.ts';
import { isMeshError } from '../../../common/errors.ts';

const WRK = `Running 5s test @ http://10.250.0.2:80/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   612.41us  201.33us   9.87ms   91.20%
    Req/Sec    51.60k     2.10k   55.00k    80.00%
  Latency Distribution
     50%  580.00us
     75%  650.00us
     90%  720.00us
     99%    1.25ms
  256789 requests in 5.00s, 290.12MB read
Requests/sec:  51343.92
Transfer/sec:     58.02MB
`;

describe('bench/l4 pure parts', () => {
  it('rotatingRounds visits every path once per round, each round starting one path later', async () => {
    const seen: string[] = [];
    await rotatingRounds(['a', 'b', 'c'], 4, async (p, r) => {
      seen.push(`${r}${p}`);
      await Promise.resolve();
    });
    assert.deepEqual(seen, ['0a', '0b', '0c', '1b', '1c', '1a', '2c', '2a', '2b', '3a', '3b', '3c']);
  });

  describe('open-loop schedule', () => {
    it('times a request from its intended time only when every connection was busy after it', () => {
      // Sent late by the generator's timer (no busy stretch since): from the actual send.
      assert.equal(latencyStartMs(10, 10.8, -Infinity), 10.8);
      assert.equal(latencyStartMs(10, 10.8, 9.5), 10.8);
      // Held back: every connection was busy until 14, after it was due at 10.
      assert.equal(latencyStartMs(10, 14.2, 14), 10);
      assert.equal(latencyStartMs(10, 10, 10), 10);
    });

    it('spaces requests 1/rate apart from the start', () => {
      assert.equal(intendedSendMs(0, 1000), 0);
      assert.equal(intendedSendMs(1, 1000), 1);
      assert.equal(intendedSendMs(1500, 1000), 1500);
      assert.equal(intendedSendMs(3, 200), 15);
    });

    for (const [elapsed, rate, total, due] of [
      [-1, 1000, 10, 0],
      [0, 1000, 10, 1],
      [0.99, 1000, 10, 1],
      [1, 1000, 10, 2],
      [4.5, 1000, 10, 5],
      [1000, 1000, 10, 10],
      [10, 100, 100, 2],
    ] as const) {
      it(`at ${elapsed} ms, ${rate}/s, ${total} total: ${due} due`, () => {
        assert.equal(dueCount(elapsed, rate, total), due);
      });
    }
  });

  describe('percentile (nearest rank)', () => {
    const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    for (const [p, want] of [
      [50, 50],
      [99, 99],
      [100, 100],
      [0, 1],
      [1, 1],
    ] as const) {
      it(`p${p} of 1..100 is ${want}`, () => assert.equal(percentile(hundred, p), want));
    }
    it('p99 of 10 samples is the largest; empty is 0', () => {
      assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
      assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
      assert.equal(percentile([], 99), 0);
    });
  });

  describe('wrk output', () => {
    it('reads requests/s and the 50/99 % latencies in ms', () => {
      assert.deepEqual(parseWrk(WRK), { requestsPerSec: 51343.92, p50Ms: 0.58, p99Ms: 1.25, errors: 0 });
    });
    it('counts socket errors and non-2xx responses', () => {
      const out = `${WRK}  Socket errors: connect 1, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 4\n`;
      assert.equal(parseWrk(out).errors, 10);
    });
    it('converts seconds', () => {
      assert.equal(parseWrk(WRK.replace('1.25ms', '1.50s')).p99Ms, 1500);
    });
    it('refuses output without a latency distribution', () => {
      assert.throws(
        () => parseWrk('Requests/sec: 10\n'),
        (e: unknown) => isMeshError(e) && e.code === 'BENCH_WRK_OUTPUT',
      );
    });
  });

  describe('/proc parsing', () => {
    it('sums utime and stime even when comm has spaces and parentheses', () => {
      const stat = '4242 (node (agent) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 37 0 0 20 0 11 0 5 0';
      assert.equal(cpuTicksOfStat(stat), 187);
    });
    it('reads VmRSS in MiB', () => {
      assert.equal(rssMbOfStatus('Name:\tnode\nVmRSS:\t   92160 kB\nThreads: 11\n'), 90);
      assert.throws(() => rssMbOfStatus('Name:\tnode\n'), /VmRSS/);
    });
  });

  describe('response framing', () => {
    it('finds the head length and Content-Length, case-insensitively', () => {
      const head = 'HTTP/1.1 200 OK\r\nServer: nginx\r\ncontent-LENGTH: 1024\r\n\r\n';
      assert.deepEqual(parseResponseHead(Buffer.from(head + 'x'.repeat(10))), {
        status: 200,
        headLength: head.length,
        contentLength: 1024,
      });
    });
    it('waits for an incomplete head', () => {
      assert.equal(parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n')), undefined);
    });
    it('refuses a response without Content-Length', () => {
      assert.throws(
        () => parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')),
        (e: unknown) => isMeshError(e) && e.code === 'BENCH_HTTP_FRAMING',
      );
    });
  });

  describe('stunnel config', () => {
    const side = {
      accept: '127.0.0.1:15080',
      connect: '10.250.0.2:15443',
      certFile: '/d/c.crt',
      keyFile: '/d/c.key',
      caFile: '/d/ca.pem',
    };
    it('renders a TLS 1.3-only client that verifies the server chain', () => {
      const conf = renderStunnelConfig({ role: 'client', ...side });
      const lines = conf.split('\n');
      for (const line of [
        'foreground = yes',
        '[l4-client]',
        'client = yes',
        'accept = 127.0.0.1:15080',
        'connect = 10.250.0.2:15443',
        'cert = /d/c.crt',
        'key = /d/c.key',
        'CAfile = /d/ca.pem',
        'verifyChain = yes',
        'requireCert = yes',
        'sslVersionMin = TLSv1.3',
        'sslVersionMax = TLSv1.3',
      ]) {
        assert.ok(lines.includes(line), `missing "${line}" in\n${conf}`);
      }
    });
    it('renders the server side with client = no and a required client certificate', () => {
      const conf = renderStunnelConfig({ role: 'server', ...side });
      assert.match(conf, /^client = no$/m);
      assert.match(conf, /^requireCert = yes$/m);
      assert.doesNotMatch(conf, /^client = yes$/m);
    });
  });

  describe('bulk rounds', () => {
    const sample = (mbPerSec: number): BulkSample => ({
      mbPerSec,
      usage: { cores: mbPerSec / 1000, peakRssMb: 1 },
    });

    it('takes the median download of a path, with that download’s usage', () => {
      const m = medianSample([500, 300, 700, 400, 600].map(sample));
      assert.equal(m.mbPerSec, 500);
      assert.equal(m.usage.cores, 0.5);
      assert.equal(medianSample([2, 1].map(sample)).mbPerSec, 2);
      assert.throws(() => medianSample([]));
    });

    it('pairs the downloads of one round and takes the median ratio, not the ratio of medians', () => {
      // A slow minute (round 2) slows both paths; pairing keeps it out of the ratio.
      const agents = [400, 200, 420, 380, 410];
      const stunnel = [500, 250, 700, 480, 500];
      const r = pairedRatio(agents, stunnel);
      assert.deepEqual(r.perRound, [0.8, 0.8, 0.6, 380 / 480, 0.82]);
      assert.equal(r.median, 0.8);
      assert.throws(() => pairedRatio([], []));
    });
  });

  describe('fixed-rate rounds', () => {
    const run = (p99Ms: number): FixedSample => ({
      result: { sent: 1, completed: 1, errors: 0, achievedRps: 1000, p50Ms: p99Ms / 4, p99Ms },
      usage: { cores: p99Ms, peakRssMb: 1 },
    });

    it('takes the run with the median p99, with that run’s other figures', () => {
      const m = medianFixed([0.7, 0.3, 0.4].map(run));
      assert.equal(m.result.p99Ms, 0.4);
      assert.equal(m.usage.cores, 0.4);
      assert.throws(() => medianFixed([]));
    });

    it('takes the median of the per-round p99 differences', () => {
      // Round 1 is slow for both paths; the difference stays small.
      const r = pairedDifference([1.2, 0.45, 0.5], [0.9, 0.3, 0.3]);
      assert.deepEqual(
        r.perRound.map((d) => Number(d.toFixed(3))),
        [0.3, 0.15, 0.2],
      );
      assert.equal(Number(r.median.toFixed(3)), 0.2);
    });
  });
});
