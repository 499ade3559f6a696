/**
 * Sends the demo's traffic from the client pod and collects what the proxies recorded: the
 * client's own measurements (which version answered, latency) and the identity metrics every
 * node agent and waypoint exposes on :15020.
 */
import { MeshError } from '../../common/errors.ts';
import { APP_NS } from './mesh.ts';
import { parseMetrics, type MetricSample } from './metrics.ts';
import type { Runner } from './run.ts';
import { parseClientOutput, type Sample } from './traffic.ts';

/** The client pod, as `waymesh lab exec` names it. */
export const CLIENT_POD = `${APP_NS}/client`;

/** What the demo sent and what came back. */
export interface Traffic {
  /** Plain requests to http://echo.demo/ (the 90/10 rule). */
  readonly split: readonly Sample[];
  /** Requests with `x-version: v2` (the header rule). */
  readonly header: readonly Sample[];
  /** gRPC Echo calls to echo-grpc.demo:9090 (the GRPCRoute). */
  readonly grpc: readonly Sample[];
}

/** Runs the three batches of requests at once (they share the waypoint, not each other's results). */
export async function sendTraffic(runner: Runner, splitCount: number): Promise<Traffic> {
  const run = async (args: string[]): Promise<Sample[]> =>
    parseClientOutput((await runner.client(CLIENT_POD, args, { timeoutMs: 60_000 })).stdout);
  const [split, header, grpc] = await Promise.all([
    run(['http://echo.demo/', '--count', String(splitCount), '--concurrency', '8']),
    run(['http://echo.demo/', '--count', '20', '-H', 'x-version: v2']),
    run(['grpc://echo-grpc.demo:9090', '--grpc', '--count', '20', '--data', 'hello from the demo']),
  ]);
  return { split, header, grpc };
}

/** Throws unless every request succeeded through the waypoint and each rule picked its backend. */
export function checkTraffic(t: Traffic): void {
  const all = [...t.split, ...t.header];
  const bad = all.find((s) => s.status !== 200) ?? t.grpc.find((s) => s.status !== 0);
  if (bad !== undefined)
    throw new MeshError(
      'DEMO_TRAFFIC',
      `a request was answered with status ${bad.status} (pod ${bad.pod || '-'})`,
      {
        hint: 'see the waypoint access log: `waymesh lab logs demo/<waypoint pod>`',
      },
    );
  const direct = [...all, ...t.grpc].filter((s) => !s.viaWaypoint).length;
  if (direct > 0)
    throw new MeshError('DEMO_TRAFFIC', `${direct} request(s) reached echo without passing the waypoint`, {
      hint: 'is namespace demo labelled waymesh.io/use-waypoint=waypoint, and is every proxy SYNCED in `waymesh status`?',
    });
  const wrongHeader = t.header.filter((s) => !s.pod.startsWith('echo-v2-')).length;
  if (wrongHeader > 0)
    throw new MeshError(
      'DEMO_TRAFFIC',
      `${wrongHeader} of ${t.header.length} requests with x-version: v2 did not reach echo-v2`,
    );
  const wrongGrpc = t.grpc.filter((s) => !s.pod.startsWith('echo-v1-')).length;
  if (wrongGrpc > 0)
    throw new MeshError(
      'DEMO_TRAFFIC',
      `${wrongGrpc} of ${t.grpc.length} gRPC calls did not reach echo-v1 (GRPCRoute backend echo-grpc-v1)`,
    );
}

const METRICS = new Set(['waymesh_requests_total', 'waymesh_tcp_connections_opened_total']);

/**
 * Scrapes :15020/metrics of every node agent and every waypoint pod of the app namespace with one
 * `curl` run in a node agent's network namespace (the node's, which reaches pods and nodes
 * alike and is not captured by the mesh).
 */
export async function scrapeIdentities(runner: Runner): Promise<MetricSample[]> {
  const agents = await podIps(runner, 'waymesh-system', 'app.kubernetes.io/name=waymesh-node-agent');
  const waypoints = await podIps(runner, APP_NS, 'waymesh.io/waypoint=true');
  const first = agents[0];
  if (first === undefined)
    throw new MeshError('DEMO_METRICS', 'no node agent pod found in waymesh-system', {
      hint: 'kubectl -n waymesh-system get daemonset waymesh-node-agent',
    });
  const urls = [...agents, ...waypoints].map((p) => `http://${p.ip}:15020/metrics`);
  const res = await runner.labExec(`waymesh-system/${first.name}`, [
    'curl',
    '-sSf',
    '--max-time',
    '5',
    ...urls,
  ]);
  return parseMetrics(res.stdout, METRICS);
}

/** Names and IPs of the running pods in `ns` matching `selector`. */
async function podIps(runner: Runner, ns: string, selector: string): Promise<{ name: string; ip: string }[]> {
  const res = await runner.kubectl([
    '-n',
    ns,
    'get',
    'pods',
    '-l',
    selector,
    '-o',
    'jsonpath={range .items[*]}{.metadata.name} {.status.podIP}{"\\n"}{end}',
  ]);
  return res.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[1] !== undefined && f[1] !== '')
    .map(([name, ip]) => ({ name: name ?? '', ip: ip ?? '' }));
}
