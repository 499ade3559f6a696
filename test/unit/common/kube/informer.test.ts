// The resilient informer against a loopback fake of the API server's list and watch: first sync,
// restart with backoff after errors client-node gives up on, and relist after 410 Gone.
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'mocha';
import { CoreV1Api, KubeConfig, type V1Service } from '@kubernetes/client-node';

import { ResilientInformer } from '../../../../common/kube/informer.ts';

/** A fake `/api/v1/services` whose list and watch answers are scripted per call. */
class FakeApi {
  readonly server: Server;
  lists = 0;
  watches = 0;
  listFailures = 0;
  /** What each watch does: the lines it sends, then whether it stays open. */
  watchScript: (n: number) => { lines: object[]; hold: boolean; status?: number } = () => ({
    lines: [],
    hold: true,
  });
  items: V1Service[] = [];
  readonly #open = new Set<ServerResponse>();

  constructor() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.setHeader('content-type', 'application/json');
      if (url.pathname !== '/api/v1/services') {
        res.statusCode = 404;
        res.end('{}');
      } else if (url.searchParams.get('watch') === 'true') {
        const step = this.watchScript(++this.watches);
        res.statusCode = step.status ?? 200;
        for (const line of step.lines) res.write(JSON.stringify(line) + '\n');
        if (step.hold) this.#open.add(res);
        else res.end();
      } else if (++this.lists <= this.listFailures) {
        res.statusCode = 500;
        res.end(
          JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 500, message: 'boom' }),
        );
      } else {
        res.end(
          JSON.stringify({
            kind: 'ServiceList',
            apiVersion: 'v1',
            metadata: { resourceVersion: '10' },
            items: this.items,
          }),
        );
      }
    });
  }

  async start(): Promise<KubeConfig> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'fake',
          server: `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: 'u' }],
      contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
      currentContext: 'c',
    });
    return kc;
  }

  async stop(): Promise<void> {
    for (const res of this.#open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function svc(name: string, rv: string): V1Service {
  return { metadata: { name, namespace: 'demo', resourceVersion: rv }, spec: { clusterIP: '10.96.0.9' } };
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('common/kube/informer', () => {
  let api: FakeApi | undefined;
  let informer: ResilientInformer<V1Service> | undefined;
  afterEach(async () => {
    await informer?.stop();
    await api?.stop();
    informer = api = undefined;
  });

  async function setup(fake: FakeApi): Promise<{ changes: () => number }> {
    api = fake;
    const kc = await fake.start();
    const core = kc.makeApiClient(CoreV1Api);
    let changes = 0;
    informer = new ResilientInformer<V1Service>({
      kubeConfig: kc,
      path: '/api/v1/services',
      list: () => core.listServiceForAllNamespaces(),
      onChange: () => changes++,
      backoff: { initialMs: 20, maxMs: 100 },
    });
    void informer.start();
    return { changes: () => changes };
  }

  it('syncs from the list, then follows watch events', async () => {
    const fake = new FakeApi();
    fake.items = [svc('a', '5')];
    fake.watchScript = () => ({ lines: [{ type: 'ADDED', object: svc('b', '11') }], hold: true });
    const { changes } = await setup(fake);
    await until('sync and the watched add', () => informer!.synced && informer!.list().length === 2);
    assert.deepEqual(
      informer!
        .list()
        .map((s) => s.metadata?.name)
        .sort(),
      ['a', 'b'],
    );
    assert.ok(changes() >= 3, 'list add, sync, watch add');
    assert.deepEqual(informer!.counts, { expired: 0, failures: 0, restarts: 0 });
  });

  it('restarts with backoff after list errors that client-node gives up on', async () => {
    const fake = new FakeApi();
    fake.listFailures = 3;
    fake.items = [svc('a', '5')];
    await setup(fake);
    await until('sync after failures', () => informer!.synced);
    assert.equal(fake.lists, 4);
    assert.equal(informer!.counts.failures, 3);
    assert.equal(informer!.counts.restarts, 3);
    assert.equal(informer!.list().length, 1);
  });

  it('restarts after a watch that fails with 500, resuming from its resource version', async () => {
    const fake = new FakeApi();
    fake.items = [svc('a', '5')];
    fake.watchScript = (n) =>
      n === 1
        ? { lines: [], hold: false, status: 500 }
        : { lines: [{ type: 'ADDED', object: svc('c', '12') }], hold: true };
    await setup(fake);
    await until('the second watch', () => informer!.list().length === 2);
    assert.equal(fake.lists, 1, 'no relist: the resource version was still good');
    assert.equal(informer!.counts.failures, 1);
  });

  it('counts 410 Gone and relists', async () => {
    const fake = new FakeApi();
    fake.items = [svc('a', '5')];
    fake.watchScript = (n) =>
      n === 1
        ? {
            lines: [
              { type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old resource version' } },
            ],
            hold: false,
          }
        : { lines: [], hold: true };
    await setup(fake);
    await until('the relist', () => fake.lists === 2 && fake.watches === 2);
    assert.equal(informer!.counts.expired, 1);
    assert.equal(informer!.counts.failures, 0);
  });
});
