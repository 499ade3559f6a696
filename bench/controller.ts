/**
 * `controller`: how long the controller's pure stages take on a big synthetic World
 * (bench/synthetic-world.ts: 2,000 Services, 10,000 pods, 2,000 routes, 50 waypoints) and how
 * much heap it holds, against a baseline measured in the same run: a `structuredClone` of the
 * World, the cost of merely copying the input. Targets: translate < 1 s, snapshots < 1 s,
 * heap < 300 MB.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MeshError } from '../common/errors.ts';
import type { ServiceKey } from '../common/ir/index.ts';
import { buildSnapshots, type SnapshotInput, type SnapshotSet } from '../controller/snapshots/index.ts';
import { buildDirectory } from '../controller/translate/directory/index.ts';
import { translatePolicies } from '../controller/translate/policies/index.ts';
import { translateRoutes } from '../controller/translate/routes/index.ts';
import { NAMES, type World } from '../controller/translate/world.ts';
import type { Bench, BenchRow } from './lib.ts';
import { BENCH_WORLD, syntheticNodeNames, syntheticWorld } from './synthetic-world.ts';

/** Runs per measured stage (after one warm-up run); medians are reported. */
const RUNS = 7;

/** Targets of issue 4 §7. */
export const CONTROLLER_TARGETS = { translate_ms: 1000, snapshots_ms: 1000, heap_mb: 300 } as const;

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

/**
 * A full GC, when one can be had: `global.gc` under `--expose-gc`, else the same function
 * fetched from a fresh context after turning the flag on. Undefined when neither works.
 */
function gcFunction(): (() => void) | undefined {
  const exposed = globalThis.gc;
  if (typeof exposed === 'function') return () => void exposed();
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** Times `op` RUNS times after a warm-up; a row with the median (p50) and the slowest (p99). */
function timed(path: string, op: () => unknown): BenchRow {
  op();
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < RUNS; i++) {
    const s = performance.now();
    op();
    times.push(performance.now() - s);
  }
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? 0;
  return {
    path,
    rps: round(median > 0 ? 1000 / median : 0, 2),
    p50_ms: round(median),
    p99_ms: round(times.at(-1) ?? 0),
    cpu_cores: round((cpu.user + cpu.system) / 1000 / elapsed, 2),
    rss_mb: round(process.memoryUsage().rss / 1048576, 1),
  };
}

/** The IR of one translate() pass, kept by stage. */
interface Translated {
  readonly directory: ReturnType<typeof buildDirectory>;
  readonly routes: ReturnType<typeof translateRoutes>;
  readonly policies: ReturnType<typeof translatePolicies>;
}

/** translate() as the controller runs it: the directory first, then routes and policies. */
function translateAll(world: World): Translated {
  const directory = buildDirectory(world);
  const ctx = { waypointOf: (s: ServiceKey) => directory.waypointOf(s) };
  return { directory, routes: translateRoutes(world, ctx), policies: translatePolicies(world, ctx) };
}

/** The snapshot input the controller would build from `t` for this World's nodes and waypoints. */
function snapshotInput(world: World, t: Translated, nodes: readonly string[]): SnapshotInput {
  return {
    trustDomain: world.trustDomain,
    workloads: t.directory.workloads,
    services: t.directory.services,
    tables: t.routes.tables,
    authorization: t.policies.authorization,
    rateLimits: t.policies.rateLimits,
    nodes,
    waypoints: world.gateways
      .filter((g) => g.spec?.['gatewayClassName'] === NAMES.waypointClass)
      .map((g) => ({ namespace: g.metadata.namespace ?? '', name: g.metadata.name ?? '' })),
  };
}

function heapMb(gc: (() => void) | undefined): number {
  gc?.();
  return process.memoryUsage().heapUsed / 1048576;
}

export const controllerBench: Bench = {
  name: 'controller',
  description:
    'translate (directory + routes + policies) and per-proxy snapshots on a 2k-service/10k-pod world, vs structuredClone of the world',
  // Bench.run is async by contract; every stage measured here is synchronous.
  run() {
    const gc = gcFunction();
    const heap0 = heapMb(gc);
    const world = syntheticWorld(BENCH_WORLD);
    const nodes = syntheticNodeNames(BENCH_WORLD.nodes);
    const heapWorld = heapMb(gc);

    const t = translateAll(world);
    const input = snapshotInput(world, t, nodes);
    const snapshots: SnapshotSet = buildSnapshots(input);
    const heapAll = heapMb(gc);
    // A benchmark of a stage that produced nothing would measure nothing: fail loudly instead.
    if (t.routes.tables.length === 0 || t.directory.workloads.length === 0 || snapshots.waypoints.size === 0)
      throw new MeshError(
        'BENCH_EMPTY_TRANSLATION',
        `controller bench: the synthetic world translated to ${t.directory.workloads.length} workloads, ${t.routes.tables.length} route tables and ${snapshots.waypoints.size} waypoint snapshots`,
        { hint: 'bench/synthetic-world.ts no longer matches what translate() accepts' },
      );
    const accepted = t.routes.statuses.filter((s) =>
      JSON.stringify(s).includes('"reason":"Accepted"'),
    ).length;
    console.log(
      `world: ${world.namespaces.length} namespaces, ${nodes.length} nodes, ${world.services.length} services, ` +
        `${world.pods.length} pods, ${world.endpointSlices.length} EndpointSlices, ` +
        `${world.httpRoutes.length} HTTPRoutes + ${world.grpcRoutes.length} GRPCRoutes, ${world.gateways.length} waypoints, ` +
        `${world.authorizationPolicies.length} AuthorizationPolicies, ${world.rateLimitPolicies.length} RateLimitPolicies`,
    );
    console.log(
      `IR: ${t.directory.workloads.length} workloads, ${t.directory.services.length} services, ` +
        `${t.routes.tables.length} route tables, ${accepted}/${t.routes.statuses.length} routes with an Accepted parent, ` +
        `${t.policies.authorization.length} authz entries, ${t.policies.rateLimits.length} rate limits; ` +
        `snapshots: ${snapshots.nodes.size} nodes, ${snapshots.waypoints.size} waypoints`,
    );

    const baseline = timed('baseline: structuredClone(world)', () => structuredClone(world));
    const translate = timed('translate: directory + routes + policies', () => translateAll(world));
    const directory = timed('  stage: buildDirectory', () => buildDirectory(world));
    const ctx = { waypointOf: (s: ServiceKey) => t.directory.waypointOf(s) };
    const routes = timed('  stage: translateRoutes', () => translateRoutes(world, ctx));
    const policies = timed('  stage: translatePolicies', () => translatePolicies(world, ctx));
    const snapshot = timed('snapshots: buildSnapshots (all nodes + waypoints)', () => buildSnapshots(input));

    const heap = round(heapAll, 1);
    console.log(
      `heap after ${gc === undefined ? 'no GC (gc unavailable)' : 'full GC'}: ${round(heap0, 1)} MB empty, ` +
        `${round(heapWorld, 1)} MB with the world, ${heap} MB with world + IR + snapshots`,
    );
    const met = (v: number, target: number): string => (v < target ? 'met' : 'MISSED');
    console.log(
      `targets: translate ${translate.p50_ms} ms < ${CONTROLLER_TARGETS.translate_ms} ms ${met(translate.p50_ms, CONTROLLER_TARGETS.translate_ms)}; ` +
        `snapshots ${snapshot.p50_ms} ms < ${CONTROLLER_TARGETS.snapshots_ms} ms ${met(snapshot.p50_ms, CONTROLLER_TARGETS.snapshots_ms)}; ` +
        `heap ${heap} MB < ${CONTROLLER_TARGETS.heap_mb} MB ${met(heap, CONTROLLER_TARGETS.heap_mb)}`,
    );
    return Promise.resolve({
      rows: [baseline, translate, directory, routes, policies, snapshot],
      ratios: {
        translate_ms: translate.p50_ms,
        snapshots_ms: snapshot.p50_ms,
        heap_mb: heap,
        translate_vs_clone: round(translate.p50_ms / baseline.p50_ms),
        snapshots_vs_clone: round(snapshot.p50_ms / baseline.p50_ms),
        heap_world_mb: round(heapWorld - heap0, 1),
        heap_ir_snapshots_mb: round(heapAll - heapWorld, 1),
        heap_gc: gc === undefined ? 0 : 1,
      },
    });
  },
};
