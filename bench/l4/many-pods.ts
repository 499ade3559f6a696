/**
 * `agent_rss_mb_100_pods`: one agent process capturing 100 pods on its node (100 namespaces,
 * each with the capture rules and the three listeners, each pod its own service account and so
 * its own certificate), measured idle once every pod is captured and every certificate held.
 */
import { join } from 'node:path';

import type { CertificateAuthority } from '../../certs/index.ts';
import type { NetnsLab, TestNetns } from '../../test/helpers/netns.ts';
import { startAgent } from './agents.ts';
import { rssMb, type ProcessGroup } from './procs.ts';
import { benchSnapshot, benchWorkload } from './topology.ts';

/** Namespaces created at once (each is a few `ip` commands). */
const CREATE_CONCURRENCY = 10;
/** How long the agent settles after `ready` before RSS is read. */
const SETTLE_MS = 2000;

/** The pod IP of pod `i` (0-based): only written into the snapshot, never to a link. */
export function manyPodIp(i: number): string {
  return `10.250.${201 + Math.floor(i / 250)}.${(i % 250) + 1}`;
}

/** Creates `count` pods, starts an agent capturing all of them, and returns its RSS in MiB. */
export async function agentRssWithPods(
  lab: NetnsLab,
  procs: ProcessGroup,
  ca: CertificateAuthority,
  dir: string,
  count: number,
): Promise<{ rssMb: number; pid: number }> {
  const namespaces: TestNetns[] = [];
  for (let i = 0; i < count; i += CREATE_CONCURRENCY) {
    const batch = Math.min(CREATE_CONCURRENCY, count - i);
    namespaces.push(...(await Promise.all(Array.from({ length: batch }, () => lab.createNetns()))));
  }
  const workloads = namespaces.map((_, i) => benchWorkload(`pod-${i}`, 'node-c', manyPodIp(i)));
  const child = await startAgent(procs, {
    dir: join(dir, 'agent-node-c'),
    snapshot: benchSnapshot('node-c', workloads),
    pods: workloads.map((w, i) => ({
      uid: w.uid,
      namespace: w.namespace,
      name: w.name,
      ips: w.ips,
      nsPath: namespaces[i]?.path ?? '',
    })),
    ca,
    readyTimeoutMs: 120_000,
  });
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const pid = child.pid ?? -1;
  const rss = rssMb(pid);
  await procs.stop(child);
  return { rssMb: rss, pid };
}
