/**
 * One node agent of the `l4` benchmark as its own process, so its CPU and RSS are its own:
 * `node dist/bench/l4/agent-process.js <dir>` (compiled, as the image runs the agent; see ../build.ts). Reads from `<dir>` a node snapshot
 * (`snapshot.json`), the pods to capture with their namespace paths (`pods.json`) and the CA
 * files (FileCaStore layout); builds the identity manager (in-process CA), proxy handler and
 * capture manager as the real agent does; captures every pod, waits for their certificates and
 * prints `ready <pods>` on stdout. SIGTERM closes the listeners, drains and exits 0 (so that
 * `--cpu-prof` writes its profile); the bench deletes the namespaces with their rules.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// Specific modules, not certs/index.ts (nor ./agents.ts, which imports it): the index also loads
// the CA's gRPC service (grpc-js, protobufjs), ~12 MB of RSS this process has no use for.
import { loadOrCreateCa } from '../../certs/ca.ts';
import { FileCaStore } from '../../certs/store.ts';
import { errorMessage, MeshError } from '../../common/errors.ts';
import type { NodeSnapshot } from '../../common/ir/index.ts';
import { Registry } from '../../common/metrics/index.ts';
import { CaptureManager } from '../../node-agent/capture/manager.ts';
import { IdentityManager } from '../../node-agent/identity/index.ts';
import { loadNativeAddon } from '../../node-agent/native/index.ts';
import { createProxyHandler } from '../../node-agent/proxy/index.ts';
import { applyAgentV8Flags } from '../../node-agent/v8-flags.ts';
import { buildNodeState } from '../../node-agent/state/index.ts';
import type { AgentPod } from './agents.ts';

/** The files `agents.ts` writes (its AGENT_FILES; repeated here, see the certs import above). */
const AGENT_FILES = { snapshot: 'snapshot.json', pods: 'pods.json' } as const;
const CAPTURE_CONCURRENCY = 8;
const IDENTITY_TIMEOUT_MS = 30_000;

async function main(dir: string): Promise<void> {
  // As node-agent/main.ts (see node-agent/v8-flags.ts).
  applyAgentV8Flags();
  loadNativeAddon();
  const snapshot = JSON.parse(readFileSync(join(dir, AGENT_FILES.snapshot), 'utf8')) as NodeSnapshot;
  const pods = JSON.parse(readFileSync(join(dir, AGENT_FILES.pods), 'utf8')) as AgentPod[];
  const ca = await loadOrCreateCa({ store: new FileCaStore(dir), trustDomain: snapshot.trustDomain });
  const registry = new Registry();
  const identities = new IdentityManager({
    trustDomain: snapshot.trustDomain,
    source: { sign: (csr) => Promise.resolve([...ca.issue(csr).certChainPem]) },
    registry,
  });
  identities.updateRoots([ca.rootsPem()]);
  const state = buildNodeState(snapshot);
  const handler = createProxyHandler({
    state: () => state,
    identities,
    registry,
    // The access log is part of the agent's per-connection cost, but its sink is not: drop it.
    accessLog: () => undefined,
  });
  const nsPaths = new Map(pods.map((p) => [p.uid, p.nsPath]));
  const capture = new CaptureManager({
    handler,
    probeSourceIps: [],
    findNetns: (pod) => {
      const path = nsPaths.get(pod.uid);
      return path === undefined
        ? Promise.reject(new MeshError('BENCH_POD_UNKNOWN', `pod ${pod.name} is not in pods.json`))
        : Promise.resolve(path);
    },
  });
  const queue = [...pods];
  const worker = async (): Promise<void> => {
    for (let pod = queue.shift(); pod !== undefined; pod = queue.shift()) await capture.capture(pod);
  };
  await Promise.all(Array.from({ length: CAPTURE_CONCURRENCY }, worker));
  const local = snapshot.workloads.filter((w) => w.node === snapshot.node && w.captured);
  await Promise.all(local.map((w) => identities.wait(w.identity, IDENTITY_TIMEOUT_MS)));
  process.stdout.write(`ready ${pods.length}\n`);

  process.once('SIGTERM', () => {
    const stop = async (): Promise<void> => {
      await capture.stop({ deadlineMs: 1000 });
      await handler.drain({ deadlineMs: 0 });
      identities.stop();
    };
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`agent stop failed: ${errorMessage(err)}\n`);
        process.exit(1);
      },
    );
  });
}

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: node dist/bench/l4/agent-process.js <dir>\n');
  process.exit(2);
}
main(dir).catch((err: unknown) => {
  process.stderr.write(`l4 agent failed: ${errorMessage(err)}\n`);
  process.exit(1);
});
