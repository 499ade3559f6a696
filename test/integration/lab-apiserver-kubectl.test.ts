/**
 * The lab API server driven by the real kubectl and by @kubernetes/client-node, over HTTPS on
 * loopback only, with a restart on the same data directory in the middle.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig, makeInformer, AppsV1Api, type V1Deployment } from '@kubernetes/client-node';
import { createApiServer, type ApiServer } from '../../lab/apiserver/server.ts';
import { selfSignedCert } from '../helpers/apiserver.ts';

const run = promisify(execFile);
const ADMIN = 'test-admin-token';

interface Lab {
  api: ApiServer;
  srv: Server;
  port: number;
  urls: string[];
}

/** A pod with two containers, as a file for kubectl apply; returns its path. */
function writePod(dir: string): string {
  const file = join(dir, 'talker.yaml');
  writeFileSync(
    file,
    'apiVersion: v1\nkind: Pod\nmetadata: {name: talker, namespace: default}\n' +
      'spec: {containers: [{name: app, image: waymesh/echo}, {name: side, image: waymesh/echo}]}\n',
  );
  return file;
}

describe('lab API server with kubectl and client-node', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'wm-lab-api-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const signingKeyPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const children = new Set<ChildProcess>();
  let lab: Lab | undefined;
  const killChildren = (): void => {
    for (const c of children) if (c.exitCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
    children.clear();
  };
  process.on('exit', killChildren);

  async function start(historySize = 10000, watchTimeoutSeconds = 1800): Promise<Lab> {
    const api = await createApiServer({
      dataDir: join(dir, 'data'),
      adminToken: ADMIN,
      signingKeyPem,
      serviceCidr: '10.96.0.0/16',
      watchHistorySize: historySize,
      bookmarkIntervalMs: 300,
      watchTimeoutSeconds,
      podLogFile: (ns, pod, container) => join(dir, 'logs', `${ns}_${pod}_${container}.log`),
    });
    const urls: string[] = [];
    const srv = createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      (req, res) => {
        urls.push(`${req.method ?? ''} ${req.url ?? ''}`);
        api.handle(req, res);
      },
    );
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const port = (srv.address() as { port: number }).port;
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: https://127.0.0.1:${port}\n    certificate-authority: ${join(dir, 'cert.pem')}\nusers:\n- name: admin\n  user:\n    token: ${ADMIN}\ncontexts:\n- name: lab\n  context: {cluster: lab, user: admin}\ncurrent-context: lab\n`,
    );
    return { api, srv, port, urls };
  }

  async function stop(l: Lab | undefined): Promise<void> {
    if (l === undefined) return;
    l.srv.closeAllConnections();
    await new Promise<void>((resolve) => l.srv.close(() => resolve()));
    await l.api.close();
  }

  const kubectl = async (...args: string[]): Promise<string> => {
    const r = await run('kubectl', args, {
      env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir, 'cache') },
    });
    return r.stdout;
  };
  const kubectlFails = async (...args: string[]): Promise<string> => {
    try {
      await kubectl(...args);
    } catch (err) {
      return String((err as { stderr?: string }).stderr ?? err);
    }
    throw new Error(`kubectl ${args.join(' ')} unexpectedly succeeded`);
  };
  const http = (
    method: string,
    path: string,
    body?: unknown,
    opts: { token?: string; contentType?: string } = {},
  ): Promise<{ status: number; json: Record<string, unknown> }> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const headers: Record<string, string> = {
        'content-type': opts.contentType ?? 'application/json',
        'content-length': String(Buffer.byteLength(payload ?? '')),
      };
      if (opts.token !== '') headers['authorization'] = `Bearer ${opts.token ?? ADMIN}`;
      const req = request(
        {
          host: '127.0.0.1',
          port: lab?.port,
          path,
          method,
          headers,
          ca: readFileSync(join(dir, 'cert.pem')),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text },
            });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });

  before(async () => {
    selfSignedCert(dir, 'waymesh-lab');
    lab = await start();
  });
  afterEach(killChildren);
  after(async () => {
    await stop(lab);
    killChildren();
    process.off('exit', killChildren);
    rmSync(dir, { recursive: true, force: true });
  });

  const manifest = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: demo}
data: {a: "1"}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`;

  it('serves discovery, version and health to kubectl', async () => {
    const res = await kubectl('api-resources');
    assert.match(res, /deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/);
    assert.match(res, /customresourcedefinitions\s+crd,crds\s+apiextensions.k8s.io\/v1/);
    assert.match(await kubectl('api-resources', '--api-group=coordination.k8s.io'), /leases/);
    const v = await http('GET', '/version', undefined, { token: '' });
    assert.equal(v.json['gitVersion'], 'v1.32.0-waymesh-lab');
    assert.equal((await http('GET', '/readyz', undefined, { token: '' })).status, 200);
    assert.equal((await http('GET', '/api/v1/namespaces', undefined, { token: '' })).status, 401);
  });

  it('applies multi-document YAML, then get/label/annotate/patch/describe/delete', async () => {
    writeFileSync(join(dir, 'app.yaml'), manifest);
    const out = await kubectl('apply', '-f', join(dir, 'app.yaml'));
    assert.match(
      out,
      /namespace\/demo created[\s\S]*configmap\/cfg created[\s\S]*service\/web created[\s\S]*deployment.apps\/web created/,
    );
    const svc = JSON.parse(await kubectl('get', '-n', 'demo', 'svc', 'web', '-o', 'json')) as {
      spec: { clusterIP: string; ports: { targetPort: number }[] };
    };
    assert.match(svc.spec.clusterIP, /^10\.96\.0\.\d+$/);
    assert.notEqual(svc.spec.clusterIP, '10.96.0.1');
    assert.match(await kubectl('get', '-n', 'demo', 'deploy', 'web', '-o', 'yaml'), /replicas: 2/);
    const ssa = await kubectlFails('apply', '--server-side', '-f', join(dir, 'app.yaml'));
    assert.match(ssa, /server-side apply .* is not available in this lab build/);
    await kubectl('label', '-n', 'demo', 'cm', 'cfg', 'tier=front');
    await kubectl('annotate', '-n', 'demo', 'cm', 'cfg', 'note=hello');
    await kubectl('patch', '-n', 'demo', 'cm', 'cfg', '--type', 'merge', '-p', '{"data":{"b":"2"}}');
    await kubectl(
      'patch',
      '-n',
      'demo',
      'cm',
      'cfg',
      '--type',
      'json',
      '-p',
      '[{"op":"add","path":"/data/c","value":"3"}]',
    );
    const cm = JSON.parse(
      await kubectl('get', '-n', 'demo', 'cm', '-l', 'tier in (front)', '-o', 'json'),
    ) as { items: { data: Record<string, string>; metadata: { annotations: Record<string, string> } }[] };
    assert.equal(cm.items.length, 1);
    assert.deepEqual(cm.items[0]?.data, { a: '1', b: '2', c: '3' });
    assert.equal(cm.items[0]?.metadata.annotations['note'], 'hello');
    await http('POST', '/api/v1/namespaces/demo/events', {
      metadata: { name: 'cfg.1' },
      involvedObject: { kind: 'ConfigMap', name: 'cfg', namespace: 'demo' },
      reason: 'Tested',
      message: 'hello from the test',
      type: 'Normal',
    });
    const uid = JSON.parse(await kubectl('get', '-n', 'demo', 'cm', 'cfg', '-o', 'json')) as {
      metadata: { uid: string };
    };
    await http(
      'PATCH',
      '/api/v1/namespaces/demo/events/cfg.1',
      { involvedObject: { uid: uid.metadata.uid } },
      { contentType: 'application/merge-patch+json' },
    );
    const described = await kubectl('describe', '-n', 'demo', 'configmap', 'cfg');
    assert.match(described, /tier=front/);
    assert.match(described, /Tested\s+.*hello from the test/);
    const strategic = await kubectlFails('patch', '-n', 'demo', 'cm', 'cfg', '-p', '{"data":{"d":"4"}}');
    assert.match(strategic, /strategic merge patch is not available/);
    assert.match(await kubectl('delete', '-n', 'demo', 'cm', 'cfg'), /configmap "cfg" deleted/);
    assert.match(await kubectlFails('get', '-n', 'demo', 'cm', 'cfg'), /configmaps "cfg" not found/);
  });

  it('streams changes to kubectl get -w', async () => {
    writeFileSync(
      join(dir, 'watched.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched, namespace: demo}\ndata: {k: v}\n',
    );
    await kubectl('create', '-f', join(dir, 'watched.yaml'));
    const w = spawn(
      'kubectl',
      ['get', 'cm', 'watched', '-n', 'demo', '-w', '-o', 'jsonpath={.data.k}{"\\n"}'],
      { env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir, 'cache') } },
    );
    children.add(w);
    let seen = '';
    const saw = new Promise<void>((resolve) =>
      w.stdout.on('data', (c: Buffer) => {
        seen += c.toString();
        if (seen.includes('changed')) resolve();
      }),
    );
    await new Promise((r) => setTimeout(r, 700));
    await kubectl(
      'patch',
      '-n',
      'demo',
      'cm',
      'watched',
      '--type',
      'merge',
      '-p',
      '{"data":{"k":"changed"}}',
    );
    await saw;
    assert.deepEqual(seen.trim().split('\n'), ['v', 'changed']);
  });

  it('answers conflicts, missing objects and invalid objects with Status bodies', async () => {
    const live = JSON.parse(await kubectl('get', '-n', 'demo', 'cm', 'watched', '-o', 'json')) as {
      metadata: { resourceVersion: string };
    };
    await kubectl('label', '-n', 'demo', 'cm', 'watched', 'bump=1');
    const stale = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'watched', namespace: 'demo', resourceVersion: live.metadata.resourceVersion },
      data: { k: 'stale' },
    };
    writeFileSync(join(dir, 'stale.json'), JSON.stringify(stale));
    assert.match(
      await kubectlFails('replace', '-f', join(dir, 'stale.json')),
      /the object has been modified/,
    );
    const conflict = await http('PUT', '/api/v1/namespaces/demo/configmaps/watched', stale);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.json['reason'], 'Conflict');
    const missing = await http('GET', '/api/v1/namespaces/demo/configmaps/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(
      [missing.json['kind'], missing.json['reason'], missing.json['message']],
      ['Status', 'NotFound', 'configmaps "nope" not found'],
    );
    const bad = await http('POST', '/api/v1/namespaces/demo/configmaps', { metadata: { name: 'Not_Valid' } });
    assert.equal(bad.status, 422);
    const causes = (bad.json['details'] as { causes: { field: string }[] }).causes;
    assert.equal(causes[0]?.field, 'metadata.name');
    const takenIp = await http('POST', '/api/v1/namespaces/demo/services', {
      metadata: { name: 'dup' },
      spec: { clusterIP: '10.96.0.1', ports: [{ port: 1 }] },
    });
    assert.equal(takenIp.status, 422);
    const unsupported = await http(
      'GET',
      '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies',
    );
    assert.equal(unsupported.status, 404);
    assert.match(String(unsupported.json['message']), /not supported by the waymesh lab/);
    assert.equal(
      (await http('POST', '/api/v1/namespaces/missing/configmaps', { metadata: { name: 'x' } })).json[
        'message'
      ],
      'namespaces "missing" not found',
    );
  });

  it('issues service-account tokens, reviews them and rejects them once the account is gone', async () => {
    await http('POST', '/api/v1/namespaces/demo/serviceaccounts', { metadata: { name: 'robot' } });
    const pod = await http('POST', '/api/v1/namespaces/demo/pods', {
      metadata: { name: 'p1' },
      spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'x' }] },
    });
    const podUid = (pod.json['metadata'] as { uid: string }).uid;
    const tr = await http('POST', '/api/v1/namespaces/demo/serviceaccounts/robot/token', {
      spec: {
        audiences: ['mesh'],
        expirationSeconds: 600,
        boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p1', uid: podUid },
      },
    });
    assert.equal(tr.status, 201);
    const token = (tr.json['status'] as { token: string }).token;
    const review = await http('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      spec: { token, audiences: ['mesh'] },
    });
    const st = review.json['status'] as {
      authenticated: boolean;
      user: { username: string; extra: Record<string, string[]> };
    };
    assert.equal(st.authenticated, true);
    assert.equal(st.user.username, 'system:serviceaccount:demo:robot');
    assert.deepEqual(st.user.extra['authentication.kubernetes.io/pod-uid'], [podUid]);
    assert.deepEqual(st.user.extra['authentication.kubernetes.io/node-name'], ['node-a']);
    const apiTok = (await http('POST', '/api/v1/namespaces/demo/serviceaccounts/robot/token', { spec: {} }))
      .json['status'] as { token: string };
    assert.equal(
      (await http('GET', '/api/v1/namespaces/demo/configmaps', undefined, { token: apiTok.token })).status,
      200,
    );
    // Graceful pod deletion: a scheduled pod stays (deletionTimestamp) until the kubelet deletes it with grace 0.
    const del = await http('DELETE', '/api/v1/namespaces/demo/pods/p1');
    assert.equal(
      (del.json['metadata'] as { deletionGracePeriodSeconds: number }).deletionGracePeriodSeconds,
      30,
    );
    assert.equal((await http('GET', '/api/v1/namespaces/demo/pods/p1')).status, 200);
    const forced = await http('DELETE', '/api/v1/namespaces/demo/pods/p1', { gracePeriodSeconds: 0 });
    assert.equal(forced.status, 200, JSON.stringify(forced.json));
    assert.equal((await http('GET', '/api/v1/namespaces/demo/pods/p1')).status, 404);
    const afterPod = await http('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      spec: { token, audiences: ['mesh'] },
    });
    assert.equal((afterPod.json['status'] as { authenticated: boolean }).authenticated, false);
    await kubectl('delete', '-n', 'demo', 'sa', 'robot');
    assert.equal(
      (await http('GET', '/api/v1/namespaces/demo/configmaps', undefined, { token: apiTok.token })).status,
      401,
    );
  });

  it('cascades deletion through ownerReferences and serves CRDs', async () => {
    const owner = await http('POST', '/api/v1/namespaces/demo/configmaps', { metadata: { name: 'owner' } });
    const ref = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'owner',
      uid: (owner.json['metadata'] as { uid: string }).uid,
    };
    await http('POST', '/api/v1/namespaces/demo/configmaps', {
      metadata: { name: 'child', ownerReferences: [ref] },
    });
    await kubectl('delete', '-n', 'demo', 'cm', 'owner');
    await lab?.api.settled();
    assert.equal((await http('GET', '/api/v1/namespaces/demo/configmaps/child')).status, 404);
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wdg'] },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    };
    writeFileSync(join(dir, 'crd.json'), JSON.stringify(crd));
    await kubectl('apply', '-f', join(dir, 'crd.json'));
    writeFileSync(
      join(dir, 'w.yaml'),
      'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: demo}\nspec: {size: 3}\n',
    );
    await kubectl('apply', '-f', join(dir, 'w.yaml'));
    assert.match(await kubectl('get', 'wdg', '-n', 'demo', '-o', 'name'), /widget.example.com\/w1/);
    await kubectl('delete', 'crd', 'widgets.example.com');
    assert.equal((await http('GET', '/apis/example.com/v1/namespaces/demo/widgets/w1')).status, 404);
  });

  it('keeps an informer in sync across status updates and a 410, and survives a restart', async () => {
    await stop(lab);
    lab = await start(3, 1); // tiny watch history so a resumed watch gets 410 Gone
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const apps = kc.makeApiClient(AppsV1Api);
    const informer = makeInformer<V1Deployment>(kc, '/apis/apps/v1/namespaces/demo/deployments', () =>
      apps.listNamespacedDeployment({ namespace: 'demo' }),
    );
    const updates: string[] = [];
    informer.on('update', (d) => updates.push(JSON.stringify(d.status ?? {})));
    informer.on('error', () => undefined);
    await informer.start();
    try {
      assert.deepEqual(
        informer.list().map((d) => d.metadata?.name),
        ['web'],
      );
      await http('PUT', '/apis/apps/v1/namespaces/demo/deployments/web/status', {
        ...(await http('GET', '/apis/apps/v1/namespaces/demo/deployments/web')).json,
        status: { replicas: 2, readyReplicas: 2 },
      });
      for (let i = 0; i < 50 && !updates.some((u) => u.includes('readyReplicas')); i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(
        updates.some((u) => u.includes('"readyReplicas":2')),
        'informer saw the status update',
      );
      // Writes elsewhere evict the informer's resume point; when its watch times out (1 s here) the resume gets 410 and it relists.
      const listsBefore = lab.urls.filter(
        (u) => u.startsWith('GET /apis/apps/v1/namespaces/demo/deployments') && !u.includes('watch'),
      ).length;
      for (let i = 0; i < 5; i++)
        await http('POST', '/api/v1/namespaces/demo/configmaps', { metadata: { name: `filler-${i}` } });
      const lists = (): number =>
        lab?.urls.filter(
          (u) => u.startsWith('GET /apis/apps/v1/namespaces/demo/deployments') && !u.includes('watch'),
        ).length ?? 0;
      for (let i = 0; i < 80 && lists() <= listsBefore; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(lists() > listsBefore, 'the informer relisted after 410');
      await http(
        'PATCH',
        '/apis/apps/v1/namespaces/demo/deployments/web',
        { spec: { replicas: 5 } },
        { contentType: 'application/merge-patch+json' },
      );
      for (let i = 0; i < 60 && informer.list()[0]?.spec?.replicas !== 5; i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(informer.list()[0]?.spec?.replicas, 5, 'the informer keeps watching after the relist');
    } finally {
      await informer.stop();
    }
    const before = JSON.parse(await kubectl('get', 'cm,svc,deploy', '-n', 'demo', '-o', 'json')) as {
      items: { metadata: { name: string; resourceVersion: string; uid: string } }[];
    };
    await stop(lab);
    lab = await start();
    const afterRestart = JSON.parse(
      await kubectl('get', 'cm,svc,deploy', '-n', 'demo', '-o', 'json'),
    ) as typeof before;
    assert.ok(before.items.length >= 7);
    assert.deepEqual(afterRestart.items, before.items);
    const svc = await http('POST', '/api/v1/namespaces/demo/services', {
      metadata: { name: 'after-restart' },
      spec: { ports: [{ port: 1 }] },
    });
    const ips = before.items.map((i) => JSON.stringify(i)).join();
    assert.ok(
      !ips.includes(`"clusterIP":"${(svc.json['spec'] as { clusterIP: string }).clusterIP}"`),
      'allocated ClusterIPs survive the restart',
    );
    const created = await http('POST', '/api/v1/namespaces/demo/configmaps', {
      metadata: { name: 'post-restart' },
    });
    const maxRv = Math.max(...before.items.map((i) => Number(i.metadata.resourceVersion)));
    assert.ok(Number((created.json['metadata'] as { resourceVersion: string }).resourceVersion) > maxRv);
  });

  it('serves container logs to kubectl logs: container choice, --tail, --limit-bytes, -f, refusals', async () => {
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const log = (c: string): string => join(dir, 'logs', `default_talker_${c}.log`);
    await kubectl('apply', '-f', writePod(dir));
    writeFileSync(log('app'), 'one\ntwo\nthree\n');
    assert.equal(await kubectl('logs', 'talker', '-c', 'app'), 'one\ntwo\nthree\n');
    assert.equal(await kubectl('logs', 'talker', '-c', 'app', '--tail=2'), 'two\nthree\n');
    assert.equal(await kubectl('logs', 'talker', '-c', 'app', '--tail=0'), '');
    assert.equal(await kubectl('logs', 'talker', '-c', 'app', '--limit-bytes=5'), 'one\nt');
    // kubectl picks the first container itself; the API asks for one when there are several.
    assert.equal(await kubectl('logs', 'talker'), 'one\ntwo\nthree\n');
    const unnamed = await http('GET', '/api/v1/namespaces/default/pods/talker/log');
    assert.equal(unnamed.status, 400);
    assert.match(
      String(unnamed.json['message']),
      /a container name must be specified for pod talker, choose one of: \[app side\]/,
    );
    assert.match(
      await kubectlFails('logs', 'talker', '-c', 'nope'),
      /container nope is not valid for pod talker/,
    );
    assert.match(
      await kubectlFails('logs', 'talker', '-c', 'side'),
      /container "side" in pod "talker" is waiting to start/,
    );
    assert.match(
      await kubectlFails('logs', 'talker', '-c', 'app', '--previous'),
      /previous is not supported by the waymesh lab/,
    );
    assert.match(
      await kubectlFails('logs', 'talker', '-c', 'app', '--since=1h'),
      /sinceSeconds is not supported/,
    );
    assert.match(await kubectlFails('logs', 'missing'), /pods "missing" not found/);
    // -f: what is there, then what is appended, until the pod is deleted.
    const f = spawn('kubectl', ['logs', '-f', 'talker', '-c', 'app', '--tail=1'], {
      env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir, 'cache') },
    });
    children.add(f);
    let seen = '';
    const saw = (text: string): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (!seen.includes(text)) return;
          f.stdout.off('data', onData);
          resolve();
        };
        const onData = (c: Buffer): void => {
          seen += c.toString();
          check();
        };
        f.stdout.on('data', onData);
        check();
      });
    await saw('three\n');
    appendFileSync(log('app'), 'four\n');
    await saw('four\n');
    const exited = new Promise<number | null>((resolve) => f.once('exit', (code) => resolve(code)));
    await kubectl('delete', 'pod', 'talker', '--wait=false');
    assert.equal(await exited, 0);
    assert.equal(seen, 'three\nfour\n');
  });

  it('terminates a namespace with its contents', async () => {
    await kubectl('delete', 'namespace', 'demo');
    assert.match(await kubectlFails('get', 'namespace', 'demo'), /namespaces "demo" not found/);
    assert.equal((await http('GET', '/apis/apps/v1/namespaces/demo/deployments/web')).status, 404);
    const recreated = await http('POST', '/api/v1/namespaces/demo/configmaps', { metadata: { name: 'x' } });
    assert.equal(recreated.status, 404);
  });
});
