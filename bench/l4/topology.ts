/**
 * The namespaces and servers of the `l4` benchmark. A "pair" is a client pod and a server pod
 * joined by one veth link (client 10.250.0.1, server 10.250.0.2, inside namespaces the bench
 * created via {@link NetnsLab}); the plain pair carries the direct and stunnel paths, the meshed
 * pair the agent path, so capture rules never touch the baselines. Every server pod runs the
 * same nginx (one process, keep-alive) answering `/` with 1 KiB and `/bulk.bin` with a sparse
 * file for the single-connection throughput.
 */
import { type ChildProcess } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { MeshError } from '../../common/errors.ts';
import type { NodeSnapshot, Workload } from '../../common/ir/index.ts';
import { connectInNetns } from '../../node-agent/native/index.ts';
import type { NetnsLab, TestNetns } from '../../test/helpers/netns.ts';

/** Size of the body of `/`. */
export const RESPONSE_BYTES = 1024;
/** Size of `/bulk.bin`. */
export const BULK_BYTES = 200 * 1024 * 1024;
/** Where nginx listens in each server pod. */
export const APP_PORT = 80;
/** The trust domain of the bench's identities. */
export const TRUST_DOMAIN = 'cluster.local';

/** A client pod and a server pod on one link. */
export interface PodPair {
  readonly client: TestNetns;
  readonly server: TestNetns;
  readonly clientIp: string;
  readonly serverIp: string;
}

/** Creates two namespaces joined by a veth pair. */
export async function createPair(lab: NetnsLab): Promise<PodPair> {
  const client = await lab.createNetns();
  const server = await lab.createNetns();
  const link = await lab.link(client, server);
  return { client, server, clientIp: link.a.ipv4, serverIp: link.b.ipv4 };
}

/** The nginx configuration of a server pod whose files live in `dir`. */
export function renderNginxConfig(dir: string): string {
  return [
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/nginx.err warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    '  default_type application/octet-stream;',
    '  keepalive_requests 10000000;',
    '  keepalive_timeout 300s;',
    '  sendfile on;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    '  server {',
    `    listen 0.0.0.0:${APP_PORT} reuseport;`,
    `    root ${dir}/www;`,
    `    location = / { return 200 "${'x'.repeat(RESPONSE_BYTES)}"; }`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Starts nginx inside `ns` with its files under `dir`; resolves once it accepts on `ip:80`. */
export async function startNginx(
  lab: NetnsLab,
  ns: TestNetns,
  ip: string,
  dir: string,
): Promise<ChildProcess> {
  mkdirSync(join(dir, 'www'), { recursive: true });
  // Sparse: 200 MiB of zeros that cost neither disk nor page cache.
  writeFileSync(join(dir, 'www', 'bulk.bin'), '');
  truncateSync(join(dir, 'www', 'bulk.bin'), BULK_BYTES);
  writeFileSync(join(dir, 'nginx.conf'), renderNginxConfig(dir));
  const child = lab.spawn(ns, 'nginx', ['-c', join(dir, 'nginx.conf'), '-e', join(dir, 'nginx.err')]);
  await waitListening(ns, ip, APP_PORT, `nginx in ${ns.name}`, child);
  return child;
}

/** Polls until `ip:port` accepts a connection from inside `ns`; fails when `child` exits first. */
export async function waitListening(
  ns: TestNetns,
  ip: string,
  port: number,
  what: string,
  child?: ChildProcess,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  let stderr = '';
  const onErr = (chunk: Buffer): void => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  };
  child?.stderr?.on('data', onErr);
  for (;;) {
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) {
      throw new MeshError(
        'BENCH_PROCESS_EXITED',
        `${what} exited with ${child.exitCode ?? child.signalCode}: ${stderr.trim()}`,
        { hint: 'run the same command by hand inside the namespace to see its error' },
      );
    }
    try {
      const socket = await connectInNetns(ns.path, ip, port, { timeoutMs: 1000 });
      socket.destroy();
      child?.stderr?.off('data', onErr);
      // Keep draining its stderr so a chatty process never blocks on a full pipe.
      child?.stderr?.resume();
      return;
    } catch (err) {
      if (Date.now() > end) {
        throw new MeshError('BENCH_NOT_LISTENING', `${what} does not accept on ${ip}:${port}`, {
          cause: err,
        });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A captured workload of the bench (namespace `bench`, service account = name). */
export function benchWorkload(name: string, node: string, ip: string): Workload {
  return {
    uid: `uid-${name}`,
    name,
    namespace: 'bench',
    node,
    ips: [ip],
    serviceAccount: name,
    identity: `spiffe://${TRUST_DOMAIN}/ns/bench/sa/${name}`,
    captured: true,
    labels: {},
    namedPorts: {},
  };
}

/** The snapshot of `node` over `workloads`: pod-to-pod traffic only, no services or policies. */
export function benchSnapshot(node: string, workloads: readonly Workload[]): NodeSnapshot {
  return {
    kind: 'node',
    version: `l4-${node}`,
    trustDomain: TRUST_DOMAIN,
    node,
    workloads: [...workloads],
    services: [],
    policies: [],
  };
}
