/**
 * `npm run demo [-- --keep] [--name NAME]`: the product demo (issue 7 §1). Brings up a 2-node
 * lab, installs the mesh with kubectl, deploys a sample app (client, echo v1/v2, gRPC), joins it
 * to the mesh, creates a waypoint, attaches an HTTPRoute (header match + 90/10 split) and a
 * GRPCRoute, sends traffic, and prints the identities, the split, route statuses, latency and a
 * trace. Exits non-zero with the reason when any step or check fails. Without `--keep` the lab
 * is taken down at the end, also on failure and Ctrl-C.
 */
import { errorMessage } from '../common/errors.ts';
import { labDown, labUp, readRecord } from '../lab/index.ts';
import { CLIENT_POD, checkTraffic, scrapeIdentities, sendTraffic, type Traffic } from './demo/collect.ts';
import { APP_NS, applyAll, attachRoutes, createWaypoint, joinMesh, waitReady } from './demo/mesh.ts';
import { checkIdentities, identityRows } from './demo/metrics.ts';
import { Progress } from './demo/progress.ts';
import { exploreLines, identityLines, latencyLine, routeLines, splitLines } from './demo/report.ts';
import { checkRoutes, routeStatusRows } from './demo/routes.ts';
import { Runner } from './demo/run.ts';
import { LAB_ADDONS, addonsMissing, lastTraceWaterfall } from './demo/traces.ts';
import { checkSplit, percentiles, splitRows } from './demo/traffic.ts';

const USAGE = `Usage: npm run demo [-- --keep] [--name NAME]
  --keep       leave the lab running and print the commands to explore it
  --name NAME  the lab's name (default "demo")`;

/** The HTTPRoute's weights (manifests/samples/demo/routes.yaml) and the allowed deviation. */
const WEIGHTS = { v1: 90, v2: 10 };
const TOLERANCE_PCT = 6;
const SPLIT_REQUESTS = 300;

interface Options {
  readonly keep: boolean;
  readonly name: string;
}

function parseOptions(argv: readonly string[]): Options | undefined {
  let keep = false;
  let name = 'demo';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--keep') keep = true;
    else if (a === '--name' && argv[i + 1] !== undefined) name = argv[++i] ?? name;
    else return undefined;
  }
  return { keep, name };
}

/** Runs the demo's steps; results are printed as sections and checked after printing. */
async function runDemo(opts: Options, progress: Progress, runner: Runner): Promise<void> {
  const previous = await readRecord(opts.name);
  if (previous !== undefined)
    await progress.step(`Removing the lab "${opts.name}" left by an earlier run`, () => labDown(opts.name));
  const lab = await progress.step(
    `Bringing up a 2-node lab "${opts.name}"`,
    () => labUp({ name: opts.name, nodes: 2 }),
    (r) => r.kubeconfig,
  );
  runner.kubeconfig = lab.kubeconfig;
  const skipTraces = addonsMissing();
  await progress.step(
    `Applying the mesh (manifests/install.yaml)${skipTraces === undefined ? ', the lab addons (Redis, trace sink)' : ''} and the sample app (client, echo v1 + v2, gRPC)`,
    () => applyAll(runner, skipTraces === undefined ? [LAB_ADDONS] : []),
  );
  if (skipTraces !== undefined)
    progress.line(`[${progress.elapsedSeconds().toFixed(1).padStart(6)}s] Lab addons ${skipTraces}`);
  await progress.step('Waiting for the controller, the node agents and the app pods to be ready', () =>
    waitReady(runner),
  );
  await progress.step(`Joining namespace ${APP_NS} to the mesh (waymesh.io/dataplane-mode=ambient)`, () =>
    joinMesh(runner),
  );
  await progress.step('Creating waypoint demo/waypoint (Gateway + waymesh.io/use-waypoint)', () =>
    createWaypoint(runner),
  );
  await progress.step(
    'Attaching HTTPRoute echo (x-version: v2 → v2, else 90/10) and GRPCRoute echo-grpc; waiting until the waypoint serves them',
    () => attachRoutes(runner),
  );
  const traffic: Traffic = await progress.step(
    `Sending ${SPLIT_REQUESTS} HTTP requests, 20 with x-version: v2 and 20 gRPC calls from ${CLIENT_POD}`,
    () => sendTraffic(runner, SPLIT_REQUESTS),
  );
  const metrics = await progress.step("Reading the proxies' identity metrics (:15020)", () =>
    scrapeIdentities(runner),
  );
  const routes = await progress.step('Reading route statuses', async () =>
    routeStatusRows(
      (await runner.kubectl(['-n', APP_NS, 'get', 'httproute,grpcroute', '-o', 'json'])).stdout,
    ),
  );
  const waterfall =
    skipTraces === undefined
      ? await progress.step('Fetching the newest trace (waymesh lab traces --last 1)', () =>
          lastTraceWaterfall(runner, opts.name, 15_000),
        )
      : [`Trace waterfall ${skipTraces}.`];

  const identities = identityRows(metrics, APP_NS);
  const split = splitRows(traffic.split, WEIGHTS);
  const headerHits = traffic.header.filter((s) => s.pod.startsWith('echo-v2-')).length;
  progress.section(
    'mTLS identities (SPIFFE ids from peer certificates, per proxy)',
    identityLines(identities),
  );
  progress.section(
    `Traffic split (configured 90/10, tolerance ±${TOLERANCE_PCT} points)`,
    splitLines(split, headerHits, traffic.header.length),
  );
  progress.section('Route status', routeLines(routes));
  progress.section('Latency (measured by the client, through agent → waypoint → agent)', [
    latencyLine('HTTP', traffic.split.length, percentiles(traffic.split.map((s) => s.latencyMs))),
    latencyLine('gRPC', traffic.grpc.length, percentiles(traffic.grpc.map((s) => s.latencyMs))),
    // Not a benchmark: say so next to the figures, which are many times the steady-state ones.
    'These are the first requests of freshly started processes, 8 at a time, with the other two',
    'clients running and the whole lab on this machine; steady-state figures: docs/benchmarks.md.',
  ]);
  progress.section('Trace waterfall (one request through the waypoint)', waterfall);

  checkRoutes(routes, [`HTTPRoute ${APP_NS}/echo`, `GRPCRoute ${APP_NS}/echo-grpc`]);
  checkTraffic(traffic);
  checkSplit(split, TOLERANCE_PCT);
  checkIdentities(identities, APP_NS);
  if (opts.keep)
    progress.section(
      `The lab "${opts.name}" keeps running; explore it with`,
      exploreLines(opts.name, lab.kubeconfig),
    );
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const progress = new Progress();
  const runner = new Runner(opts.name);
  const cleanup = (): Promise<void> =>
    progress
      .step(`Taking the lab "${opts.name}" down`, () => labDown(opts.name))
      .then(
        () => undefined,
        (err: unknown) =>
          progress.line(
            `could not take the lab down: ${errorMessage(err)}; run \`npx waymesh lab down --name ${opts.name}\``,
          ),
      );
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal;
    runner.stop();
  };
  // A closed stdout (e.g. `npm run demo | head`) must not stop the demo before it cleans up.
  process.stdout.on('error', () => undefined);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  progress.line('waymesh demo: a 2-node lab, the mesh, a sample app and its routes through a waypoint\n');
  let code = 0;
  try {
    await runDemo(opts, progress, runner);
    progress.line(`\nwaymesh demo finished in ${progress.elapsedSeconds().toFixed(1)} s.`);
  } catch (err) {
    progress.line(
      interrupted === undefined ? Progress.failure(err) : `\n${interrupted}: the demo was interrupted`,
    );
    if (opts.keep)
      progress.line(
        `The lab "${opts.name}" is kept for inspection; \`npx waymesh lab down --name ${opts.name}\` removes it.`,
      );
    code = 1;
  }
  if (!opts.keep) await cleanup();
  return interrupted === undefined ? code : 130;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`waymesh demo failed: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
