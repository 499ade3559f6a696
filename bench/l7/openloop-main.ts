/**
 * The open-loop load generator: sends GETs at a fixed rate on the schedule of `schedule.ts` over
 * a pool of keep-alive connections, timing each from its intended send time when it had to wait
 * for a connection (every one busy: the path held it back) and from its actual send otherwise
 * (the ~1 ms send timer's lag is the generator's, not the path's; see `latencyStartMs`), and
 * prints `measuring` when the warm-up ends and then one JSON {@link LatencySummary} line for the
 * window after it. Run inside the
 * client namespace: `node dist/bench/l7/openloop-main.js --url URL --rate 1000
 * --warmup-ms 2000 --duration-ms 8000 [--connections 64]`.
 */
import { Pool } from 'undici';

import { readArgs } from './process-args.ts';
import { latencyStartMs } from '../l4/stats.ts';
import { dueCount, intendedMs, summarize } from './schedule.ts';

const args = readArgs(['url', 'rate', 'warmup-ms', 'duration-ms'], ['connections']);
const url = new URL(args.url);
const rate = Number(args.rate);
const warmupMs = Number(args['warmup-ms']);
const durationMs = Number(args['duration-ms']);
const total = Math.floor(((warmupMs + durationMs) * rate) / 1000);
const firstMeasured = Math.ceil((warmupMs * rate) / 1000);
const connections = Number(args.connections ?? '64');
const pool = new Pool(url.origin, { connections, pipelining: 1 });
const path = `${url.pathname}${url.search}`;

const latencies: number[] = [];
let errors = 0;
let done = 0;
let sent = 0;
let t0 = 0;
/** Requests in flight (one per connection at most), and when every connection was last busy. */
let inFlight = 0;
let busyUntil = -Infinity;
let finish: () => void = () => undefined;
const finished = new Promise<void>((resolve) => (finish = resolve));

function complete(index: number, startMs: number, ok: boolean): void {
  const now = performance.now();
  if (inFlight-- >= connections) busyUntil = now;
  if (index >= firstMeasured) {
    if (ok) latencies.push(now - startMs);
    else errors++;
  }
  if (++done === total) finish();
}

function fire(index: number): void {
  const intended = t0 + intendedMs(index, rate);
  // A request that finds every connection busy waits in the pool: charged from its intended time.
  const startMs =
    ++inFlight > connections ? intended : latencyStartMs(intended, performance.now(), busyUntil);
  pool.request({ method: 'GET', path }).then(
    async (res) => {
      await res.body.dump({ limit: 1 << 20 });
      complete(index, startMs, res.statusCode === 200);
    },
    () => complete(index, startMs, false),
  );
}

function tick(): void {
  const due = dueCount(performance.now() - t0, rate, total);
  while (sent < due) fire(sent++);
  if (sent < total) setTimeout(tick, 1);
}

t0 = performance.now();
setTimeout(() => process.stdout.write('measuring\n'), warmupMs);
tick();
await finished;
await pool.close();
process.stdout.write(`${JSON.stringify(summarize(latencies, errors, durationMs))}\n`);
