/**
 * Shared steps of the resilience tests (issue 7 §4, `test/e2e/resilience/`): a two-node app with
 * pods pinned to nodes, long-running probes inside pods (a held TCP connection, a paced HTTP
 * stream, a connect poller) whose lines are timestamped as they arrive, and the process control
 * the tests need (force-delete, replicas, pod facts, restarting the lab's control plane).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { programArgv } from '../../lab/programs.ts';
import { apply, createWaypoint, eventually, getJson, installMesh } from './journey.ts';
import { WAYMESH, type TestLab } from './lab.ts';

/** Name of lab node `i` (1-based), as the lab's bootstrap names it. */
export function labNode(lab: TestLab, i: number): string {
  return `${lab.name}-node${i}`;
}

/**
 * The resilience app. Namespace `shop` (ambient): echo pods `echo-1`/`echo-2` pinned to nodes 1
 * and 2 (HTTP 8080, TCP echo 9000) behind Service `echo` (both; HTTP 80, TCP 9000) and Service
 * `echo-2` (node 2 only); idle pods `client-1`/`client-2` on nodes 1 and 2. Namespace `plain`
 * (not captured): pod `client` on node 1, for raw bytes that must not be redirected.
 */
export function resilienceApp(lab: TestLab): string {
  const echo = (i: number): string => `apiVersion: apps/v1
kind: Deployment
metadata: { name: echo-${i}, namespace: shop }
spec:
  replicas: 1
  selector: { matchLabels: { app: echo, node: n${i} } }
  template:
    metadata: { labels: { app: echo, node: n${i} } }
    spec:
      nodeName: ${labNode(lab, i)}
      serviceAccountName: echo
      containers:
      - name: echo
        image: waymesh/echo:latest
        args: ["--http-port", "8080", "--tcp-port", "9000"]
        env:
        - { name: POD_NAME, valueFrom: { fieldRef: { fieldPath: metadata.name } } }
        ports: [{ name: http, containerPort: 8080 }, { name: tcp, containerPort: 9000 }]
        readinessProbe: { httpGet: { path: /, port: 8080 }, periodSeconds: 2 }
`;
  const service = (name: string, selector: string): string => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: shop }
spec:
  selector: { ${selector} }
  ports:
  - { name: http, port: 80, targetPort: http, appProtocol: http }
  - { name: tcp-echo, port: 9000, targetPort: tcp }
`;
  const client = (ns: string, name: string, node: number): string => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${ns} }
spec:
  nodeName: ${labNode(lab, node)}
  serviceAccountName: ${ns === 'shop' ? 'client' : 'default'}
  containers: [{ name: client, image: waymesh/client:latest }]
`;
  return [
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: { waymesh.io/dataplane-mode: ambient }\n',
    'apiVersion: v1\nkind: Namespace\nmetadata: { name: plain }\n',
    'apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: client, namespace: shop }\n',
    'apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: echo, namespace: shop }\n',
    echo(1),
    echo(2),
    service('echo', 'app: echo'),
    service('echo-2', 'app: echo, node: n2'),
    client('shop', 'client-1', 1),
    client('shop', 'client-2', 2),
    client('plain', 'client', 1),
  ].join('---\n');
}

/**
 * Installs the mesh (with the lab addons when asked), deploys {@link resilienceApp}, creates the
 * waypoint `shop/waypoint` for Service `echo`, and waits until echo answers through it.
 */
export async function setUpResilienceLab(lab: TestLab, opts: { addons?: boolean } = {}): Promise<void> {
  await installMesh(lab, opts);
  apply(lab, resilienceApp(lab));
  for (const ns of ['shop', 'plain'])
    await lab.kubectl('-n', ns, 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=90s');
  await createWaypoint(lab, ['echo']);
  await lab.kubectl('-n', 'shop', 'rollout', 'status', 'deployment/waypoint', '--timeout=90s');
  await eventually('echo through the waypoint', () =>
    lab.exec('shop/client-1', 'curl', '-sf', '-m', '5', 'http://echo/'),
  );
}

/** The facts of one pod the tests look at. */
export interface PodFacts {
  readonly name: string;
  readonly uid: string;
  readonly ip: string;
  readonly node: string;
  readonly ready: boolean;
  /** When it last became Ready (ms since the epoch, second precision), or NaN. */
  readonly readySince: number;
  readonly restarts: number;
  readonly terminating: boolean;
}

interface RawPod {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status?: {
    podIP?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    containerStatuses?: { restartCount: number }[];
  };
}

/** The pods of `ns` matching `selector`, sorted by name. */
export async function podFacts(lab: TestLab, ns: string, selector: string): Promise<PodFacts[]> {
  const list = await getJson<{ items: RawPod[] }>(lab, '-n', ns, 'pods', '-l', selector);
  return list.items
    .map((p) => {
      const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
      return {
        name: p.metadata.name,
        uid: p.metadata.uid,
        ip: p.status?.podIP ?? '',
        node: p.spec.nodeName ?? '',
        ready: ready?.status === 'True' && p.metadata.deletionTimestamp === undefined,
        readySince: Date.parse(ready?.lastTransitionTime ?? ''),
        restarts: (p.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0),
        terminating: p.metadata.deletionTimestamp !== undefined,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Kills pods at once: `kubectl delete pod … --grace-period=0 --force`. */
export async function forceDelete(lab: TestLab, ns: string, ...pods: string[]): Promise<void> {
  // A pod already gone (its Deployment scaled to 0 meanwhile) is the state asked for.
  await lab.kubectl(
    '-n',
    ns,
    'delete',
    'pod',
    ...pods,
    '--grace-period=0',
    '--force',
    '--wait=false',
    '--ignore-not-found',
  );
}

/** Sets a Deployment's replicas with `kubectl patch`. */
export async function setReplicas(lab: TestLab, ns: string, deployment: string, n: number): Promise<void> {
  await lab.kubectl(
    '-n',
    ns,
    'patch',
    'deployment',
    deployment,
    '-p',
    JSON.stringify({ spec: { replicas: n } }),
  );
}

/** One output line of a background probe, with the test's clock when it arrived. */
export interface Line {
  readonly at: number;
  readonly text: string;
}

/** A command running inside a pod until it exits or is stopped. */
export interface Background {
  readonly lines: readonly Line[];
  /** Resolves with the exit code (null when stopped by a signal). */
  readonly exited: Promise<number | null>;
  /** True once the process ended. */
  readonly ended: () => boolean;
  /** stderr so far (for failure messages). */
  readonly stderr: () => string;
  /** Stops the whole process group (exec, `ip netns exec` and the command); idempotent. */
  readonly stop: () => Promise<void>;
}

/** Starts `waymesh lab exec POD -- cmd…` in its own process group, collecting stdout lines. */
export function background(lab: TestLab, pod: string, ...cmd: string[]): Background {
  const child = spawn(process.execPath, [WAYMESH, 'lab', 'exec', pod, '--name', lab.name, '--', ...cmd], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const lines: Line[] = [];
  let partial = '';
  let err = '';
  let done = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const at = Date.now();
    const parts = (partial + d).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) if (text !== '') lines.push({ at, text });
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      done = true;
      resolve(code);
    }),
  );
  return {
    lines,
    exited,
    ended: () => done,
    stderr: () => err,
    stop: async () => {
      if (!done && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      await exited;
    },
  };
}

// Holds one TCP connection to the echo port and round-trips a numbered line every 100 ms,
// printing `ok N ms` (host clock) or `fail N ms why` and exiting on the first failure.
const HOLD_TCP = `exec 3<>"/dev/tcp/$1/$2" || { echo "fail 0 $(date +%s%3N) connect"; exit 1; }
i=0
while :; do
  i=$((i+1))
  echo "ping $i" >&3 || { echo "fail $i $(date +%s%3N) write"; exit 1; }
  if ! read -r -t 3 line <&3; then echo "fail $i $(date +%s%3N) read"; exit 1; fi
  [ "$line" = "ping $i" ] || { echo "fail $i $(date +%s%3N) got:$line"; exit 1; }
  echo "ok $i $(date +%s%3N)"
  sleep 0.1
done`;

/** A held TCP connection from `pod` to `host:port` (the echo app's TCP port). */
export function holdTcp(lab: TestLab, pod: string, host: string, port: number): Background {
  return background(lab, pod, 'bash', '-c', HOLD_TCP, 'hold', host, String(port));
}

/** What a held connection saw: round trips, the first failure, the longest gap between answers. */
export interface HoldReport {
  readonly ok: number;
  readonly failure: string | undefined;
  readonly maxGapMs: number;
}

/** Summarises a {@link holdTcp} probe. */
export function holdReport(bg: Background): HoldReport {
  let ok = 0;
  let failure: string | undefined;
  let maxGapMs = 0;
  let last = NaN;
  for (const { text } of bg.lines) {
    const [kind, , ms] = text.split(' ');
    if (kind === 'fail') failure ??= text;
    if (kind !== 'ok') continue;
    ok++;
    const t = Number(ms);
    if (Number.isFinite(last)) maxGapMs = Math.max(maxGapMs, t - last);
    last = t;
  }
  return { ok, failure, maxGapMs };
}

/** Waits until a held connection has completed `n` round trips (or fails). */
export async function holdEstablished(bg: Background, n = 3): Promise<void> {
  await eventually(
    'the held TCP connection',
    () => {
      const r = holdReport(bg);
      if (r.failure !== undefined || bg.ended())
        throw new Error(`held connection failed: ${r.failure ?? 'exited'} ${bg.stderr()}`);
      return Promise.resolve(r.ok >= n ? true : undefined);
    },
    30_000,
  );
}

/** One `apps/client` answer with when it was sent and answered (test clock, ms). */
export interface StreamResult {
  readonly seq: number;
  readonly status?: number;
  readonly error?: { code: string; message: string };
  readonly headers?: Readonly<Record<string, string>>;
  readonly startAt: number;
  readonly endAt: number;
}

/** Runs `apps/client URL args…` in `pod` in the background. */
export function httpStream(lab: TestLab, pod: string, url: string, ...args: string[]): Background {
  return background(lab, pod, ...programArgv('apps/client/main.ts', [url, ...args]));
}

/** The parsed lines of an {@link httpStream}, in arrival order. */
export function streamResults(bg: Background): StreamResult[] {
  return bg.lines.map(({ at, text }) => {
    const j = JSON.parse(text) as Omit<StreamResult, 'startAt' | 'endAt'> & { latencyMs?: number };
    return { ...j, startAt: at - (j.latencyMs ?? 0), endAt: at };
  });
}

/** The failed results (transport errors or a 5xx) of a stream. */
export function failures(results: readonly StreamResult[]): StreamResult[] {
  return results.filter((r) => r.error !== undefined || (r.status ?? 0) >= 500);
}

/** Waits until a stream has produced `n` lines (or ended). */
export async function streamStarted(bg: Background, n = 3): Promise<void> {
  await eventually(
    'the request stream',
    () => {
      if (bg.lines.length >= n) return Promise.resolve(true);
      if (bg.ended()) throw new Error(`request stream ended early: ${bg.stderr()}`);
      return Promise.resolve(undefined);
    },
    30_000,
  );
}

/** Pids of this lab's API forwarder (the in-lab address of the API server, `lab/forward`). */
export function apiForwarderPids(lab: TestLab): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    // `ip netns exec <core> node … lab/forward/main.ts …` and the node process it became.
    if (argv[0] === 'ip') continue;
    const forwarder = argv.some((a) => /lab\/forward\/main\.[jt]s$/.test(a));
    if (forwarder && argv.some((a) => a.startsWith(lab.dir))) pids.push(Number(entry));
  }
  return pids;
}

/**
 * Restarts the lab's API server the only way the lab allows: kills its supervisor (which runs
 * the API server) and runs `waymesh lab up` again, which restores the stored objects.
 */
export async function restartSupervisor(lab: TestLab): Promise<void> {
  const rec = JSON.parse(readFileSync(`/run/waymesh/labs/${lab.name}.json`, 'utf8')) as {
    supervisorPid: number;
  };
  process.kill(rec.supervisorPid, 'SIGKILL');
  await sleep(500);
  await lab.waymesh('up');
}
