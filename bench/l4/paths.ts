/**
 * Builds the paths of the `l4` benchmark in one set of namespaces: direct (plain pair), the
 * stunnel pair (plain pair, mTLS 1.3 from a client-side to a server-side stunnel), the two node
 * agents (meshed pair: client captured by agent A on node-a, server by agent B on node-b), and,
 * for calibration, a pair of plain Node TCP relays placed as the stunnels are
 * (`relay-process.ts`). Each path names the processes whose CPU and RSS are its cost.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { issueLocalIdentity, type CertificateAuthority } from '../../certs/index.ts';
import type { NetnsLab } from '../../test/helpers/netns.ts';
import { BENCH_JS } from '../build.ts';
import { startAgent, type AgentPod } from './agents.ts';
import type { Target } from './loads.ts';
import type { ProcessGroup } from './procs.ts';
import { writeStunnelSide } from './stunnel.ts';
import {
  APP_PORT,
  benchSnapshot,
  benchWorkload,
  createPair,
  startNginx,
  TRUST_DOMAIN,
  waitListening,
  type PodPair,
} from './topology.ts';

/** One measured path: where its client sends, and the proxy processes it costs. */
export interface BenchPath {
  readonly label: string;
  readonly target: Target;
  /** The proxy processes (none for direct). */
  readonly pids: readonly number[];
}

const STUNNEL_TLS_PORT = 15443;
const STUNNEL_PLAIN_PORT = 15080;
const RELAY_SERVER_PORT = 15444;
const RELAY_CLIENT_PORT = 15081;
/** The compiled relay (`relay-process.ts`; built by `ensureBuilt`). */
const RELAY_SCRIPT = fileURLToPath(new URL(`../../${BENCH_JS.l4Relay}`, import.meta.url));

/** Everything the measurement needs. */
export interface L4Paths {
  readonly direct: BenchPath;
  readonly stunnel: BenchPath;
  readonly agents: BenchPath;
  /** Calibration only (fixed-rate runs): two Node processes that relay and do nothing else. */
  readonly nodeRelay: BenchPath;
}

/** Creates both pairs, the servers, the stunnel pair, the relay pair and the two agents. */
export async function buildPaths(
  lab: NetnsLab,
  procs: ProcessGroup,
  ca: CertificateAuthority,
  dir: string,
  cpuProfDir?: string,
): Promise<L4Paths> {
  const plain = await createPair(lab);
  const mesh = await createPair(lab);
  await startNginx(lab, plain.server, plain.serverIp, join(dir, 'nginx-plain'));
  await startNginx(lab, mesh.server, mesh.serverIp, join(dir, 'nginx-mesh'));
  const stunnelPids = await startStunnelPair(lab, plain, ca, dir);
  const relayPids = await startRelayPair(lab, plain);
  const agentPids = await startAgents(procs, mesh, ca, dir, cpuProfDir);
  return {
    direct: { label: 'direct', target: { ns: plain.client, host: plain.serverIp, port: APP_PORT }, pids: [] },
    stunnel: {
      label: 'stunnel pair',
      target: { ns: plain.client, host: '127.0.0.1', port: STUNNEL_PLAIN_PORT },
      pids: stunnelPids,
    },
    agents: {
      label: 'node agents',
      target: { ns: mesh.client, host: mesh.serverIp, port: APP_PORT },
      pids: agentPids,
    },
    nodeRelay: {
      label: 'node relay pair',
      target: { ns: plain.client, host: '127.0.0.1', port: RELAY_CLIENT_PORT },
      pids: relayPids,
    },
  };
}

async function startRelayPair(lab: NetnsLab, pair: PodPair): Promise<number[]> {
  const server = lab.spawn(pair.server, process.execPath, [
    RELAY_SCRIPT,
    `${pair.serverIp}:${RELAY_SERVER_PORT}`,
    `127.0.0.1:${APP_PORT}`,
  ]);
  await waitListening(pair.server, pair.serverIp, RELAY_SERVER_PORT, 'server-side Node relay', server);
  const client = lab.spawn(pair.client, process.execPath, [
    RELAY_SCRIPT,
    `127.0.0.1:${RELAY_CLIENT_PORT}`,
    `${pair.serverIp}:${RELAY_SERVER_PORT}`,
  ]);
  await waitListening(pair.client, '127.0.0.1', RELAY_CLIENT_PORT, 'client-side Node relay', client);
  return [client.pid ?? -1, server.pid ?? -1];
}

async function startStunnelPair(
  lab: NetnsLab,
  pair: PodPair,
  ca: CertificateAuthority,
  dir: string,
): Promise<number[]> {
  const caFile = join(dir, 'stunnel-ca.pem');
  writeFileSync(caFile, ca.rootsPem());
  const identity = (sa: string): { certChainPem: string; keyPem: string } => {
    const id = issueLocalIdentity(ca, `spiffe://${TRUST_DOMAIN}/ns/bench/sa/${sa}`);
    return { certChainPem: id.certChainPem.join(''), keyPem: id.keyPem };
  };
  const serverConf = writeStunnelSide(
    dir,
    'server',
    { accept: `${pair.serverIp}:${STUNNEL_TLS_PORT}`, connect: `127.0.0.1:${APP_PORT}` },
    identity('stunnel-server'),
    caFile,
  );
  const clientConf = writeStunnelSide(
    dir,
    'client',
    { accept: `127.0.0.1:${STUNNEL_PLAIN_PORT}`, connect: `${pair.serverIp}:${STUNNEL_TLS_PORT}` },
    identity('stunnel-client'),
    caFile,
  );
  const server = lab.spawn(pair.server, 'stunnel', [serverConf]);
  await waitListening(pair.server, pair.serverIp, STUNNEL_TLS_PORT, 'server-side stunnel', server);
  const client = lab.spawn(pair.client, 'stunnel', [clientConf]);
  await waitListening(pair.client, '127.0.0.1', STUNNEL_PLAIN_PORT, 'client-side stunnel', client);
  return [client.pid ?? -1, server.pid ?? -1];
}

async function startAgents(
  procs: ProcessGroup,
  pair: PodPair,
  ca: CertificateAuthority,
  dir: string,
  cpuProfDir: string | undefined,
): Promise<number[]> {
  const client = benchWorkload('client', 'node-a', pair.clientIp);
  const server = benchWorkload('server', 'node-b', pair.serverIp);
  const pod = (w: typeof client, nsPath: string): AgentPod => ({
    uid: w.uid,
    namespace: w.namespace,
    name: w.name,
    ips: w.ips,
    nsPath,
  });
  const pids: number[] = [];
  for (const [node, w, nsPath] of [
    ['node-a', client, pair.client.path],
    ['node-b', server, pair.server.path],
  ] as const) {
    const child = await startAgent(procs, {
      dir: join(dir, `agent-${node}`),
      snapshot: benchSnapshot(node, [client, server]),
      pods: [pod(w, nsPath)],
      ca,
      cpuProfDir,
    });
    pids.push(child.pid ?? -1);
  }
  return pids;
}
