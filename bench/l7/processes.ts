/**
 * Starts the `l7` benchmark's programs inside its namespaces: the backend app (nginx, 1 KiB),
 * the backend HBONE endpoint, the waypoint (compiled `dist/waypoint/main.js`, its own process), the nginx
 * reverse proxy, the plain Node `http` proxy (calibration) and the two client-side forwarders.
 * Then checks every path end to end.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { MeshError } from '../../common/errors.ts';
import { writeIdentities } from './identities.ts';
import { renderBackendConfig, renderProxyConfig } from './nginx.ts';
import { BENCH_PATH, BENCH_RULES } from './routes.ts';
import { benchSnapshot } from './snapshot.ts';
import type { BenchHost, BenchNet } from './topology.ts';
import { benchId } from './identities.ts';
import { BENCH_JS } from '../build.ts';
import { WAYPOINT } from '../../controller/provision/objects.ts';

/** Ports used inside the namespaces. */
export const PORTS = {
  app: 8080,
  hbone: 15008,
  nginx: 8081,
  engine: 8082,
  nodeHttp: 8083,
  l4: 18001,
  waypoint: 18002,
} as const;

/** Client straight to the backend app. */
export const DIRECT_PATH = 'direct';
/** The path of the waypoint's L7 engine alone (plaintext in and out, like nginx). */
export const ENGINE_PATH = 'waypoint L7 engine (plaintext)';
export const NGINX_PATH = 'nginx proxy';
export const L4_PATH = 'L4-only (HBONE pair)';
export const WAYPOINT_PATH = 'L4 + waypoint';
/** Calibration: issue 6's "plain Node `http` proxy" (node-http-main.ts), no target of its own. */
export const NODE_HTTP_PATH = 'plain Node http proxy (calibration)';

/** The Service VIP the waypoint serves (never assigned to a link). */
export const VIP = '10.250.200.10';

/** A measured path: where the load goes, and which processes it charges CPU and RSS to. */
export interface BenchPath {
  readonly name: string;
  readonly url: string;
  readonly pids: readonly number[];
}

/** Everything started. */
export interface Started {
  readonly paths: readonly BenchPath[];
  readonly waypointPid: number;
  /** Stops the waypoint with SIGTERM (flushes a `--cpu-prof` profile). */
  stopWaypoint(): Promise<void>;
}

function nginx(net: BenchNet, ns: string, dir: string, name: string, conf: string): number {
  const prefix = join(dir, name);
  mkdirSync(prefix, { recursive: true });
  writeFileSync(join(prefix, 'nginx.conf'), conf);
  const child = net.spawn(
    ns,
    'nginx',
    ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')],
    join(prefix, 'out.log'),
  );
  return pidOf(child.pid, name);
}

function pidOf(pid: number | undefined, what: string): number {
  if (pid === undefined) throw new MeshError('BENCH_SPAWN', `could not start ${what}`);
  return pid;
}

/** Starts every program; `cpuProfDir` turns on `--cpu-prof` for the waypoint. */
export async function startAll(
  net: BenchNet,
  hosts: Readonly<Record<'client' | 'proxy' | 'backend', BenchHost>>,
  dir: string,
  cpuProfDir?: string,
): Promise<Started> {
  const { client, proxy, backend } = hosts;
  const ids = writeIdentities(dir, ['client', 'waypoint', 'web']);
  const app = nginx(
    net,
    backend.ns,
    dir,
    'app',
    renderBackendConfig({
      prefix: join(dir, 'app'),
      listen: { host: backend.ip, port: PORTS.app },
      accessLog: 'off',
      bodyBytes: 1024,
    }),
  );
  const endpoint = net.spawn(
    backend.ns,
    process.execPath,
    [BENCH_JS.l7Endpoint, '--listen', `${backend.ip}:${PORTS.hbone}`, '--sa', 'web', '--dir', dir],
    join(dir, 'endpoint.log'),
  );
  const snapshotFile = join(dir, 'snapshot.json');
  writeFileSync(
    snapshotFile,
    JSON.stringify(
      benchSnapshot(BENCH_RULES, {
        vip: VIP,
        waypointIp: proxy.ip,
        backendIp: backend.ip,
        backendPort: PORTS.app,
      }),
    ),
  );
  const wpIds = ids['waypoint'];
  if (wpIds === undefined) throw new MeshError('BENCH_SPAWN', 'no waypoint identity was written');
  const waypoint = net.spawn(
    proxy.ns,
    process.execPath,
    [
      // As the image runs it: compiled JavaScript, no TypeScript loader (see ../build.ts), with
      // the Node options the provisioner sets on waypoint containers.
      WAYPOINT.nodeOptions,
      ...(cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir]),
      BENCH_JS.waypoint,
      '--config-file',
      snapshotFile,
      '--cert-file',
      wpIds.certFile,
      '--key-file',
      wpIds.keyFile,
      '--ca-file',
      wpIds.caFile,
      '--gateway',
      'bench/waypoint',
      '--namespace',
      'bench',
      '--service-account',
      'waypoint',
      '--host',
      '0.0.0.0',
      '--port',
      String(PORTS.hbone),
    ],
    join(dir, 'waypoint.log'),
  );
  // The L7 engine alone, plaintext both sides, where nginx runs (see engine-main.ts).
  const engine = net.spawn(
    proxy.ns,
    process.execPath,
    [
      WAYPOINT.nodeOptions,
      BENCH_JS.l7Engine,
      '--listen',
      `${proxy.ip}:${PORTS.engine}`,
      '--snapshot',
      snapshotFile,
      '--target',
      `${VIP}:80`,
      '--dir',
      dir,
    ],
    join(dir, 'engine.log'),
  );
  const nodeHttp = net.spawn(
    proxy.ns,
    process.execPath,
    [
      BENCH_JS.l7NodeHttp,
      '--listen',
      `${proxy.ip}:${PORTS.nodeHttp}`,
      '--target',
      `${backend.ip}:${PORTS.app}`,
    ],
    join(dir, 'node-http.log'),
  );
  const proxyPid = nginx(
    net,
    proxy.ns,
    dir,
    'proxy',
    renderProxyConfig({
      prefix: join(dir, 'proxy'),
      listen: { host: proxy.ip, port: PORTS.nginx },
      accessLog: join(dir, 'proxy', 'access.log'),
      upstreams: {
        primary: { host: backend.ip, port: PORTS.app },
        canary: { host: backend.ip, port: PORTS.app },
      },
      rules: BENCH_RULES,
      keepalive: 64,
    }),
  );
  const forwarder = (port: number, via: string, authority: string, peer: string): number =>
    pidOf(
      net.spawn(
        client.ns,
        process.execPath,
        [
          BENCH_JS.l7Forwarder,
          '--listen',
          `127.0.0.1:${port}`,
          '--via',
          via,
          '--authority',
          authority,
          '--peer',
          peer,
          '--sa',
          'client',
          '--dir',
          dir,
        ],
        join(dir, `forwarder-${port}.log`),
      ).pid,
      'a forwarder',
    );
  const l4 = forwarder(
    PORTS.l4,
    `${backend.ip}:${PORTS.hbone}`,
    `${backend.ip}:${PORTS.app}`,
    benchId('web'),
  );
  forwarder(PORTS.waypoint, `${proxy.ip}:${PORTS.hbone}`, `${VIP}:80`, benchId('waypoint'));
  const waypointPid = pidOf(waypoint.pid, 'the waypoint');
  await net.waitForHttp(proxy.ns, 'http://127.0.0.1:15021/ready');
  const paths: BenchPath[] = [
    { name: DIRECT_PATH, url: `http://${backend.ip}:${PORTS.app}${BENCH_PATH}`, pids: [app] },
    {
      name: L4_PATH,
      url: `http://127.0.0.1:${PORTS.l4}${BENCH_PATH}`,
      pids: [l4, pidOf(endpoint.pid, 'the endpoint')],
    },
    { name: WAYPOINT_PATH, url: `http://127.0.0.1:${PORTS.waypoint}${BENCH_PATH}`, pids: [waypointPid] },
    {
      name: ENGINE_PATH,
      url: `http://${proxy.ip}:${PORTS.engine}${BENCH_PATH}`,
      pids: [pidOf(engine.pid, 'the L7 engine')],
    },
    { name: NGINX_PATH, url: `http://${proxy.ip}:${PORTS.nginx}${BENCH_PATH}`, pids: [proxyPid] },
    {
      name: NODE_HTTP_PATH,
      url: `http://${proxy.ip}:${PORTS.nodeHttp}${BENCH_PATH}`,
      pids: [pidOf(nodeHttp.pid, 'the plain Node http proxy')],
    },
  ];
  for (const p of paths) {
    const body = await net.waitForHttp(client.ns, p.url);
    if (body.length !== 1024)
      throw new MeshError('BENCH_PATH_BROKEN', `${p.name} answered ${body.length} bytes, expected 1024`, {
        hint: `see the logs in ${dir}`,
      });
  }
  return { paths, waypointPid, stopWaypoint: () => net.stop(waypoint, 12_000) };
}
