/**
 * Resilience of the data plane (issue 7 §4), driven by kubectl in one lab:
 * - a node agent killed: new connections from pods on its node work again within 5 s of the
 *   replacement agent being Ready, and a connection held on the other node never notices;
 * - a waypoint replica killed under load: only requests in flight on it fail (no more than the
 *   client's concurrency) and later requests go to the other replica.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'mocha';
import { eventually, WAYPOINT_PODS } from '../../helpers/journey.ts';
import { useLab } from '../../helpers/lab.ts';
import {
  background,
  failures,
  forceDelete,
  holdEstablished,
  holdReport,
  holdTcp,
  httpStream,
  labNode,
  podFacts,
  setUpResilienceLab,
  streamResults,
  streamStarted,
} from '../../helpers/resilience.ts';

const AGENT = 'app.kubernetes.io/name=waymesh-node-agent';

// A fresh connection every ~50 ms: `start end http_code` (host clock; 000 = transport failure).
const CONNECT_POLLER = `while :; do
  s=$(date +%s%3N); c=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1"); echo "$s $(date +%s%3N) $c"
  sleep 0.05
done`;

describe('resilience: node agent and waypoint replica killed (e2e, kubectl)', function () {
  this.timeout(240_000);
  const lab = useLab('rdp');

  before(async function () {
    this.timeout(240_000);
    await setUpResilienceLab(lab);
  });

  it('a killed node agent: its node connects again within 5 s of the new agent being Ready; the other node is untouched', async () => {
    const node1 = labNode(lab, 1);
    // Everything of the held connection lives on node 2.
    const hold = holdTcp(lab, 'shop/client-2', 'echo-2', 9000);
    const poller = background(lab, 'shop/client-1', 'bash', '-c', CONNECT_POLLER, 'poll', 'http://echo-2/');
    const polls = (): { start: number; end: number; code: string }[] =>
      poller.lines.map(({ text }) => {
        const [start, end, code] = text.split(' ');
        return { start: Number(start), end: Number(end), code: code ?? '' };
      });
    try {
      await holdEstablished(hold);
      await eventually('node 1 connects before the kill', () =>
        Promise.resolve(polls().some((p) => p.code === '200') ? true : undefined),
      );
      const old = (await podFacts(lab, 'waymesh-system', AGENT)).find((a) => a.node === node1);
      assert.ok(old !== undefined, `an agent on ${node1}`);
      const killAt = Date.now();
      await forceDelete(lab, 'waymesh-system', old.name);
      const fresh = await eventually(
        'a new Ready agent on node 1',
        async () =>
          (await podFacts(lab, 'waymesh-system', AGENT)).find(
            (a) => a.node === node1 && a.uid !== old.uid && a.ready,
          ),
        90_000,
      );
      const readyAt = fresh.readySince;
      assert.ok(Number.isFinite(readyAt), 'the new agent has a Ready time');
      const firstOk = await eventually(
        'a successful connection from node 1 after the new agent is Ready',
        () => Promise.resolve(polls().find((p) => p.code === '200' && p.end >= readyAt)),
        15_000,
      );
      const lost = polls().filter((p) => p.start >= killAt && p.code !== '200').length;
      const ms = firstOk.end - readyAt;
      console.log(
        `      agent Ready → first success from node 1: ${ms} ms (${lost} failed attempts meanwhile)`,
      );
      assert.ok(ms <= 5000, `first success ${ms} ms after the new agent was Ready`);
      await sleep(1000);
      const tail = polls().filter((p) => p.start > firstOk.end);
      assert.ok(tail.length >= 3, 'the poller kept going');
      assert.ok(
        tail.every((p) => p.code === '200'),
        `connections after the first success: ${tail.map((p) => p.code).join(',')}`,
      );
      const r = holdReport(hold);
      assert.equal(r.failure, undefined, `the held connection on node 2 failed: ${r.failure ?? ''}`);
      assert.ok(!hold.ended(), `the held connection ended: ${hold.stderr()}`);
      assert.ok(r.maxGapMs < 1500, `longest pause on the held connection: ${r.maxGapMs} ms`);
    } finally {
      await Promise.all([hold.stop(), poller.stop()]);
    }
  });

  it('a killed waypoint replica: only requests in flight on it fail; the rest go to the other replica', async () => {
    const replicas = await podFacts(lab, 'shop', WAYPOINT_PODS);
    assert.equal(replicas.filter((p) => p.ready).length, 2, 'two waypoint replicas');
    const concurrency = 4;
    const count = 300;
    const stream = httpStream(
      lab,
      'shop/client-1',
      'http://echo/?delayMs=100',
      ...['--count', String(count), '--concurrency', String(concurrency)],
      ...['--interval-ms', '50', '--timeout-ms', '5000'],
    );
    try {
      await streamStarted(stream, 40);
      const victim = replicas[0];
      assert.ok(victim !== undefined);
      const killAt = Date.now();
      await forceDelete(lab, 'shop', victim.name);
      const killedAt = Date.now();
      const code = await stream.exited;
      const results = streamResults(stream);
      assert.equal(
        results.length,
        count,
        `every request answered or failed (exit ${code}): ${stream.stderr()}`,
      );
      const failed = failures(results);
      const after = results.filter((r) => r.startAt > killedAt);
      console.log(
        `      kill took ${killedAt - killAt} ms; ${failed.length} failed of ${count}; ${after.length} sent after the kill`,
      );
      assert.ok(after.length >= 100, `requests sent after the kill: ${after.length}`);
      assert.ok(
        failed.length <= concurrency,
        `failed requests (≤ ${concurrency} in flight): ${JSON.stringify(failed.slice(0, 8))}`,
      );
      // The replica dies when its kubelet acts on the deletion, shortly after kubectl returns:
      // the requests in flight then fail together, in one burst; none sent after it fails.
      const ends = failed.map((r) => r.endAt);
      const burstMs = ends.length === 0 ? 0 : Math.max(...ends) - Math.min(...ends);
      assert.ok(burstMs <= 1000, `failures spread over ${burstMs} ms: ${JSON.stringify(failed)}`);
      const late = failed.filter((r) => r.startAt > killedAt + 1000);
      assert.deepEqual(late, [], 'no request sent after the replica died failed');
      assert.ok(
        failed.every((r) => r.endAt >= killAt),
        `failures before the kill: ${JSON.stringify(failed)}`,
      );
      await lab.kubectl('-n', 'shop', 'rollout', 'status', 'deployment/waypoint', '--timeout=90s');
    } finally {
      await stream.stop();
    }
  });
});
