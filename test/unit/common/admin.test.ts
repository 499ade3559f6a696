import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, afterEach, describe, it } from 'mocha';
import {
  configDumpRoute,
  healthzRoute,
  metricsRoute,
  readyRoute,
  startAdminServer,
  type AdminServer,
} from '../../../common/admin/index.ts';
import { isMeshError } from '../../../common/errors.ts';
import { createLogger } from '../../../common/log.ts';
import { Registry } from '../../../common/metrics/index.ts';

/** Sends raw bytes and returns everything the server answered before closing. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.write(bytes);
  });
}

describe('common/admin', () => {
  const servers: AdminServer[] = [];
  const logLines: string[] = [];
  const logger = createLogger({ sink: { write: (l) => logLines.push(l) } });
  let ready: boolean | { ready: boolean; reason: string } = true;
  const registry = new Registry();
  registry.counter('waymesh_config_rejected_total', 'Rejected snapshots.', ['version']).labels('v1').inc();

  async function start(routes: Parameters<typeof startAdminServer>[0]['routes']): Promise<AdminServer> {
    const s = await startAdminServer({ host: '127.0.0.1', port: 0, routes, logger });
    servers.push(s);
    return s;
  }

  const standard = (): Promise<AdminServer> =>
    start({
      '/metrics': metricsRoute(registry),
      '/healthz': healthzRoute(),
      '/ready': readyRoute(() => ready),
      '/config_dump': configDumpRoute(() => ({ workloads: [{ name: 'web' }] })),
      '/boom': () => {
        throw new Error('dump exploded');
      },
    });

  afterEach(() => {
    logLines.length = 0;
    ready = true;
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop({ deadlineMs: 200 })));
  });

  it('serves /metrics in the Prometheus text format', async () => {
    const s = await standard();
    assert.ok(s.port > 0);
    const res = await fetch(`${s.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await res.text(), /^waymesh_config_rejected_total\{version="v1"\} 1$/m);
  });

  it('serves /healthz, /config_dump (JSON) and ignores query strings', async () => {
    const s = await standard();
    const h = await fetch(`${s.url}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(await h.text(), 'ok\n');
    const d = await fetch(`${s.url}/config_dump?include=all`);
    assert.equal(d.headers.get('content-type'), 'application/json');
    assert.deepEqual(await d.json(), { workloads: [{ name: 'web' }] });
  });

  it('/ready answers 200 or 503 with the reason, as the callback says', async () => {
    const s = await standard();
    assert.equal((await fetch(`${s.url}/ready`)).status, 200);
    ready = { ready: false, reason: 'no snapshot yet' };
    const res = await fetch(`${s.url}/ready`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), 'not ready: no snapshot yet\n');
    ready = false;
    assert.equal((await fetch(`${s.url}/ready`)).status, 503);
  });

  it('unknown path → 404, non-GET → 405 with Allow', async () => {
    const s = await standard();
    assert.equal((await fetch(`${s.url}/nope`)).status, 404);
    const res = await fetch(`${s.url}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
  });

  it('a throwing handler → 500 with its message and a log line; the server keeps serving', async () => {
    const s = await standard();
    const res = await fetch(`${s.url}/boom`);
    assert.equal(res.status, 500);
    assert.match(await res.text(), /\/boom failed: dump exploded/);
    assert.ok(logLines.some((l) => /admin endpoint failed/.test(l) && /dump exploded/.test(l)));
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  });

  it('an async handler that rejects is a 500 too', async () => {
    const s = await start({ '/ready': readyRoute(() => Promise.reject(new Error('probe broke'))) });
    const res = await fetch(`${s.url}/ready`);
    assert.equal(res.status, 500);
    assert.match(await res.text(), /probe broke/);
  });

  it('a malformed request gets 400 and does not disturb the server', async () => {
    const s = await standard();
    const answer = await raw(s.port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400/);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  });

  it('a taken port fails with ADMIN_LISTEN_FAILED', async () => {
    const s = await start({ '/healthz': healthzRoute() });
    await assert.rejects(
      startAdminServer({ host: '127.0.0.1', port: s.port, routes: {} }),
      (err: unknown) => isMeshError(err, 'ADMIN_LISTEN_FAILED') && /already using this port/.test(err.hint),
    );
  });

  it('stop() closes the listener, also with a kept-alive connection open', async () => {
    const s = await startAdminServer({ host: '127.0.0.1', port: 0, routes: { '/healthz': healthzRoute() } });
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    await s.stop({ deadlineMs: 200 });
    await s.stop();
    await assert.rejects(fetch(`${s.url}/healthz`));
  });
});
