/**
 * The node agent installed in the lab by `kubectl apply -f manifests/install.yaml` (issue 5 §1,
 * §5): one agent Ready per node; labelling a namespace ambient captures its running pods without
 * restarting them (annotation `waymesh.io/redirection: enabled`, same uid, no restart) and
 * traffic keeps flowing; removing the label releases them.
 *
 * The app pods are created after the agents, so the agents must see network namespaces that
 * appear after they started (the lab's containers get host mounts with slave propagation, like
 * the DaemonSet's HostToContainer /var/run/netns mount in a real cluster).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'mocha';
import { errorMessage } from '../../common/errors.ts';
import { useLab } from '../helpers/lab.ts';

const INSTALL = join(import.meta.dirname, '..', '..', 'manifests', 'install.yaml');

const APP = `
apiVersion: v1
kind: Namespace
metadata: { name: shop }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo, namespace: shop }
spec:
  replicas: 1
  selector: { matchLabels: { app: echo } }
  template:
    metadata: { labels: { app: echo } }
    spec:
      containers:
      - name: echo
        image: waymesh/echo:latest
        args: ["--http-port", "8080"]
        ports: [{ name: http, containerPort: 8080 }]
        readinessProbe: { httpGet: { path: /, port: 8080 }, periodSeconds: 2 }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: shop }
spec:
  selector: { app: echo }
  ports: [{ name: http, port: 80, targetPort: http, appProtocol: http }]
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: shop }
spec:
  containers: [{ name: client, image: waymesh/client:latest }]
`;

interface Pod {
  metadata: { name: string; uid: string; annotations?: Record<string, string> };
  status?: { containerStatuses?: { restartCount: number; ready: boolean }[] };
}

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

describe('node agent installed in the lab (e2e, kubectl)', function () {
  this.timeout(240_000);
  const lab = useLab('na');
  const { kubectl } = lab;
  const pods = async (): Promise<Pod[]> =>
    (JSON.parse(await kubectl('-n', 'shop', 'get', 'pods', '-o', 'json')) as { items: Pod[] }).items;
  const redirected = (p: Pod): boolean => p.metadata.annotations?.['waymesh.io/redirection'] === 'enabled';
  let before: Pod[] = [];

  it('runs one Ready agent per node after kubectl apply', async () => {
    await kubectl('apply', '-f', INSTALL);
    await kubectl(
      '-n',
      'waymesh-system',
      'rollout',
      'status',
      'daemonset/waymesh-node-agent',
      '--timeout=90s',
    );
    const nodes = (await kubectl('get', 'nodes', '-o', 'name')).trim().split('\n');
    const agents = JSON.parse(
      await kubectl(
        '-n',
        'waymesh-system',
        'get',
        'pods',
        '-l',
        'app.kubernetes.io/name=waymesh-node-agent',
        '-o',
        'json',
      ),
    ) as {
      items: { spec: { nodeName: string }; status: { conditions?: { type: string; status: string }[] } }[];
    };
    assert.equal(agents.items.length, nodes.length);
    assert.deepEqual(
      agents.items.map((a) => `node/${a.spec.nodeName}`).sort(),
      [...nodes].sort(),
      'one agent on every node',
    );
    for (const a of agents.items)
      assert.ok(a.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    lab.kubectlIn(APP, 'apply', '-f', '-');
    await kubectl('-n', 'shop', 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=60s');
    before = await pods();
    assert.equal(before.length, 2);
  });

  it('captures the pods of a namespace labelled ambient without restarting them', async () => {
    await kubectl('label', 'namespace', 'shop', 'waymesh.io/dataplane-mode=ambient');
    const after = await eventually('both pods annotated', async () => {
      const now = await pods();
      return now.length === 2 && now.every(redirected) ? now : undefined;
    });
    for (const p of after) {
      const old = before.find((b) => b.metadata.name === p.metadata.name);
      assert.equal(p.metadata.uid, old?.metadata.uid, `${p.metadata.name} is the same pod`);
      assert.equal(p.status?.containerStatuses?.[0]?.restartCount, 0, `${p.metadata.name} did not restart`);
    }
    const body = await eventually('echo through the agents', () =>
      lab.exec('shop/client', 'curl', '-sf', 'http://echo/'),
    );
    assert.match(body, /echo/i);
    // The request went through the agents: some agent counted an inbound HBONE connection.
    const hostIps = (
      await kubectl(
        '-n',
        'waymesh-system',
        'get',
        'pods',
        '-l',
        'app.kubernetes.io/name=waymesh-node-agent',
        '-o',
        'jsonpath={.items[*].status.hostIP}',
      )
    )
      .trim()
      .split(' ');
    const scraped = await Promise.all(
      hostIps.map((ip) => lab.exec('shop/client', 'curl', '-sf', `http://${ip}:15020/metrics`)),
    );
    assert.match(
      scraped.join('\n'),
      /^waymesh_tcp_connections_opened_total\{[^}]*direction="inbound"[^}]*\} [1-9]/m,
    );
  });

  it('releases them when the label is removed, and traffic is plain again', async () => {
    await kubectl('label', 'namespace', 'shop', 'waymesh.io/dataplane-mode-');
    await eventually('annotations removed', async () => ((await pods()).some(redirected) ? undefined : true));
    const body = await lab.exec('shop/client', 'curl', '-sf', 'http://echo/');
    assert.match(body, /echo/i);
    const now = await pods();
    assert.ok(now.every((p) => p.status?.containerStatuses?.[0]?.restartCount === 0));
  });
});
