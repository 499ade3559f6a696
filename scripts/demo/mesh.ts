/**
 * The demo's actions on a running lab, in order: install the mesh, deploy the sample app, join
 * its namespace to the mesh, create the waypoint, attach the routes, and wait until traffic is
 * carried by the waypoint. Each waits for its effect, so the next step starts on solid ground.
 */
import { join } from 'node:path';
import { isMeshError, MeshError } from '../../common/errors.ts';
import { REPO_ROOT, type Runner } from './run.ts';

/** The namespace of the sample app. */
export const APP_NS = 'demo';

const manifest = (...parts: string[]): string => join(REPO_ROOT, 'manifests', ...parts);

/**
 * `kubectl apply` of the mesh (manifests/install.yaml), the extra manifests given (the lab
 * addons) and the sample app (manifests/samples/demo/app.yaml): they come up side by side.
 */
export async function applyAll(runner: Runner, extra: readonly string[]): Promise<void> {
  for (const file of [manifest('install.yaml'), ...extra, manifest('samples', 'demo', 'app.yaml')])
    await runner.kubectl(['apply', '-f', file]);
}

/** Waits for the controller, the node agents, every Deployment in waymesh-system and the app's pods. */
export async function waitReady(runner: Runner): Promise<void> {
  const rollout = (ns: string, what: string): Promise<unknown> =>
    runner.kubectl(['-n', ns, 'rollout', 'status', what, '--timeout=90s'], { timeoutMs: 100_000 });
  await Promise.all([
    rollout('waymesh-system', 'daemonset/waymesh-node-agent'),
    rollout('waymesh-system', 'deployment'),
    rollout(APP_NS, 'deployment'),
  ]);
  await runner.kubectl(['-n', APP_NS, 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=60s'], {
    timeoutMs: 70_000,
  });
}

/** Labels the namespace ambient and waits until the agents captured every app pod of it. */
export async function joinMesh(runner: Runner): Promise<void> {
  await runner.kubectl(['label', 'namespace', APP_NS, 'waymesh.io/dataplane-mode=ambient', '--overwrite']);
  await eventually('the node agents to capture every pod of namespace demo', 30_000, async () => {
    const res = await runner.kubectl([
      '-n',
      APP_NS,
      'get',
      'pods',
      '-l',
      'app',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}={.metadata.annotations.waymesh\\.io/redirection}{"\\n"}{end}',
    ]);
    const lines = res.stdout.trim().split('\n');
    return lines.length >= 3 && lines.every((l) => l.endsWith('=enabled'));
  });
}

/** Creates the waypoint Gateway and points the namespace at it (waymesh.io/use-waypoint). */
export async function createWaypoint(runner: Runner): Promise<void> {
  await runner.kubectl(['apply', '-f', manifest('samples', 'demo', 'waypoint.yaml')]);
  await runner.kubectl(['label', 'namespace', APP_NS, 'waymesh.io/use-waypoint=waypoint', '--overwrite']);
}

/**
 * Applies the HTTPRoute and GRPCRoute, waits for the waypoint to be `Programmed`, then sends
 * single requests with `x-version: v2` until one is answered by v2 through the waypoint (which
 * adds a `traceparent`): the routes are then in force on the data path.
 */
export async function attachRoutes(runner: Runner): Promise<void> {
  await runner.kubectl(['apply', '-f', manifest('samples', 'demo', 'routes.yaml')]);
  await runner.kubectl(
    ['-n', APP_NS, 'wait', '--for=condition=Programmed', 'gateway/waypoint', '--timeout=60s'],
    {
      timeoutMs: 70_000,
    },
  );
  await eventually('the HTTPRoute to take effect at the waypoint', 45_000, async () => {
    const res = await runner.labExec(
      `${APP_NS}/client`,
      ['curl', '-sS', '--max-time', '3', '-H', 'x-version: v2', 'http://echo.demo/'],
      { allowFailure: true },
    );
    if (res.code !== 0) return false;
    const body = JSON.parse(res.stdout) as { pod?: string; headers?: Record<string, unknown> };
    return (body.pod ?? '').startsWith('echo-v2-') && 'traceparent' in (body.headers ?? {});
  });
}

/** Polls `check` every 500 ms until it is true; a MeshError naming `what` after `timeoutMs`. */
export async function eventually(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (isMeshError(err, 'DEMO_INTERRUPTED')) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw new MeshError(
        'DEMO_TIMEOUT',
        `timed out after ${timeoutMs / 1000} s waiting for ${what}${last === '' ? '' : `: ${last}`}`,
        {
          hint: 'run `waymesh status` and `kubectl -n waymesh-system get pods` (see --keep)',
        },
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}
