/**
 * The controller installed in the lab by `kubectl apply -f manifests/install.yaml` (issue 4 §6,
 * §7): both replicas come up, one holds the Lease, routes applied with kubectl get their status,
 * a deleted Gateway takes its waypoint Deployment with it, and killing the leader hands the Lease
 * (and the status writes) to the other replica.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'mocha';
import { errorMessage } from '../../common/errors.ts';
import { rootCertPem } from '../helpers/journey.ts';
import { useLab, WAYMESH } from '../helpers/lab.ts';

const run = promisify(execFile);
const INSTALL = join(import.meta.dirname, '..', '..', 'manifests', 'install.yaml');

const APP = `
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: { waymesh.io/dataplane-mode: ambient, waymesh.io/use-waypoint: waypoint }
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
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: shop }
spec:
  selector: { app: echo }
  ports: [{ name: http, port: 80, targetPort: http, appProtocol: http }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: waypoint, namespace: shop }
spec:
  gatewayClassName: waymesh-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: good, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 80 }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /v1 } }]
    backendRefs: [{ name: echo, port: 80 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: missing-backend, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo }]
  rules:
  - matches: [{ headers: [{ name: x-canary, value: "1" }] }]
    backendRefs: [{ name: nowhere, port: 80 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: wrong-port, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 81 }]
  rules:
  - backendRefs: [{ name: echo, port: 80 }]
`;

interface Condition {
  type: string;
  status: string;
  reason: string;
}
interface RouteStatus {
  status?: { parents?: { controllerName: string; conditions?: Condition[] }[] };
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

describe('controller installed in the lab (e2e, kubectl)', function () {
  this.timeout(240_000);
  const lab = useLab('c');
  const { kubectl } = lab;

  const json = async <T>(...args: string[]): Promise<T> =>
    JSON.parse(await kubectl(...args, '-o', 'json')) as T;
  const ours = (r: RouteStatus): Record<string, string> =>
    Object.fromEntries(
      (
        r.status?.parents?.find((p) => p.controllerName === 'waymesh.io/mesh-controller')?.conditions ?? []
      ).map((c) => [c.type, `${c.status}/${c.reason}`]),
    );
  const holder = async (): Promise<string> =>
    (
      await kubectl(
        '-n',
        'waymesh-system',
        'get',
        'lease',
        'waymesh-controller',
        '-o',
        'jsonpath={.spec.holderIdentity}',
      )
    ).trim();

  it('applies cleanly and both controller replicas become ready, one holding the Lease', async () => {
    const out = await kubectl('apply', '-f', INSTALL);
    assert.match(out, /deployment.apps\/waymesh-controller created/);
    assert.match(out, /clusterrole.rbac.authorization.k8s.io\/waymesh-controller created/);
    await kubectl(
      '-n',
      'waymesh-system',
      'rollout',
      'status',
      'deployment/waymesh-controller',
      '--timeout=90s',
    );
    const pods = await json<{ items: { metadata: { name: string } }[] }>(
      '-n',
      'waymesh-system',
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/name=waymesh-controller',
    );
    assert.equal(pods.items.length, 2);
    const leader = await eventually('a Lease holder', async () =>
      (await holder()) === '' ? undefined : holder(),
    );
    assert.ok(
      pods.items.some((p) => p.metadata.name === leader),
      `${leader} is one of the replicas`,
    );
    const gc = await eventually('GatewayClass Accepted', async () => {
      const c = await json<{ status?: { conditions?: Condition[] } }>(
        'get',
        'gatewayclass',
        'waymesh-waypoint',
      );
      return c.status?.conditions?.find((x) => x.type === 'Accepted' && x.status === 'True');
    });
    assert.equal(gc.reason, 'Accepted');
    const roots = await rootCertPem(lab);
    assert.match(roots, /BEGIN CERTIFICATE/);
  });

  it('writes route statuses for routes applied with kubectl, with the reason of each failure', async () => {
    lab.kubectlIn(APP, 'apply', '-f', '-');
    const good = await eventually('good route status', async () => {
      const s = ours(await json<RouteStatus>('-n', 'shop', 'get', 'httproute', 'good'));
      return s['Accepted'] === undefined ? undefined : s;
    });
    assert.equal(good['Accepted'], 'True/Accepted');
    assert.equal(good['ResolvedRefs'], 'True/ResolvedRefs');
    const missing = await eventually('missing-backend status', async () => {
      const s = ours(await json<RouteStatus>('-n', 'shop', 'get', 'httproute', 'missing-backend'));
      return s['ResolvedRefs'] === undefined ? undefined : s;
    });
    assert.equal(missing['ResolvedRefs'], 'False/BackendNotFound');
    const wrong = await eventually('wrong-port status', async () => {
      const s = ours(await json<RouteStatus>('-n', 'shop', 'get', 'httproute', 'wrong-port'));
      return s['Accepted'] === undefined ? undefined : s;
    });
    assert.equal(wrong['Accepted'], 'False/NoMatchingParent');
    // The waypoint's objects exist, owned by the Gateway.
    const dep = await eventually('waypoint Deployment', () =>
      json<{ metadata: { ownerReferences?: { kind: string; name: string }[] } }>(
        '-n',
        'shop',
        'get',
        'deployment',
        'waypoint',
      ),
    );
    assert.deepEqual(
      dep.metadata.ownerReferences?.map((o) => `${o.kind}/${o.name}`),
      ['Gateway/waypoint'],
    );
  });

  it('deleting the Gateway removes its Deployment, Service and ServiceAccount', async () => {
    await kubectl('-n', 'shop', 'delete', 'gateway', 'waypoint', '--wait=true', '--timeout=60s');
    await eventually('waypoint objects gone', async () => {
      const left = (await kubectl('-n', 'shop', 'get', 'deployment,service,serviceaccount', '-o', 'name'))
        .trim()
        .split('\n');
      return left.some((n) => n.endsWith('/waypoint')) ? undefined : true;
    });
  });

  it('when the leader is killed, the other replica takes the Lease and keeps writing status', async () => {
    const leader = await holder();
    // SIGKILL: the Lease is not released, so the other replica must wait for it to expire.
    await kubectl('-n', 'waymesh-system', 'delete', 'pod', leader, '--grace-period=0', '--force');
    const next = await eventually('a new Lease holder', async () => {
      const h = await holder();
      return h !== '' && h !== leader ? h : undefined;
    });
    assert.notEqual(next, leader);
    lab.kubectlIn(
      `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: after-failover, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo }]
  rules: [{ backendRefs: [{ name: echo, port: 80 }] }]
`,
      'apply',
      '-f',
      '-',
    );
    const s = await eventually('status from the new leader', async () => {
      const st = ours(await json<RouteStatus>('-n', 'shop', 'get', 'httproute', 'after-failover'));
      return st['Accepted'] === undefined ? undefined : st;
    });
    assert.equal(s['Accepted'], 'True/Accepted');
  });

  it('waymesh status shows both replicas and the current leader', async () => {
    await kubectl(
      '-n',
      'waymesh-system',
      'rollout',
      'status',
      'deployment/waymesh-controller',
      '--timeout=90s',
    );
    const leader = await holder();
    const { stdout } = await run(process.execPath, [WAYMESH, 'status', '--kubeconfig', lab.kubeconfig]);
    assert.match(stdout, /controller\s+2\/2\s/);
    assert.ok(stdout.includes(`${leader} (leader)`), stdout);
  });
});
