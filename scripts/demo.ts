/**
 * The foundation demo (`npm run demo`): two "pods" as network namespaces joined by a veth pair,
 * a CA issuing their SPIFFE identities, mTLS between them with identities verified on both
 * sides, and an iptables capture whose original destination the native addon recovers. The
 * whole-mesh demo in the lab builds on these parts (issues 3–7).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import {
  FileCaStore,
  inMemoryRootCa,
  issueLocalIdentity,
  loadOrCreateCa,
  mtlsClientOptions,
  TrustBundle,
} from '../certs/index.ts';
import { errorMessage } from '../common/errors.ts';
import { formatSpiffeId } from '../common/spiffe.ts';
import { connectInNetns, listenServerInNetns, originalDst, socketFd } from '../node-agent/native/index.ts';
import { NetnsLab, type TestNetns } from '../test/helpers/netns.ts';

const TD = 'cluster.local';
const step = (text: string): void => console.log(`\n▶ ${text}`);
const show = (text: string): void => console.log(`  ${text}`);

async function waitForPort(ns: TestNetns, host: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      (await connectInNetns(ns.path, host, port, { timeoutMs: 500 })).destroy();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing listens on ${host}:${port} in ${ns.name} after 10 s`);
}

/** One HTTPS GET over an mTLS socket opened from inside `ns`; resolves with the echo's JSON. */
async function mtlsGet(
  ns: TestNetns,
  host: string,
  port: number,
  options: ReturnType<typeof mtlsClientOptions>,
): Promise<Record<string, unknown>> {
  const raw = await connectInNetns(ns.path, host, port);
  const socket = tlsConnect({ ...options, socket: raw, servername: 'echo' });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  return new Promise((resolve, reject) => {
    const req = request(
      { createConnection: () => socket, path: '/hello?from=pod-a', headers: { host: `${host}:${port}` } },
      (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
      },
    );
    req.on('error', reject).end();
  });
}

async function main(): Promise<void> {
  const lab = new NetnsLab();
  const dir = mkdtempSync(join(tmpdir(), 'waymesh-demo-'));
  let capture: Server | undefined;
  try {
    step('Creating a CA (self-signed root, EC P-256) and issuing two workload identities');
    const ca = await loadOrCreateCa({ store: new FileCaStore(join(dir, 'ca')), trustDomain: TD });
    const client = issueLocalIdentity(ca, `spiffe://${TD}/ns/demo/sa/client`);
    const server = issueLocalIdentity(ca, `spiffe://${TD}/ns/demo/sa/echo`);
    show(`root:   ${ca.material.cert.notAfter.toISOString()} expiry, store ${join(dir, 'ca')}`);
    show(`client: ${client.issued.identity} (valid until ${client.issued.notAfter.toISOString()})`);
    show(`echo:   ${server.issued.identity}`);

    step('Creating two pods as network namespaces joined by a veth pair (no route to the host)');
    const podA = await lab.createNetns();
    const podB = await lab.createNetns();
    const veth = await lab.link(podA, podB);
    show(`pod-a = netns ${podA.name} ${veth.a.ipv4}    pod-b = netns ${podB.name} ${veth.b.ipv4}`);

    step('Starting apps/echo in pod-b (HTTP/1.1+h2c :8080, gRPC :9090, TCP :9000, mTLS :8443)');
    const tlsDir = join(dir, 'echo-tls');
    mkdirSync(tlsDir);
    writeFileSync(join(tlsDir, 'key.pem'), server.keyPem);
    writeFileSync(join(tlsDir, 'cert.pem'), server.certChainPem.join(''));
    writeFileSync(join(tlsDir, 'root.pem'), ca.rootsPem());
    const echo = lab.spawn(podB, 'env', [
      'POD_NAME=echo-0',
      'POD_NAMESPACE=demo',
      process.execPath,
      '--import',
      'tsx',
      'apps/echo/main.ts',
      '--tls-dir',
      tlsDir,
      '--tls-port',
      '8443',
    ]);
    echo.stderr?.resume();
    await waitForPort(podB, veth.b.ipv4, 8443);
    show('echo is up');

    step('pod-a → pod-b over mTLS: each side verifies the other against the trust bundle');
    const accept = (id: { trustDomain: string; path: string }): boolean =>
      formatSpiffeId(id) === server.issued.identity;
    const answer = await mtlsGet(podA, veth.b.ipv4, 8443, mtlsClientOptions(client, accept, ['http/1.1']));
    show(`server identity verified by the client: ${server.issued.identity}`);
    show(
      `echo saw: pod=${String(answer['pod'])} path=${String(answer['path'])} remoteAddr=${String(answer['remoteAddr'])}`,
    );
    show(`echo saw the client's SPIFFE id: ${String(answer['peerSpiffeId'])}`);

    step("A client that trusts another mesh's root refuses pod-b's certificate");
    const otherCa = inMemoryRootCa(TD);
    const stranger = issueLocalIdentity(otherCa, `spiffe://${TD}/ns/demo/sa/stranger`);
    try {
      await mtlsGet(
        podA,
        veth.b.ipv4,
        8443,
        mtlsClientOptions({ ...stranger, bundle: new TrustBundle(TD, otherCa.material.roots) }, undefined, [
          'http/1.1',
        ]),
      );
      throw new Error('the foreign client unexpectedly accepted the server');
    } catch (err) {
      show(`refused as expected: ${errorMessage(err)}`);
    }

    step("Capturing pod-a's outbound traffic with iptables and recovering the original destination");
    await lab.exec(podA, 'iptables', [
      '-t',
      'nat',
      '-A',
      'OUTPUT',
      '-p',
      'tcp',
      '-d',
      veth.b.ipv4,
      '--dport',
      '80',
      '-j',
      'REDIRECT',
      '--to-ports',
      '15001',
    ]);
    show(
      `rule in ${podA.name}: -t nat -A OUTPUT -p tcp -d ${veth.b.ipv4} --dport 80 -j REDIRECT --to-ports 15001`,
    );
    capture = createServer((sock) => {
      const dst = originalDst(socketFd(sock));
      sock.end(
        `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\ncaptured on :15001 in pod-a; original destination ${dst.address}:${dst.port}\n`,
      );
    });
    await listenServerInNetns(capture, podA.path, { host: '0.0.0.0', port: 15001 });
    const curl = await lab.exec(podA, 'curl', ['-sS', '--max-time', '5', `http://${veth.b.ipv4}/`]);
    show(`curl http://${veth.b.ipv4}/ from pod-a → ${curl.stdout.trim()}`);

    step('Done; removing namespaces, processes and files');
  } finally {
    capture?.close();
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => console.log('\nwaymesh foundation demo finished.'),
  (err: unknown) => {
    console.error(`waymesh demo failed: ${errorMessage(err)}`);
    process.exitCode = 1;
  },
);
