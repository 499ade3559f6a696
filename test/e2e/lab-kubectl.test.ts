/**
 * The lab's API as the real `kubectl` sees it, on a running lab (API server with every hook
 * wired): server-side apply, strategic merge patches rolling a Deployment, `get -w`, 409 and
 * 422 answers, upstream Gateway API bundles applied over the built-in kinds, DaemonSets and
 * hostNetwork pods, and a supervisor killed mid-run coming back with every object.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'mocha';
import { useLab } from '../helpers/lab.ts';

const SHARED = join(import.meta.dirname, '..', '..', '..', 'shared', 'gateway-api');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('lab (e2e, kubectl semantics)', function () {
  this.timeout(180_000);
  const lab = useLab('k');
  const { kubectl, kubectlIn, kubectlFails } = lab;

  it('server-side applies multi-document YAML and reports field managers', async () => {
    const out = kubectlIn(
      `apiVersion: v1
kind: Namespace
metadata: { name: ssa }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: settings, namespace: ssa }
data: { a: "1" }
`,
      'apply',
      '--server-side',
      '-f',
      '-',
    );
    assert.match(out, /namespace\/ssa serverside-applied/);
    assert.match(out, /configmap\/settings serverside-applied/);
    const cm = JSON.parse(
      await kubectl('get', 'configmap', 'settings', '-n', 'ssa', '-o', 'json', '--show-managed-fields'),
    ) as {
      metadata: { managedFields: { manager: string; operation: string }[] };
    };
    assert.ok(cm.metadata.managedFields.some((f) => f.manager === 'kubectl' && f.operation === 'Apply'));
    // Another manager changing the same field conflicts unless forced, as on a real cluster.
    const conflict = kubectlFails(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: ssa }\ndata: { a: "2" }\n',
      'apply',
      '--server-side',
      '--field-manager',
      'other',
      '-f',
      '-',
    );
    assert.match(conflict, /conflict/i);

    // Ordinary writes own what they change too: `kubectl create -f` then `kubectl patch`, and an
    // apply of the patched field with another value names the patch's manager.
    kubectlIn(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: edited, namespace: ssa }\ndata: { a: "1", b: "1" }\n',
      'create',
      '-f',
      '-',
    );
    await kubectl('patch', 'configmap', 'edited', '-n', 'ssa', '-p', '{"data":{"a":"2"}}');
    const edited = JSON.parse(
      await kubectl('get', 'configmap', 'edited', '-n', 'ssa', '-o', 'json', '--show-managed-fields'),
    ) as { metadata: { managedFields: { manager: string; operation: string }[] } };
    assert.deepEqual(
      edited.metadata.managedFields.map((f) => `${f.manager}/${f.operation}`),
      ['kubectl-create/Update', 'kubectl-patch/Update'],
    );
    const taken = kubectlFails(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: edited, namespace: ssa }\ndata: { a: "3", b: "1" }\n',
      'apply',
      '--server-side',
      '-f',
      '-',
    );
    assert.match(taken, /conflict with "kubectl-patch"/);
  });

  it('rolls a Deployment on a strategic merge patch and label/annotate work', async () => {
    kubectlIn(
      `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: echo, image: waymesh/echo, args: ["--http-port", "8080"] }]
`,
      'apply',
      '-f',
      '-',
    );
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=60s');
    const before = (await kubectl('get', 'pods', '-l', 'app=web', '-o', 'name')).trim().split('\n').sort();
    await kubectl(
      'patch',
      'deployment',
      'web',
      '-p',
      '{"spec":{"template":{"metadata":{"labels":{"rev":"2"}}}}}',
    );
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=60s');
    let after: string[] = [];
    for (let i = 0; i < 50; i++) {
      after = (await kubectl('get', 'pods', '-l', 'app=web,rev=2', '-o', 'name'))
        .trim()
        .split('\n')
        .filter(Boolean);
      const all = (await kubectl('get', 'pods', '-l', 'app=web', '-o', 'name'))
        .trim()
        .split('\n')
        .filter(Boolean);
      if (after.length === 2 && all.length === 2) break;
      await sleep(200);
    }
    assert.equal(after.length, 2);
    assert.ok(
      after.every((p) => !before.includes(p)),
      'new pods replaced the old ones',
    );
    await kubectl('label', 'deployment', 'web', 'team=mesh');
    await kubectl('annotate', 'deployment', 'web', 'note=hello');
    const d = JSON.parse(await kubectl('get', 'deployment', 'web', '-o', 'json')) as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string>; generation: number };
    };
    assert.equal(d.metadata.labels['team'], 'mesh');
    assert.equal(d.metadata.annotations['note'], 'hello');
    assert.equal(
      d.metadata.generation,
      2,
      'labels and annotations do not bump generation; the template patch did',
    );
  });

  it('get -w sees a change as it happens', async () => {
    kubectlIn('apiVersion: v1\nkind: Namespace\nmetadata: { name: watched }\n', 'apply', '-f', '-');
    const watcher = spawn('kubectl', [
      '--kubeconfig',
      lab.kubeconfig,
      'get',
      'configmaps',
      '-n',
      'watched',
      '-w',
      '-o',
      'name',
    ]);
    let seen = '';
    watcher.stdout.on('data', (c: Buffer) => (seen += c.toString()));
    try {
      await sleep(1000);
      kubectlIn(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: fresh, namespace: watched }\n',
        'apply',
        '-f',
        '-',
      );
      for (let i = 0; i < 50 && !seen.includes('configmap/fresh'); i++) await sleep(100);
      assert.match(seen, /configmap\/fresh/);
    } finally {
      watcher.kill('SIGTERM');
    }
  });

  it('refuses an unquoted number where a built-in kind wants a string, as a cluster does', async () => {
    // The classic manifest mistake: YAML reads 8080 as a number, and a ConfigMap holds strings.
    const out = kubectlFails(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ports }\ndata: { port: 8080 }\n',
      'apply',
      '-f',
      '-',
    );
    assert.match(
      out,
      /ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap\.data of type string/,
    );
    await assert.rejects(kubectl('get', 'configmap', 'ports'));
    kubectlIn(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ports }\ndata: { port: "8080" }\n',
      'apply',
      '-f',
      '-',
    );
    assert.equal(await kubectl('get', 'configmap', 'ports', '-o', 'jsonpath={.data.port}'), '8080');
  });

  it('answers a stale update with 409 Conflict and an invalid HTTPRoute with 422', async () => {
    const cm = JSON.parse(await kubectl('get', 'configmap', 'settings', '-n', 'ssa', '-o', 'json')) as {
      metadata: { resourceVersion: string };
    };
    await kubectl('annotate', 'configmap', 'settings', '-n', 'ssa', 'bump=1');
    const stale = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: 'ssa', resourceVersion: cm.metadata.resourceVersion },
      data: { a: '3' },
    });
    assert.match(kubectlFails(stale, 'replace', '-f', '-'), /Conflict|the object has been modified/i);
    const invalid = kubectlFails(
      `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: bad }
spec:
  parentRefs: [{ group: "", kind: Service, name: web }]
  rules:
  - matches: [{ path: { type: Foo, value: / } }]
`,
      'apply',
      '-f',
      '-',
    );
    assert.match(invalid, /is invalid/);
    assert.match(invalid, /Unsupported value: "Foo"/);
  });

  it('lists the Gateway API kinds with upstream short names, and upstream bundles apply over them', async () => {
    const resources = await kubectl('api-resources', '--api-group=gateway.networking.k8s.io', '--no-headers');
    for (const [name, short] of [
      ['gatewayclasses', 'gc'],
      ['gateways', 'gtw'],
      ['referencegrants', 'refgrant'],
    ]) {
      assert.match(resources, new RegExp(`^${name}\\s+${short}\\s`, 'm'));
    }
    const bundleFile = (bundle: string, f: string): string => readFileSync(join(SHARED, bundle, f), 'utf8');
    // As upstream's install guide says: v1.2 applies client-side; the newer CRDs are too big for the
    // last-applied annotation (256 KiB for all annotations, as in kube), so they apply server-side.
    for (const [bundle, how] of [
      ['v1.2.1/standard', []],
      ['v1.2.1/experimental', []],
      ['v1.6.1/standard', ['--server-side']],
      ['v1.6.1/experimental', ['--server-side']],
    ] as const) {
      const files = readdirSync(join(SHARED, bundle)).filter(
        (f) => f.endsWith('.yaml') && !f.includes('vap_'),
      );
      for (const f of files) kubectlIn(bundleFile(bundle, f), 'apply', ...how, '-f', '-');
    }
    assert.match(
      kubectlFails(
        bundleFile('v1.6.1/experimental', 'gateway.networking.k8s.io_httproutes.yaml'),
        'apply',
        '-f',
        '-',
      ),
      /metadata\.annotations: Too long: must have at most 262144 bytes/,
    );
    const crd = JSON.parse(
      await kubectl('get', 'crd', 'httproutes.gateway.networking.k8s.io', '-o', 'json'),
    ) as { metadata: { annotations: Record<string, string> } };
    assert.equal(crd.metadata.annotations['gateway.networking.k8s.io/bundle-version'], 'v1.6.1');
    // The admission policy the newest bundles ship is refused clearly: the lab has no admission control.
    const vap = readdirSync(join(SHARED, 'v1.6.1/standard')).find((f) => f.includes('vap_'));
    if (vap !== undefined)
      assert.match(
        kubectlFails(readFileSync(join(SHARED, 'v1.6.1/standard', vap), 'utf8'), 'apply', '-f', '-'),
        /ValidatingAdmissionPolicy|could not find/,
      );
    kubectlIn(
      'apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: { name: demo }\nspec: { controllerName: example.com/demo }\n',
      'apply',
      '-f',
      '-',
    );
    assert.match(await kubectl('get', 'gc'), /^demo\s+example\.com\/demo\s/m);
  });

  it('runs a DaemonSet pod on every node, hostNetwork pods in the node network', async () => {
    kubectlIn(
      `apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, namespace: kube-system }
spec:
  selector: { matchLabels: { app: agent } }
  template:
    metadata: { labels: { app: agent } }
    spec:
      hostNetwork: true
      containers: [{ name: agent, image: waymesh/client }]
`,
      'apply',
      '-f',
      '-',
    );
    await kubectl('rollout', 'status', 'daemonset/agent', '-n', 'kube-system', '--timeout=60s');
    const pods = JSON.parse(
      await kubectl('get', 'pods', '-n', 'kube-system', '-l', 'app=agent', '-o', 'json'),
    ) as {
      items: { spec: { nodeName: string }; status: { podIP: string; hostIP: string } }[];
    };
    assert.equal(pods.items.length, 2);
    assert.equal(new Set(pods.items.map((p) => p.spec.nodeName)).size, 2);
    for (const p of pods.items) assert.equal(p.status.podIP, p.status.hostIP);
  });

  it('keeps every object when the supervisor is killed and the lab brought up again', async () => {
    const before = await kubectl('get', 'configmaps,deployments,services,httproutes', '-A', '-o', 'name');
    const rec = JSON.parse(readFileSync(`/run/waymesh/labs/${lab.name}.json`, 'utf8')) as {
      supervisorPid: number;
    };
    process.kill(rec.supervisorPid, 'SIGKILL');
    await sleep(500);
    await lab.waymesh('up');
    const after = await kubectl('get', 'configmaps,deployments,services,httproutes', '-A', '-o', 'name');
    assert.equal(after, before);
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=60s');
  });
});
