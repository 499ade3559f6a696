/**
 * The lab end to end, driven only by `waymesh lab` verbs and the real `kubectl`: a cluster
 * comes up, a Deployment + Service of waymesh/echo and a waymesh/client pod are applied, the
 * client reaches echo by service name (cluster DNS + kube-proxy) and by pod IP across nodes, a
 * deleted pod stops answering, and `lab down` leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'mocha';
import { useLab } from '../helpers/lab.ts';

const MANIFEST = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: echo } }
  template:
    metadata: { labels: { app: echo } }
    spec:
      containers:
      - name: echo
        image: waymesh/echo:latest
        args: ["--http-port", "8080"]
        ports: [{ name: http, containerPort: 8080 }]
        readinessProbe: { httpGet: { path: /, port: http }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: default }
spec:
  selector: { app: echo }
  ports: [{ name: http, port: 80, targetPort: http }]
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: default }
spec:
  containers:
  - name: client
    image: waymesh/client:latest
`;

describe('lab (e2e, kubectl + waymesh lab)', function () {
  this.timeout(180_000);
  const lab = useLab('e');
  const { kubectl } = lab;
  const waymeshExec = lab.exec;

  it('serves echo to a client by service name within 30 s of apply', async () => {
    const t0 = Date.now();
    const apply = lab.kubectlIn(MANIFEST, 'apply', '-f', '-');
    assert.match(apply, /deployment.apps\/echo (created|unchanged|configured)/);
    // Not `kubectl wait pod -l app=echo`: right after the apply the Deployment may have no pod
    // yet, and kubectl then fails at once with "no matching resources found".
    await kubectl('rollout', 'status', 'deployment/echo', '--timeout=60s');
    await kubectl('wait', '--for=condition=Ready', 'pod/client', '--timeout=60s');
    let body = '';
    for (let i = 0; i < 50 && body === ''; i++) {
      body = await waymeshExec('default/client', 'curl', '-s', '--max-time', '2', 'http://echo/').catch(
        () => '',
      );
      if (body === '') await new Promise((r) => setTimeout(r, 200));
    }
    const answer = JSON.parse(body) as { pod: string; namespace: string; host: string };
    assert.match(answer.pod, /^echo-/);
    assert.equal(answer.namespace, 'default');
    assert.equal(answer.host, 'echo');
    const seconds = (Date.now() - t0) / 1000;
    assert.ok(seconds < 30, `took ${seconds} s`);
  });

  it('spreads the replicas over both nodes and reaches each pod by IP', async () => {
    const pods = JSON.parse(await kubectl('get', 'pods', '-l', 'app=echo', '-o', 'json')) as {
      items: { metadata: { name: string }; spec: { nodeName: string }; status: { podIP: string } }[];
    };
    assert.equal(new Set(pods.items.map((p) => p.spec.nodeName)).size, 2);
    for (const p of pods.items) {
      const body = JSON.parse(
        await waymeshExec(
          'default/client',
          'curl',
          '-s',
          '--max-time',
          '2',
          `http://${p.status.podIP}:8080/`,
        ),
      ) as { pod: string };
      assert.equal(body.pod, p.metadata.name);
    }
  });

  it('a deleted pod stops answering', async () => {
    const pods = JSON.parse(await kubectl('get', 'pods', '-l', 'app=echo', '-o', 'json')) as {
      items: { metadata: { name: string }; status: { podIP: string } }[];
    };
    const victim = pods.items[0];
    assert.ok(victim !== undefined);
    await kubectl('delete', 'pod', victim.metadata.name, '--wait=true', '--timeout=60s');
    const res = await waymeshExec(
      'default/client',
      'curl',
      '-s',
      '--max-time',
      '2',
      `http://${victim.status.podIP}:8080/`,
    ).catch((err: { code?: number }) => `exit ${err.code ?? '?'}`);
    assert.match(res, /^exit /);
  });

  it('lab down leaves no namespace, link or file behind', async () => {
    await lab.waymesh('down');
    const netns = execFileSync('ip', ['netns', 'list']).toString();
    assert.ok(!netns.includes(`wml-${lab.name}-`), netns);
    assert.ok(!existsSync(lab.dir));
    assert.ok(!existsSync(`/etc/netns/wml-${lab.name}-core`));
  });
});
