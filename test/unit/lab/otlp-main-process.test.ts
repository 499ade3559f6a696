// The trace sink program as the lab runs it: a process on loopback (free ports) that takes an
// OTLP/HTTP span, answers /healthz and /api/traces, persists to --file, stops cleanly on
// SIGTERM, and exits 2 on a bad flag.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';

const MAIN = join(import.meta.dirname, '..', '..', '..', 'lab', 'otlp', 'main.ts');
const TSX = import.meta.resolve('tsx');
const TRACE_ID = '5b8efff798038103d269b633813fc60c';
const SPAN_ID = 'eee19b7ec3c1b174';

interface Ports {
  grpcPort: number;
  httpPort: number;
  queryPort: number;
}

/** Reads the JSON log lines on stderr until both listeners have announced their ports. */
function portsFromLog(child: ChildProcess): Promise<Ports> {
  return new Promise((resolve, reject) => {
    let text = '';
    const got: Partial<Ports> = {};
    const timer = setTimeout(() => reject(new Error(`sink did not start; stderr:\n${text}`)), 15_000);
    child.once('exit', (code) => reject(new Error(`sink exited with ${String(code)}; stderr:\n${text}`)));
    child.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as {
          msg: string;
          grpcPort?: number;
          httpPort?: number;
          port?: number;
        };
        if (entry.msg === 'OTLP sink listening') Object.assign(got, entry);
        if (entry.msg === 'trace query listening') got.queryPort = entry.port;
      }
      if (got.grpcPort !== undefined && got.httpPort !== undefined && got.queryPort !== undefined) {
        clearTimeout(timer);
        resolve(got as Ports);
      }
    });
  });
}

describe('lab/otlp/main (process)', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'wm-otlp-main-'));
  const file = join(dir, 'spans.jsonl');
  let child: ChildProcess | undefined;
  let ports: Ports;

  before(async () => {
    child = spawn(
      process.execPath,
      [
        '--import',
        TSX,
        MAIN,
        '--host',
        '127.0.0.1',
        '--grpc-port',
        '0',
        '--http-port',
        '0',
        '--query-port',
        '0',
        '--file',
        file,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    ports = await portsFromLog(child);
  });

  after(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('is ready on /healthz', async () => {
    const res = await fetch(`http://127.0.0.1:${ports.queryPort}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok\n');
  });

  it('serves an OTLP/HTTP JSON span back from /api/traces', async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const res = await fetch(`http://127.0.0.1:${ports.httpPort}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'unit-client' } }] },
            scopeSpans: [
              {
                scope: { name: 'unit' },
                spans: [
                  {
                    traceId: TRACE_ID,
                    spanId: SPAN_ID,
                    name: 'GET /unit',
                    kind: 2,
                    startTimeUnixNano: String(now),
                    endTimeUnixNano: String(now + 2_000_000n),
                  },
                ],
              },
            ],
          },
        ],
      }),
    });
    assert.equal(res.status, 200);
    const query = await fetch(`http://127.0.0.1:${ports.queryPort}/api/traces?service=unit-client`);
    assert.equal(query.status, 200);
    const body = (await query.json()) as {
      traces: { traceId: string; spans: { name: string }[] }[];
      spans: number;
    };
    assert.equal(body.spans, 1);
    assert.deepEqual(
      body.traces.map((t) => [t.traceId, t.spans.map((s) => s.name)]),
      [[TRACE_ID, ['GET /unit']]],
    );
    const none = (await (await fetch(`http://127.0.0.1:${ports.queryPort}/api/traces?service=x`)).json()) as {
      traces: unknown[];
    };
    assert.deepEqual(none.traces, []);
  });

  it('answers a bad query with 400 and the reason, and unknown paths with 404', async () => {
    const bad = await fetch(`http://127.0.0.1:${ports.queryPort}/api/traces?last=0`);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /^--last must be an integer from 1 to 1000/);
    assert.equal((await fetch(`http://127.0.0.1:${ports.queryPort}/api/spans`)).status, 404);
  });

  it('exits 0 on SIGTERM with the span persisted to --file', async () => {
    const proc = child;
    assert.ok(proc !== undefined);
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1);
    assert.equal((JSON.parse(lines[0] ?? '') as { spanId: string }).spanId, SPAN_ID);
  });

  it('exits 2 with the usage line on a bad flag', () => {
    const res = spawnSync(process.execPath, ['--import', TSX, MAIN, '--grpc-port', 'many'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(res.status, 2);
    assert.match(res.stderr, /--grpc-port must be an integer/);
    assert.match(res.stderr, /usage: lab\/otlp\/main\.ts/);
  });
});
