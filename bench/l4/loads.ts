/**
 * The loads of the `l4` benchmark, each run from inside the client pod: `wrk` for saturation,
 * `curl` for single-connection bulk throughput, and the open-loop generator for latency at a
 * fixed rate.
 */
import { MeshError } from '../../common/errors.ts';
import { connectInNetns } from '../../node-agent/native/index.ts';
import type { NetnsLab, TestNetns } from '../../test/helpers/netns.ts';
import { openLoop, type OpenLoopResult } from './openloop.ts';
import { parseWrk, type WrkSummary } from './stats.ts';
import { BULK_BYTES } from './topology.ts';

/** Where a path's client sends its requests, from inside `ns`. */
export interface Target {
  readonly ns: TestNetns;
  readonly host: string;
  readonly port: number;
}

const url = (t: Target, path: string): string => `http://${t.host}:${t.port}${path}`;

/** `wrk -t1 -c<connections> -d<seconds>s --latency` against `/`; throws when any request failed. */
export async function runWrk(
  lab: NetnsLab,
  t: Target,
  seconds: number,
  connections = 32,
): Promise<WrkSummary> {
  const { stdout } = await lab.exec(t.ns, 'wrk', [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    url(t, '/'),
  ]);
  const summary = parseWrk(stdout);
  if (summary.errors > 0) {
    throw new MeshError(
      'BENCH_REQUESTS_FAILED',
      `wrk saw ${summary.errors} errors against ${url(t, '/')}:\n${stdout}`,
    );
  }
  return summary;
}

/** Downloads `/bulk.bin` over one connection with curl; MB/s (10^6 bytes). */
export async function runBulk(lab: NetnsLab, t: Target): Promise<number> {
  const { stdout } = await lab.exec(t.ns, 'curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    '%{size_download} %{time_total}',
    url(t, '/bulk.bin'),
  ]);
  const [size = NaN, seconds = NaN] = stdout.trim().split(' ').map(Number);
  if (size !== BULK_BYTES || !(seconds > 0)) {
    throw new MeshError(
      'BENCH_BULK_SHORT',
      `bulk download got ${size} of ${BULK_BYTES} bytes from ${url(t, '/bulk.bin')}`,
    );
  }
  return size / seconds / 1e6;
}

/** The request every fixed-rate run and new connection sends: `GET /` (1 KiB answer). */
export const GET_ROOT = Buffer.from('GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: waymesh-l4\r\n\r\n');

/** The open-loop generator at `ratePerSec` over `connections` keep-alive connections. */
export async function runFixedRate(
  t: Target,
  ratePerSec: number,
  durationMs: number,
  connections = 16,
): Promise<OpenLoopResult> {
  const result = await openLoop({
    connect: () => connectInNetns(t.ns.path, t.host, t.port, { timeoutMs: 5000 }),
    request: GET_ROOT,
    ratePerSec,
    durationMs,
    connections,
  });
  if (result.errors > 0) {
    throw new MeshError(
      'BENCH_REQUESTS_FAILED',
      `${result.errors} of ${result.sent} fixed-rate requests to ${t.host}:${t.port} failed or never completed`,
    );
  }
  return result;
}
