/**
 * The waypoint's L7 engine alone (issue 6 §6: "the waypoint's L7 engine against nginx"): a
 * `Waypoint` built as `waypoint/main.ts` builds it — same snapshot, router, hooks (authz,
 * metrics, the access log through the batching sink), engine and upstream pools — but fed
 * plaintext connections from a TCP listener and reaching the backend over plain TCP, so it does
 * the same work nginx does in the same place. The HBONE legs are measured by the L4-only and
 * L4 + waypoint paths. Run inside the proxy namespace, compiled:
 * `node dist/bench/l7/engine-main.js --listen IP:PORT --snapshot FILE --target VIP:PORT --dir CERTDIR`.
 * Prints `ready`; exits on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

import { formatAuthority } from '../../common/hbone/index.ts';
import type { WaypointSnapshot } from '../../common/ir/index.ts';
import { createBatchingSink, createLogger } from '../../common/log.ts';
import type { UpstreamConnector } from '../../waypoint/http/index.ts';
import type { ConfigSource } from '../../waypoint/program/config-source.ts';
import { tuneHeap } from '../../waypoint/program/heap.ts';
import { staticIdentity } from '../../waypoint/program/identity.ts';
import { namespaceOf } from '../../waypoint/server.ts';
import { Waypoint } from '../../waypoint/waypoint.ts';
import { BENCH_TD, benchId } from './identities.ts';
import { addressArg, readArgs } from './process-args.ts';

// As waypoint/main.ts does.
tuneHeap();
const args = readArgs(['listen', 'snapshot', 'target', 'dir']);
const listen = addressArg('listen', args.listen);
const target = addressArg('target', args.target);
const snapshot = JSON.parse(readFileSync(args.snapshot, 'utf8')) as WaypointSnapshot;

/** Plain TCP to the endpoint, in place of an HBONE tunnel to its node agent. */
const plainTcp: UpstreamConnector = {
  connect: (endpoint, signal) =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ host: endpoint.ip, port: endpoint.port, noDelay: true });
      const onAbort = (): void => {
        socket.destroy();
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.off('error', reject);
        resolve(socket);
      });
    }),
};

/** The snapshot is applied once, below; nothing to start or watch. */
const applied: ConfigSource = {
  start: () => undefined,
  stop: () => Promise.resolve(),
  status: () => ({ kind: 'file', path: args.snapshot }),
};

const sink = createBatchingSink();
process.on('exit', () => sink.flushSync());
const log = createLogger({ sink, fields: { program: 'waymesh-waypoint-engine-bench' } });
const waypoint = new Waypoint({
  gateway: snapshot.waypoint,
  trustDomain: BENCH_TD,
  identity: staticIdentity(
    benchId('waypoint'),
    {
      certFile: join(args.dir, 'waypoint.crt'),
      keyFile: join(args.dir, 'waypoint.key'),
      caFile: join(args.dir, 'waypoint-ca.crt'),
    },
    BENCH_TD,
  ),
  config: applied,
  hbone: { host: '127.0.0.1', port: 0 },
  admin: { host: '127.0.0.1', port: 0 },
  metrics: { host: '127.0.0.1', port: 0 },
  ready: { host: '127.0.0.1', port: 0 },
  connector: plainTcp,
  logger: log,
});
waypoint.apply(snapshot);
const entry = waypoint.config().targets.get(formatAuthority(target.host, target.port));
if (entry === undefined) throw new Error(`the snapshot has no service port at ${args.target}`);
const source = benchId('client');
const ctx = {
  sourceIdentity: source,
  sourceNamespace: namespaceOf(source),
  target: { service: entry.service.key, port: target.port },
  protocol: entry.port.appProtocol,
};

const server = net.createServer({ noDelay: true }, (socket) => waypoint.serveHttp(socket, ctx));
server.listen(listen.port, listen.host, () => process.stdout.write('ready\n'));
process.once('SIGTERM', () => {
  server.close();
  void waypoint
    .stop({ deadlineMs: 0 })
    .then(() => sink.flush())
    .finally(() => process.exit(0));
});
