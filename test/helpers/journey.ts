/**
 * Shared steps of the user-journey tests (issue 7 §2, `test/e2e/journeys/`): install the mesh
 * into a lab with kubectl, deploy the journeys' sample app, call it from a client pod with curl
 * or `apps/client`, read route/policy status and Prometheus metrics, and measure how long a
 * `kubectl apply` takes to show in traffic.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { errorMessage } from '../../common/errors.ts';
import { programArgv } from '../../lab/programs.ts';
import { WAYMESH, type TestLab } from './lab.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/** `manifests/install.yaml` of this checkout. */
export const INSTALL = join(ROOT, 'manifests', 'install.yaml');
/** The lab's Redis and trace sink (`manifests/lab/addons.yaml`). */
export const LAB_ADDONS = join(ROOT, 'manifests', 'lab', 'addons.yaml');

/** Polls `probe` every 250 ms until it returns a value; rethrows the last error on timeout. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${errorMessage(last)}`}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** `kubectl apply -f manifests/install.yaml` (plus the lab addons) and waits for every component. */
export async function installMesh(lab: TestLab, opts: { addons?: boolean } = {}): Promise<void> {
  await lab.kubectl('apply', '-f', INSTALL);
  if (opts.addons === true) await lab.kubectl('apply', '-f', LAB_ADDONS);
  const rollouts = ['daemonset/waymesh-node-agent', 'deployment/waymesh-controller'];
  if (opts.addons === true) rollouts.push('deployment/redis');
  for (const r of rollouts)
    await lab.kubectl('-n', 'waymesh-system', 'rollout', 'status', r, '--timeout=90s');
}

/** `kubectl apply -f -` of a YAML string; returns kubectl's output. */
export function apply(lab: TestLab, yaml: string): string {
  return lab.kubectlIn(yaml, 'apply', '-f', '-');
}

/** `kubectl get … -o json`, parsed. */
export async function getJson<T>(lab: TestLab, ...args: string[]): Promise<T> {
  return JSON.parse(await lab.kubectl('get', ...args, '-o', 'json')) as T;
}

/** One status condition as `status/reason`, keyed by type. */
export type Conditions = Record<string, string>;

interface Condition {
  type: string;
  status: string;
  reason: string;
}

/** The conditions waymesh wrote on a route (`status.parents[]` with our controllerName). */
export async function routeConditions(
  lab: TestLab,
  kind: 'httproute' | 'grpcroute',
  ns: string,
  name: string,
): Promise<Conditions> {
  const r = await getJson<{
    status?: { parents?: { controllerName: string; conditions?: Condition[] }[] };
  }>(lab, '-n', ns, kind, name);
  const ours = r.status?.parents?.find((p) => p.controllerName === 'waymesh.io/mesh-controller');
  return Object.fromEntries((ours?.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
}

/** Waits until a route has status `Accepted` written, then returns its conditions. */
export function settledRoute(
  lab: TestLab,
  kind: 'httproute' | 'grpcroute',
  ns: string,
  name: string,
  type = 'Accepted',
): Promise<Conditions> {
  return eventually(`${kind} ${ns}/${name} ${type}`, async () => {
    const c = await routeConditions(lab, kind, ns, name);
    return c[type] === undefined ? undefined : c;
  });
}

/** The conditions of a GEP-713 policy, one `Accepted` per ancestor name. */
export async function policyAccepted(
  lab: TestLab,
  kind: string,
  ns: string,
  name: string,
): Promise<Conditions> {
  const p = await getJson<{
    status?: { ancestors?: { ancestorRef: { name: string }; conditions?: Condition[] }[] };
  }>(lab, '-n', ns, kind, name);
  return Object.fromEntries(
    (p.status?.ancestors ?? []).map((a) => {
      const c = a.conditions?.find((x) => x.type === 'Accepted');
      return [a.ancestorRef.name, c === undefined ? '' : `${c.status}/${c.reason}`];
    }),
  );
}

/** IPs of the pods matching a label selector (`hostIP` for host-network pods). */
export async function podIps(lab: TestLab, ns: string, selector: string, field = 'podIP'): Promise<string[]> {
  const out = await lab.kubectl(
    '-n',
    ns,
    'get',
    'pods',
    '-l',
    selector,
    '-o',
    `jsonpath={.items[*].status.${field}}`,
  );
  return out
    .trim()
    .split(/\s+/)
    .filter((s) => s !== '');
}

/** An HTTP answer seen by curl inside a pod. */
export interface CurlAnswer {
  readonly status: number;
  /** Lower-case names; the last value of a repeated header. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * `curl -si URL extra…` inside `pod` (NS/NAME); rejects on a transport failure (curl exit ≠ 0),
 * so a refused or reset connection is a rejection.
 */
export async function curl(lab: TestLab, pod: string, url: string, ...extra: string[]): Promise<CurlAnswer> {
  const raw = await lab.exec(pod, 'curl', '-si', '-m', '10', ...extra, url);
  return parseCurl(raw);
}

/** Parses `curl -i` output (the last response block when curl followed interim responses). */
export function parseCurl(raw: string): CurlAnswer {
  const split = raw.indexOf('\r\n\r\n');
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split + 4);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers, body };
}

/** What the echo app reports about the request it served. */
export interface EchoFacts {
  readonly pod: string;
  readonly path: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly remoteAddr: string;
}

/** The echo JSON of a curl answer (throws with the answer when it is not echo's). */
export function echoFacts(a: CurlAnswer): EchoFacts {
  try {
    return JSON.parse(a.body) as EchoFacts;
  } catch {
    throw new Error(`expected an echo answer, got ${a.status}: ${a.body.slice(0, 200)}`);
  }
}

/** One JSON line of `apps/client`. */
export interface ClientLine {
  readonly seq: number;
  readonly status?: number;
  readonly grpcStatus?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly error?: { code: string; message: string };
}

/** Runs `apps/client URL args…` inside `pod` and returns its lines. */
export async function runClient(
  lab: TestLab,
  pod: string,
  url: string,
  ...args: string[]
): Promise<ClientLine[]> {
  const out = await lab.exec(pod, ...programArgv('apps/client/main.ts', [url, ...args]));
  return out
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ClientLine);
}

/** Scrapes `http://<ip>:15020/metrics` of every address from inside `pod`, concatenated. */
export async function scrape(lab: TestLab, pod: string, ips: readonly string[]): Promise<string> {
  // One exec for all addresses: each `lab exec` starts a Node process.
  const script = 'for ip; do curl -sf "http://$ip:15020/metrics" || exit 1; echo; done';
  return lab.exec(pod, 'sh', '-c', script, 'scrape', ...ips);
}

const VERSION_INFO = /^waymesh_config_version_info\{version="([^"]*)"\} 1$/;
// One line per address, in order: its applied-version sample, or `-` (no answer, no version).
const VERSIONS =
  'for ip; do v=$(curl -sf "http://$ip:15020/metrics" | ' +
  'grep -E \'^waymesh_config_version_info[{]version="[^"]*"[}] 1$\' | head -n 1); ' +
  'echo "${v:--}"; done';

/** The waypoint replicas' label (the Gateway's name). */
export const WAYPOINT_PODS = 'gateway.networking.k8s.io/gateway-name=waypoint';

/**
 * Waits until every proxy at `ips` has applied the same config version (its
 * `waymesh_config_version_info` on 15020, scraped from inside `from`) and returns it. A change
 * seen once through the mesh may have reached only the replica that answered; this is when all
 * have it. `ips` defaults to the replicas of waypoint `waypoint` in `shop`.
 */
export async function configConverged(
  lab: TestLab,
  from: string,
  ips?: readonly string[],
  timeoutMs = 30_000,
): Promise<string> {
  const targets = ips ?? (await podIps(lab, 'shop', WAYPOINT_PODS));
  return eventually(
    `one config version on ${targets.join(', ')}`,
    async () => {
      // One exec for all proxies: each `lab exec` starts a Node process.
      const lines = (await lab.exec(from, 'sh', '-c', VERSIONS, 'versions', ...targets)).trim().split('\n');
      const versions = targets.map((_, i) => VERSION_INFO.exec(lines[i] ?? '')?.[1] ?? '');
      const first = versions[0] ?? '';
      if (first !== '' && versions.every((v) => v === first)) return first;
      // Thrown, not returned: the timeout's message then says which replica held which version.
      throw new Error(
        `versions ${targets.map((ip, i) => `${ip}=${(versions[i] || '-').slice(0, 12)}`).join(', ')}`,
      );
    },
    timeoutMs,
  );
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([0-9.eE+-]+|NaN|\+Inf)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Sum of the samples of `name` whose labels include every pair of `labels`. */
export function metricSum(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(LABEL)) have.set(l[1] ?? '', l[2] ?? '');
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

// The poller runs in the client pod: it first checks the behaviour is not yet there, prints
// `ready`, then curls every ~30 ms and prints the host clock (ms) when the pattern shows.
const POLLER = `p="$1"; shift
if curl -s -i -m 2 "$@" | grep -qiE -- "$p"; then echo already; exit 3; fi
echo ready
i=0
while [ $i -lt 400 ]; do
  if curl -s -i -m 2 "$@" | grep -qiE -- "$p"; then date +%s%3N; exit 0; fi
  i=$((i+1)); sleep 0.03
done
echo timeout; exit 1`;

/**
 * Milliseconds from the end of `change()` (a `kubectl apply`) until `curl -si curlArgs…` from
 * `pod` shows `pattern` (an extended regex, case-insensitive, over status line, headers and
 * body). The poller starts first and fails if the pattern is already there.
 */
export async function msUntilSeen(
  lab: TestLab,
  pod: string,
  change: () => void,
  pattern: string,
  ...curlArgs: string[]
): Promise<number> {
  const child = spawn(
    process.execPath,
    [WAYMESH, 'lab', 'exec', pod, '--name', lab.name, '--', 'sh', '-c', POLLER, 'poll', pattern, ...curlArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? -1)));
  const ready = await Promise.race([
    eventually('the poller', () => Promise.resolve(out.startsWith('ready') ? true : undefined), 30_000),
    exited.then((code) => {
      throw new Error(`poller exited ${code} before the change: ${out}${err}`);
    }),
  ]);
  if (ready !== true) throw new Error('poller did not start');
  let changedAt = 0;
  try {
    change();
    changedAt = Date.now();
  } catch (e) {
    child.kill();
    throw e;
  }
  const code = await exited;
  const seenAt = Number(out.trim().split('\n').at(-1));
  if (code !== 0 || !Number.isFinite(seenAt))
    throw new Error(`${pattern} not seen after the change (exit ${code}): ${out}${err}`);
  return seenAt - changedAt;
}

/** Deployment `name` in `shop` (sa echo) of one `waymesh/echo` replica with `args` and pod `labels`. */
export function echoDeployment(name: string, labels: string, args: string, env = ''): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: shop }
spec:
  replicas: 1
  selector: { matchLabels: { ${labels} } }
  template:
    metadata: { labels: { ${labels} } }
    spec:
      serviceAccountName: echo
      containers:
      - name: echo
        image: waymesh/echo:latest
        args: [${args}]
        env:
        - { name: POD_NAME, valueFrom: { fieldRef: { fieldPath: metadata.name } } }
        - { name: POD_NAMESPACE, valueFrom: { fieldRef: { fieldPath: metadata.namespace } } }${env}
        ports: [{ name: http, containerPort: 8080 }, { name: grpc, containerPort: 9090 }]
        readinessProbe: { httpGet: { path: /, port: 8080 }, periodSeconds: 2 }
`;
}

/** Service `name` in `shop` on `port`, to the pods' port named `portName` (also its appProtocol). */
export function service(name: string, selector: string, port: number, portName: 'http' | 'grpc'): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: shop }
spec:
  selector: { ${selector} }
  ports: [{ name: ${portName}, port: ${port}, targetPort: ${portName}, appProtocol: ${portName} }]
`;
}

/**
 * The journeys' app. Namespace `shop`: pod `client` (sa client), echo v1 and v2 (sa echo) behind
 * Services `echo`/`echo-v2` (HTTP 80) and `echo-grpc`/`echo-grpc-v2` (gRPC 9090), and
 * `echo-extra` (debug request log; a mirror target, and a Service without waypoint). Namespace
 * `other`: pod `client` (sa client). Both namespaces are ambient when `ambient` is set.
 */
export function journeyApp(ambient: boolean): string {
  const labels = ambient ? '\n  labels: { waymesh.io/dataplane-mode: ambient }' : '';
  const ns = (n: string): string => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${n}${labels}\n`;
  const sa = (n: string, name: string): string =>
    `apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: ${name}, namespace: ${n} }\n`;
  const client = (n: string): string => `apiVersion: v1
kind: Pod
metadata: { name: client, namespace: ${n} }
spec:
  serviceAccountName: client
  containers: [{ name: client, image: waymesh/client:latest }]
`;
  const grpcArgs = '"--http-port", "8080", "--grpc-port", "9090"';
  return [
    ns('shop'),
    ns('other'),
    sa('shop', 'client'),
    sa('shop', 'echo'),
    sa('other', 'client'),
    echoDeployment('echo', 'app: echo, version: v1', grpcArgs),
    echoDeployment('echo-v2', 'app: echo, version: v2', grpcArgs),
    echoDeployment(
      'echo-extra',
      'app: echo-extra',
      grpcArgs,
      '\n        - { name: WAYMESH_LOG_LEVEL, value: debug }',
    ),
    service('echo', 'app: echo, version: v1', 80, 'http'),
    service('echo-v2', 'app: echo, version: v2', 80, 'http'),
    service('echo-extra', 'app: echo-extra', 80, 'http'),
    service('echo-grpc', 'app: echo, version: v1', 9090, 'grpc'),
    service('echo-grpc-v2', 'app: echo, version: v2', 9090, 'grpc'),
    client('shop'),
    client('other'),
  ].join('---\n');
}

/** Applies {@link journeyApp} and waits for its pods to be Ready. */
export async function deployJourneyApp(lab: TestLab, ambient: boolean): Promise<void> {
  apply(lab, journeyApp(ambient));
  for (const ns of ['shop', 'other'])
    await lab.kubectl('-n', ns, 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=90s');
}

/** The PEM in ConfigMap `waymesh-system/waymesh-ca-root-cert` (the roots the controller publishes). */
export function rootCertPem(lab: TestLab): Promise<string> {
  return lab.kubectl(
    '-n',
    'waymesh-system',
    'get',
    'configmap',
    'waymesh-ca-root-cert',
    '-o',
    'jsonpath={.data.root-cert\\.pem}',
  );
}

/** Waypoint `Gateway` `waypoint` in `shop`, as a user writes it. */
export const WAYPOINT = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: waypoint, namespace: shop }
spec:
  gatewayClassName: waymesh-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
`;

/** Creates the waypoint, waits for `Programmed`, and labels `services` (in shop) to use it. */
export async function createWaypoint(lab: TestLab, services: readonly string[]): Promise<void> {
  apply(lab, WAYPOINT);
  await lab.kubectl('-n', 'shop', 'wait', '--for=condition=Programmed', 'gateway/waypoint', '--timeout=90s');
  await lab.kubectl('-n', 'shop', 'label', 'service', ...services, 'waymesh.io/use-waypoint=waypoint');
}

/**
 * Adds the experimental-channel `retry` field (Gateway API v1.2, GEP-1731) to the lab's
 * HTTPRoute CRD, as installing upstream's experimental bundle would; the standard channel the
 * lab starts with prunes it.
 */
export async function enableRouteRetry(lab: TestLab): Promise<void> {
  interface Crd {
    spec: { versions: { schema: { openAPIV3Schema: { properties: Record<string, RuleProps> } } }[] };
  }
  interface RuleProps {
    properties: { rules: { items: { properties: Record<string, unknown> } } };
  }
  const crd = await getJson<Crd>(lab, 'crd', 'httproutes.gateway.networking.k8s.io');
  for (const v of crd.spec.versions) {
    const spec = v.schema.openAPIV3Schema.properties['spec'];
    if (spec === undefined) throw new Error('HTTPRoute CRD without spec schema');
    spec.properties.rules.items.properties['retry'] = {
      type: 'object',
      properties: {
        attempts: { type: 'integer', minimum: 0 },
        backoff: { type: 'string', pattern: '^([0-9]{1,5}(h|m|s|ms)){1,4}$' },
        codes: { type: 'array', items: { type: 'integer', minimum: 400, maximum: 599 } },
      },
    };
  }
  lab.kubectlIn(JSON.stringify(crd), 'replace', '-f', '-');
}
