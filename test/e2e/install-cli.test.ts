/**
 * The install journey through the `waymesh` CLI in a fresh lab (issue 7 §3): `waymesh install`
 * (server-side apply) brings the controller up, `waymesh waypoint apply|list|delete` manage a
 * waypoint, every sample applies cleanly, and `waymesh uninstall` leaves nothing of ours behind.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'mocha';
import { errorMessage } from '../../common/errors.ts';
import { useLab, WAYMESH } from '../helpers/lab.ts';

const run = promisify(execFile);
const SAMPLES = join(import.meta.dirname, '..', '..', 'manifests', 'samples');

async function eventually<T>(
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

describe('waymesh install / waypoint / uninstall in the lab (e2e)', function () {
  this.timeout(180_000);
  const lab = useLab('i');
  const { kubectl } = lab;

  const waymesh = async (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
    run(process.execPath, [WAYMESH, ...args, '--kubeconfig', lab.kubeconfig], { timeout: 150_000 });
  const names = async (...args: string[]): Promise<string[]> =>
    (await kubectl('get', ...args, '-o', 'name')).split('\n').filter((l) => l !== '');

  it('installs with server-side apply; the controller rolls out; a second install changes nothing', async () => {
    const dry = await waymesh('install', '--dry-run');
    assert.match(dry.stdout, /^deployment\.apps\/waymesh-controller created \(dry run\)$/m);
    assert.deepEqual(
      (await names('namespace')).filter((n) => n.includes('waymesh')),
      [],
    );
    const { stdout } = await waymesh('install');
    assert.match(stdout, /^namespace\/waymesh-system created$/m);
    assert.match(
      stdout,
      /^customresourcedefinition\.apiextensions\.k8s\.io\/authorizationpolicies\.policy\.waymesh\.io created$/m,
    );
    assert.match(stdout, /^deployment\.apps\/waymesh-controller created$/m);
    // CRDs come right after the namespace, before anything else.
    const lines = stdout.trim().split('\n');
    assert.ok(lines[1]?.startsWith('customresourcedefinition.'), lines.join('\n'));
    await kubectl(
      '-n',
      'waymesh-system',
      'rollout',
      'status',
      'deployment/waymesh-controller',
      '--timeout=90s',
    );
    const managers = await kubectl(
      '-n',
      'waymesh-system',
      'get',
      'deployment',
      'waymesh-controller',
      '--show-managed-fields',
      '-o',
      'jsonpath={.metadata.managedFields[*].manager}',
    );
    assert.match(managers, /\bwaymesh\b/);
    const again = await waymesh('install');
    const verdicts = again.stdout.trim().split('\n');
    assert.equal(verdicts.length, lines.length);
    for (const l of verdicts) assert.match(l, / (unchanged|configured)$/);
    assert.ok(verdicts.filter((l) => l.endsWith(' unchanged')).length >= lines.length - 2, again.stdout);
  });

  it('the sample app applies; waypoint apply creates the Gateway, enrolls the namespace and gets provisioned', async () => {
    await kubectl('apply', '-f', join(SAMPLES, 'demo-app.yaml'));
    const { stdout } = await waymesh('waypoint', 'apply', '-n', 'demo', '--enroll-namespace');
    assert.match(stdout, /^gateway\.gateway\.networking\.k8s\.io\/waypoint created$/m);
    assert.match(stdout, /^namespace\/demo labeled waymesh\.io\/use-waypoint=waypoint$/m);
    const gw = JSON.parse(await kubectl('-n', 'demo', 'get', 'gateway', 'waypoint', '-o', 'json')) as {
      spec: { gatewayClassName: string; listeners: { name: string; port: number; protocol: string }[] };
    };
    assert.equal(gw.spec.gatewayClassName, 'waymesh-waypoint');
    assert.deepEqual(
      gw.spec.listeners.map((l) => [l.name, l.port, l.protocol]),
      [['mesh', 15008, 'HBONE']],
    );
    const label = await kubectl(
      'get',
      'namespace',
      'demo',
      '-o',
      'jsonpath={.metadata.labels.waymesh\\.io/use-waypoint}',
    );
    assert.equal(label, 'waypoint');
    await eventually('the waypoint Deployment', async () =>
      (await names('-n', 'demo', 'deployment', '-l', 'waymesh.io/waypoint=true')).includes(
        'deployment.apps/waypoint',
      )
        ? true
        : undefined,
    );
    // The API server records who wrote what, under the names the components give themselves.
    const writers = await eventually('the controller recorded as the status writer', async () => {
      const out = await kubectl(
        '-n',
        'demo',
        'get',
        'gateway',
        'waypoint',
        '--show-managed-fields',
        '-o',
        'jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation}/{.subresource};{end}',
      );
      return out.includes('waymesh-controller/Update/status;') ? out : undefined;
    });
    assert.match(writers, /(^|;)waymesh\/Apply\/;/, 'waymesh waypoint apply applies server-side');
  });

  it('waypoint list -A shows the waypoint and the namespace using it', async () => {
    const { stdout } = await waymesh('waypoint', 'list', '-A');
    const lines = stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^NAMESPACE\s+NAME\s+PROGRAMMED\s+ADDRESS\s+USED-BY$/);
    assert.ok(
      lines.some((l) => /^demo\s+waypoint\s+\S+\s+\S+\s+namespace\/demo$/.test(l)),
      stdout,
    );
  });

  it('every sample applies cleanly to the API server', async () => {
    for (const f of ['waypoint.yaml', 'routes.yaml', 'policies.yaml']) {
      const out = await kubectl('apply', '-f', join(SAMPLES, f));
      assert.doesNotMatch(out, /error|invalid/i, f);
    }
    assert.deepEqual(await names('-n', 'demo', 'httproute,grpcroute,authorizationpolicy,ratelimitpolicy'), [
      'httproute.gateway.networking.k8s.io/echo',
      'grpcroute.gateway.networking.k8s.io/echo-grpc',
      'authorizationpolicy.policy.waymesh.io/echo-from-client',
      'ratelimitpolicy.policy.waymesh.io/echo-per-client',
    ]);
  });

  it('the real-cluster addons, the demo samples and the kustomize base apply cleanly (server-side dry run)', async () => {
    const root = join(import.meta.dirname, '..', '..', 'manifests');
    for (const args of [
      ['-f', join(root, 'addons')],
      ['-f', join(SAMPLES, 'demo')],
      ['-k', root],
    ]) {
      const out = await kubectl('apply', '--dry-run=server', ...args);
      assert.match(out, /\(server dry run\)/, args.join(' '));
      assert.doesNotMatch(out, /error|invalid/i, args.join(' '));
    }
  });

  it('waypoint delete removes the Gateway, its labels in the namespace and (through ownership) its Deployment', async () => {
    await kubectl('-n', 'demo', 'label', 'service', 'echo', 'waymesh.io/use-waypoint=waypoint');
    const { stdout } = await waymesh('waypoint', 'delete', 'waypoint', '-n', 'demo');
    assert.match(stdout, /^gateway\.gateway\.networking\.k8s\.io\/waypoint deleted$/m);
    assert.match(stdout, /^namespace\/demo unlabeled$/m);
    assert.match(stdout, /^service\/echo unlabeled$/m);
    assert.deepEqual(await names('-n', 'demo', 'gateway'), []);
    const labels = await kubectl('get', 'namespace', 'demo', '-o', 'jsonpath={.metadata.labels}');
    assert.doesNotMatch(labels, /use-waypoint/);
    await eventually('the waypoint Deployment to go', async () =>
      (await names('-n', 'demo', 'deployment', '-l', 'waymesh.io/waypoint=true')).length === 0
        ? true
        : undefined,
    );
  });

  it('uninstall removes everything of ours, including provisioned waypoints, and keeps user Gateways', async () => {
    await waymesh('waypoint', 'apply', '-n', 'demo', '--name', 'kept');
    await eventually('the kept waypoint Deployment', async () =>
      (await names('-n', 'demo', 'deployment', '-l', 'waymesh.io/waypoint=true')).length > 0
        ? true
        : undefined,
    );
    const { stdout, stderr } = await waymesh('uninstall');
    assert.match(stdout, /^deployment\.apps\/waymesh-controller deleted$/m);
    assert.match(stdout, /^deployment\.apps\/kept deleted \(waypoint, namespace demo\)$/m);
    assert.match(stdout, /^namespace\/waymesh-system deleted$/m);
    assert.match(stderr, /left your waypoint Gateways in place.*demo\/kept/);
    assert.deepEqual(await names('-n', 'demo', 'gateway'), ['gateway.gateway.networking.k8s.io/kept']);
    const crds = await names('crd');
    assert.deepEqual(
      crds.filter((c) => c.includes('waymesh')),
      [],
    );
    assert.deepEqual(
      (await names('namespace')).filter((n) => n.includes('waymesh')),
      [],
    );
    assert.deepEqual(
      (await names('clusterrole,clusterrolebinding')).filter((n) => n.includes('waymesh')),
      [],
    );
    assert.deepEqual(
      (await names('gatewayclass')).filter((n) => n.includes('waymesh')),
      [],
    );
    assert.deepEqual(await names('configmap', '-A', '-l', 'waymesh.io/ca-root-cert=true'), []);
    assert.deepEqual(
      await names('deployment,service,serviceaccount', '-A', '-l', 'waymesh.io/waypoint=true'),
      [],
    );
  });
});
