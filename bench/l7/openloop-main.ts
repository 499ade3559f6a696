/**
 * The open-loop load generator: sends GETs at a fixed rate on the schedule of `schedule.ts`
 * (latency from each request's intended send time), over a pool of keep-alive connections, and
 * prints `measuring` when the warm-up ends and then one JSON {@link LatencySummary} line for the
 * window after it. Run inside the
 * client namespace: `node dist/bench/l7/openloop-main.js --url URL --rate 1000
 * --warmup-ms 2000 --duration-ms 8000 [--connections 64]`.
 */
import { Pool } from 'undici';

import { readArgs } from './process-args.ts';
import { dueCount, intendedMs, summarize } from './schedule.ts';

const args = readArgs(['url', 'rate', 'warmup-ms', 'duration-ms'], ['connections']);
const url = new URL(args.url);
const rate = Number(args.rate);
const warmupMs = Number(args['warmup-ms']);
const durationMs = Number(args['duration-ms']);
const total = Math.floor(((warmupMs + durationMs) * rate) / 1000);
const firstMeasured = Math.ceil((warmupMs * rate) / 1000);
const pool = new Pool(url.origin, { connections: Number(args.connections ?? '64'), pipelining: 1 });
const path = `${url.pathname}${url.search}`;

const latencies: number[] = [];
let errors = 0;
let done = 0;
let sent = 0;
let t0 = 0;
let finish: () => void = () => undefined;
const finished = new Promise<void>((resolve) => (finish = resolve));

function complete(index: number, ok: boolean): void {
  if (index >= firstMeasured) {
    if (ok) latencies.push(performance.now() - t0 - intendedMs(index, rate));
    else errors++;
  }
  if (++done === total) finish();
}

function fire(index: number): void {
  pool.request({ method: 'GET', path }).then(
    async (res) => {
      await res.body.dump({ limit: 1 << 20 });
      complete(index, res.statusCode === 200);
    },
    () => complete(index, false),
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
