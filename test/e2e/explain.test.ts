/**
 * `waymesh x explain` against the lab (issue 7 §3): with the mesh installed by kubectl and a
 * small app behind a waypoint with an HTTPRoute, the command names the waypoint, the route, the
 * rule and the weighted backends a request from the client pod would take.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'mocha';
import { useLab, WAYMESH } from '../helpers/lab.ts';

const run = promisify(execFile);
const INSTALL = join(import.meta.dirname, '..', '..', 'manifests', 'install.yaml');

const APP = `
apiVersion: v1
kind: Namespace
metadata: { name: xe, labels: { waymesh.io/dataplane-mode: ambient, waymesh.io/use-waypoint: waypoint } }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: xe, labels: { app: client } }
spec:
  containers: [{ name: client, image: waymesh/client:0.1.0 }]
---
apiVersion: v1
kind: Pod
metadata: { name: echo-v1, namespace: xe, labels: { app: echo, version: v1 } }
spec:
  containers:
    - { name: echo, image: waymesh/echo:latest, args: ['--http-port', '8080'], ports: [{ name: http, containerPort: 8080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: echo-v2, namespace: xe, labels: { app: echo, version: v2 } }
spec:
  containers:
    - { name: echo, image: waymesh/echo:latest, args: ['--http-port', '8080'], ports: [{ name: http, containerPort: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: xe }
spec: { selector: { app: echo }, ports: [{ name: http, port: 80, targetPort: http, appProtocol: http }] }
---
apiVersion: v1
kind: Service
metadata: { name: echo-v1, namespace: xe }
spec: { selector: { app: echo, version: v1 }, ports: [{ name: http, port: 80, targetPort: http, appProtocol: http }] }
---
apiVersion: v1
kind: Service
metadata: { name: echo-v2, namespace: xe }
spec: { selector: { app: echo, version: v2 }, ports: [{ name: http, port: 80, targetPort: http, appProtocol: http }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: waypoint, namespace: xe }
spec:
  gatewayClassName: waymesh-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo, namespace: xe }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 80 }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      backendRefs: [{ name: echo-v1, port: 80, weight: 90 }, { name: echo-v2, port: 80, weight: 10 }]
`;

describe('waymesh x explain in the lab (e2e)', function () {
  this.timeout(90_000);
  const lab = useLab('x');

  const explain = async (...args: string[]): Promise<string> =>
    (
      await run(process.execPath, [WAYMESH, 'x', 'explain', ...args, '--kubeconfig', lab.kubeconfig], {
        timeout: 30_000,
      })
    ).stdout;

  it('names the waypoint, route, rule and the 90/10 backends of a request from the client pod', async () => {
    await lab.kubectl('apply', '-f', INSTALL);
    lab.kubectlIn(APP, 'apply', '-f', '-');
    await lab.kubectl(
      '-n',
      'xe',
      'wait',
      '--for=condition=Ready',
      'pod/client',
      'pod/echo-v1',
      'pod/echo-v2',
      '--timeout=60s',
    );
    await lab.kubectl('-n', 'xe', 'wait', '--for=condition=Programmed', 'gateway/waypoint', '--timeout=60s');
    const out = await explain('--from', 'xe/client', 'http://echo/api/items?x=1');
    assert.match(out, /waypoint: Gateway\/xe\/waypoint/);
    assert.match(out, /route: +HTTPRoute\/xe\/echo/);
    assert.match(out, /rule: +0 \(httproute\/xe\/echo\/rule\/0\/match\/0\)/);
    assert.match(out, /90% +xe\/echo-v1:80 +\/api\/items\?x=1/);
    assert.match(out, /10% +xe\/echo-v2:80/);
    assert.match(out, /ready +xe\/echo-v1 /);
    assert.match(out, /result: +FORWARDED/);
    const json = JSON.parse(await explain('--from', 'xe/client', 'http://echo/other', '-o', 'json')) as {
      outcome: { result: string; status?: number };
    };
    assert.deepEqual([json.outcome.result, json.outcome.status], ['no-route', 404]);
  });
});
