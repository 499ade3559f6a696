// The l4 bench's open-loop generator against a loopback HTTP server: a server that stalls is
// charged for every request it held back (no coordinated omission), while the generator's own
// timer lag is not charged to a server that answers at once.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, it } from 'mocha';
import { openLoop } from '../../bench/l4/openloop.ts';

const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');

/**
 * A keep-alive server answering each request (one per data event) after `delayMs(n)`, `n` the
 * request's number on its connection (0 for the first), with `response(n)`.
 */
async function server(
  delayMs: (n: number) => number,
  response: (n: number) => Buffer = () => RESPONSE,
): Promise<net.Server> {
  const s = net.createServer((socket) => {
    socket.setNoDelay(true);
    let n = 0;
    socket.on('data', () => {
      const i = n++;
      const RESPONSE = response(i);
      const d = delayMs(i);
      if (d <= 0) socket.write(RESPONSE);
      else setTimeout(() => socket.write(RESPONSE), d);
    });
    socket.on('error', () => undefined);
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

describe('bench/l4 open-loop generator (loopback)', function () {
  this.timeout(20_000);
  const servers: net.Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  const run = async (s: net.Server): ReturnType<typeof openLoop> => {
    const { port } = s.address() as net.AddressInfo;
    return openLoop({
      connect: async () => {
        const c = net.connect({ host: '127.0.0.1', port });
        await once(c, 'connect');
        return c;
      },
      request: Buffer.from('GET / HTTP/1.1\r\nHost: t\r\n\r\n'),
      ratePerSec: 500,
      durationMs: 2_000,
      connections: 4,
    });
  };

  it('charges a stall for the requests it held back', async () => {
    // One 200 ms stall on every connection, 1 s in: requests due meanwhile wait for a connection.
    const start = Date.now();
    let stalled = 0;
    const s = await server((n) => (n > 0 && Date.now() - start > 1_000 && stalled++ < 4 ? 200 : 0));
    servers.push(s);
    const r = await run(s);
    assert.equal(r.errors, 0);
    // ~100 requests were due during the stall, 1 in 10 of the run: p99 falls among them.
    assert.ok(r.p99Ms >= 100, `p99 ${r.p99Ms} ms with a 200 ms stall`);
  });

  it('times an answer without stalls from its send, not from the timer tick', async () => {
    const s = await server(() => 0);
    servers.push(s);
    const r = await run(s);
    assert.equal(r.errors, 0);
    assert.equal(r.completed, 1_000);
    // The send timer ticks every ~1 ms; timed from the intended time, half the requests
    // waited ~0.5 ms for it on top of a loopback round trip of ~0.1 ms.
    assert.ok(r.p50Ms < 0.4, `p50 ${r.p50Ms} ms`);
  });

  it("does not charge a connection's first answer (its setup) to the run", async () => {
    // As through the node agents: a connection's first request also waits for its tunnel.
    const s = await server((n) => (n === 0 ? 300 : 0));
    servers.push(s);
    const r = await run(s);
    assert.equal(r.errors, 0);
    assert.equal(r.completed, 1_000);
    assert.ok(r.p99Ms < 100, `p99 ${r.p99Ms} ms with 300 ms first answers`);
  });

  it('refuses a connection whose first request is not answered 200', async () => {
    const unavailable = Buffer.from('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
    const s = await server(
      () => 0,
      (n) => (n === 0 ? unavailable : RESPONSE),
    );
    servers.push(s);
    await assert.rejects(run(s), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'BENCH_PRIME_FAILED');
      assert.match(err.message, /answered 503/);
      return true;
    });
  });
});
