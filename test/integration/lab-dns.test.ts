// Cluster DNS end to end. In-process on loopback: Node's resolver (c-ares) gets A, SRV, PTR,
// empty AAAA, NXDOMAIN, REFUSED, SERVFAIL before sync and a truncated UDP answer it retries over
// TCP; a raw TCP client pipelines two queries. In a test network namespace: the DNS process
// (lab/dns/main.ts) fed by a fake API server on a Unix socket through the forwarder, and the
// system resolver (`getent`, with a resolv.conf like a pod's: search path and ndots:5) finding
// `echo` as `echo.demo.svc.cluster.local`. Needs root; never skipped. All traffic stays on
// loopback (the host's or the test namespace's) and Unix sockets.
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { promises as dnsPromises } from 'node:dns';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'mocha';

import { startDnsServer, type DnsServer } from '../../lab/dns/server.ts';
import { CLASS_IN, decodeMessage, encodeMessage, RR } from '../../lab/dns/wire.ts';
import { buildZone, type Zone } from '../../lab/dns/zone.ts';
import { assertRoot, NetnsLab, type TestNetns } from '../helpers/netns.ts';

const ROOT = resolve(import.meta.dirname, '../..');

const zone = buildZone({
  services: [
    {
      namespace: 'demo',
      name: 'echo',
      clusterIP: '10.96.0.20',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
    { namespace: 'demo', name: 'wide', clusterIP: 'None', ports: [] },
  ],
  endpoints: [
    {
      namespace: 'demo',
      service: 'wide',
      addresses: Array.from({ length: 100 }, (_, i) => ({ ip: `10.244.0.${i + 1}`, ready: true })),
    },
  ],
});

function queryBytes(id: number, name: string): Buffer {
  const msg = encodeMessage({
    id,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0 },
    questions: [{ name, type: RR.A, class: CLASS_IN }],
    answers: [],
    authority: [],
    additional: [],
  });
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(msg.length);
  return Buffer.concat([prefix, msg]);
}

describe('lab/dns server on loopback', () => {
  let current: Zone | undefined = zone;
  let server: DnsServer;
  const resolver = new dnsPromises.Resolver({ timeout: 2000, tries: 1 });

  before(async () => {
    server = await startDnsServer({ host: '127.0.0.1', port: 0, zone: () => current });
    resolver.setServers([`127.0.0.1:${server.port}`]);
  });
  after(() => server.stop());

  it('resolves a service, its SRV record and its reverse name', async () => {
    assert.deepEqual(await resolver.resolve4('echo.demo.svc.cluster.local'), ['10.96.0.20']);
    assert.deepEqual(await resolver.resolveSrv('_http._tcp.echo.demo.svc.cluster.local'), [
      { name: 'echo.demo.svc.cluster.local', port: 8080, priority: 0, weight: 100 },
    ]);
    assert.deepEqual(await resolver.reverse('10.96.0.20'), ['echo.demo.svc.cluster.local']);
  });

  it('answers AAAA with no data, unknown names with NXDOMAIN, other zones with REFUSED', async () => {
    await assert.rejects(resolver.resolve6('echo.demo.svc.cluster.local'), { code: 'ENODATA' });
    await assert.rejects(resolver.resolve4('nope.demo.svc.cluster.local'), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolve4('example.com'), { code: 'EREFUSED' });
  });

  it('truncates a large UDP answer; the resolver retries over TCP and gets all 100 addresses', async () => {
    const ips = await resolver.resolve4('wide.demo.svc.cluster.local');
    assert.equal(ips.length, 100);
  });

  it('answers several pipelined queries on one TCP connection, split across writes', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port });
    const request = Buffer.concat([
      queryBytes(1, 'echo.demo.svc.cluster.local'),
      queryBytes(2, 'nope.cluster.local'),
    ]);
    const received: Buffer[] = [];
    const done = new Promise<Buffer>((ok, fail) => {
      socket.on('data', (c: Buffer) => {
        received.push(c);
        const all = Buffer.concat(received);
        const first = all.length >= 2 ? 2 + all.readUInt16BE(0) : Infinity;
        if (all.length >= first + 2 && all.length >= first + 2 + all.readUInt16BE(first)) ok(all);
      });
      socket.on('error', fail);
    });
    for (const piece of [request.subarray(0, 1), request.subarray(1, 20), request.subarray(20)]) {
      socket.write(piece);
      await new Promise((r) => setTimeout(r, 20));
    }
    const all = await done;
    socket.destroy();
    const firstLength = all.readUInt16BE(0);
    const one = decodeMessage(all.subarray(2, 2 + firstLength));
    const two = decodeMessage(all.subarray(4 + firstLength));
    assert.equal(one.id, 1);
    assert.deepEqual(
      one.answers.map((a) => a.data),
      [{ type: 'A', address: '10.96.0.20' }],
    );
    assert.equal(two.id, 2);
    assert.equal(two.flags.rcode, 3);
  });

  it('answers SERVFAIL while the zone is not synced', async () => {
    current = undefined;
    try {
      await assert.rejects(resolver.resolve4('echo.demo.svc.cluster.local'), { code: 'ESERVFAIL' });
    } finally {
      current = zone;
    }
  });
});

/** A fake API server for Services and EndpointSlices: list, and watches that stay open for pushed events. */
class FakeApi {
  readonly server: Server;
  readonly #watches = new Map<string, Set<ServerResponse>>();
  readonly items: Record<string, object[]>;
  #rv = 100;

  constructor(items: Record<string, object[]>) {
    this.items = items;
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const list = this.items[url.pathname];
      res.setHeader('content-type', 'application/json');
      if (list === undefined) {
        res.statusCode = 404;
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404 }));
      } else if (url.searchParams.get('watch') === 'true') {
        const open = this.#watches.get(url.pathname) ?? new Set();
        this.#watches.set(url.pathname, open.add(res));
        res.once('close', () => open.delete(res));
        res.flushHeaders();
      } else {
        res.end(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'List',
            metadata: { resourceVersion: String(this.#rv) },
            items: list,
          }),
        );
      }
    });
  }

  push(path: string, object: { metadata: object }): void {
    const withRv = { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.#rv) } };
    this.items[path]?.push(withRv);
    for (const res of this.#watches.get(path) ?? [])
      res.write(JSON.stringify({ type: 'ADDED', object: withRv }) + '\n');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
  }
}

const SERVICES = '/api/v1/services';
const SLICES = '/apis/discovery.k8s.io/v1/endpointslices';

function service(namespace: string, name: string, clusterIP: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name, resourceVersion: '1' },
    spec: { clusterIP, ports: [{ port: 80 }] },
  };
}

function waitForLog(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  return new Promise((done, fail) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`no ${String(pattern)} in output: ${seen}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stderr?.off('data', onData);
        done();
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => fail(new Error(`exited with ${code}: ${seen}`)));
  });
}

describe('lab/dns main.ts in a network namespace, via the forwarder', function () {
  this.timeout(60_000);
  const lab = new NetnsLab();
  const dir = mkdtempSync(join(tmpdir(), 'wm-dns-'));
  let etcNetns = '';
  let ns: TestNetns;
  let dns: ChildProcess;
  const api = new FakeApi({
    [SERVICES]: [
      service('demo', 'echo', '10.96.0.20'),
      service('other', 'echo', '10.96.0.30'),
      service('demo', 'db', 'None'),
    ],
    [SLICES]: [
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          namespace: 'demo',
          name: 'db-x1',
          resourceVersion: '1',
          labels: { 'kubernetes.io/service-name': 'db' },
        },
        addressType: 'IPv4',
        endpoints: [
          { addresses: ['10.244.1.7'], conditions: { ready: true } },
          { addresses: ['10.244.1.8'], conditions: { ready: true } },
          { addresses: ['10.244.1.9'], conditions: { ready: false } },
        ],
      },
    ],
  });
  const cleanupFiles = (): void => {
    rmSync(dir, { recursive: true, force: true });
    if (etcNetns === '') return;
    rmSync(etcNetns, { recursive: true, force: true });
    // /etc/netns itself only if this test made it and nothing else uses it.
    if (madeEtcNetns && readdirSync('/etc/netns').length === 0) rmdirSync('/etc/netns');
  };
  const madeEtcNetns = !existsSync('/etc/netns');
  process.once('exit', cleanupFiles);

  before(async () => {
    assertRoot();
    const sock = join(dir, 'api.sock');
    await new Promise<void>((done) => api.server.listen(sock, done));
    ns = await lab.createNetns();
    etcNetns = join('/etc/netns', ns.name);
    mkdirSync(etcNetns, { recursive: true });
    // What the lab writes for a pod in namespace `demo`.
    writeFileSync(
      join(etcNetns, 'resolv.conf'),
      'search demo.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:2\n',
    );
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        // client-node refuses plain HTTP unless TLS verification is off; the fake speaks HTTP.
        clusters: [
          { name: 'lab', cluster: { server: 'http://127.0.0.1:6443', 'insecure-skip-tls-verify': true } },
        ],
        users: [{ name: 'dns', user: {} }],
        contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'dns' } }],
        'current-context': 'lab',
      }),
    );
    const forwarder = lab.spawn(ns, process.execPath, [
      '--import',
      'tsx',
      join(ROOT, 'lab/forward/main.ts'),
      '--listen',
      '127.0.0.1:6443',
      '--to',
      sock,
    ]);
    await waitForLog(forwarder, /"msg":"forwarding"/);
    dns = lab.spawn(ns, process.execPath, [
      '--import',
      'tsx',
      join(ROOT, 'lab/dns/main.ts'),
      '--listen',
      '127.0.0.1:53',
      '--kubeconfig',
      kubeconfig,
    ]);
    await waitForLog(dns, /"msg":"synced".*"msg":"synced"/s);
  });

  after(async () => {
    try {
      await lab.cleanup();
    } finally {
      await api.close();
      cleanupFiles();
    }
  });

  async function getent(db: string, name: string): Promise<string> {
    return (await lab.exec(ns, 'getent', [db, name])).stdout;
  }

  async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
    const end = Date.now() + 10_000;
    while (!(await check().catch(() => false))) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('resolves `echo` through the pod search path to echo.demo.svc.cluster.local', async () => {
    await eventually('the first zone', async () => (await getent('hosts', 'echo')) !== '');
    assert.match(await getent('hosts', 'echo'), /^10\.96\.0\.20\s+echo\.demo\.svc\.cluster\.local\s*$/);
    assert.match(
      await getent('hosts', 'echo.other'),
      /^10\.96\.0\.30\s+echo\.other\.svc\.cluster\.local\s*$/,
    );
    assert.match(await getent('hosts', 'echo.demo.svc.cluster.local'), /^10\.96\.0\.20\s/);
  });

  it('resolves a headless service to its ready endpoints', async () => {
    // `hosts`, not `ahostsv4`: getaddrinfo's AI_ADDRCONFIG sees no IPv4 address besides loopback here.
    const ips = (await getent('hosts', 'db')).split('\n').map((l) => l.split(/\s+/)[0]);
    assert.deepEqual([...new Set(ips.filter((ip) => ip !== ''))].sort(), ['10.244.1.7', '10.244.1.8']);
  });

  it('does not find names that do not exist', async () => {
    await assert.rejects(getent('hosts', 'nope'), /failed/);
    await assert.rejects(getent('hosts', 'example.com'), /failed/);
  });

  it('follows watch events: a new service resolves without a restart', async () => {
    api.push(SERVICES, service('demo', 'late', '10.96.0.99') as { metadata: object });
    await eventually('the new service', async () => /10\.96\.0\.99/.test(await getent('hosts', 'late')));
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const exited = new Promise<number | null>((done) => dns.once('exit', (code) => done(code)));
    dns.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
