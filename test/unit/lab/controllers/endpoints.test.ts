// Endpoints and EndpointSlice objects of a Service: target port resolution (numbers, numeric
// strings, named ports per pod), ready / not ready / terminating pods, and slice metadata.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type {
  V1ContainerPort,
  V1EndpointSlice,
  V1Endpoints,
  V1Pod,
  V1Service,
  V1ServicePort,
} from '@kubernetes/client-node';

import { endpointsFor, resolveTargetPort } from '../../../../lab/controllers/endpoints.ts';
import { shortHash } from '../../../../lab/kube/objects.ts';

function pod(
  name: string,
  opts: {
    ip?: string;
    ready?: boolean;
    phase?: string;
    deleting?: boolean;
    namespace?: string;
    labels?: Record<string, string>;
    ports?: V1ContainerPort[][];
  } = {},
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: opts.namespace ?? 'demo',
      uid: `uid-${name}`,
      labels: opts.labels ?? { app: 'web' },
      ...(opts.deleting === true ? { deletionTimestamp: new Date('2024-05-01T00:00:00Z') } : {}),
    },
    spec: {
      nodeName: 'node-1',
      containers: (opts.ports ?? [[{ name: 'http', containerPort: 8080 }]]).map((ports, i) => ({
        name: `c${i}`,
        image: 'waymesh/echo',
        ports,
      })),
    },
    status: {
      phase: opts.phase ?? 'Running',
      ...(opts.ip === '' ? {} : { podIP: opts.ip ?? `10.244.1.${name.length}` }),
      conditions: [{ type: 'Ready', status: (opts.ready ?? true) ? 'True' : 'False' }],
    },
  };
}

function service(
  ports: V1ServicePort[],
  opts: { uid?: string; labels?: Record<string, string> } = {},
): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'web',
      namespace: 'demo',
      uid: opts.uid ?? 'svc-uid',
      ...(opts.labels === undefined ? {} : { labels: opts.labels }),
    },
    spec: { selector: { app: 'web' }, clusterIP: '10.96.0.20', ports },
  };
}

/** endpointsFor as the API server receives it (JSON, so undefined fields vanish), typed. */
function build(svc: V1Service, pods: V1Pod[]): { endpoints: V1Endpoints; slice: V1EndpointSlice } {
  const { endpoints, slice } = endpointsFor(svc, pods);
  return {
    endpoints: JSON.parse(JSON.stringify(endpoints)) as V1Endpoints,
    slice: JSON.parse(JSON.stringify(slice)) as V1EndpointSlice,
  };
}

function ref(name: string): object {
  return { kind: 'Pod', namespace: 'demo', name, uid: `uid-${name}` };
}

describe('lab/controllers/endpoints', () => {
  describe('resolveTargetPort', () => {
    const multi = pod('m', {
      ports: [
        [{ name: 'http', containerPort: 8080 }],
        [
          { name: 'dns', containerPort: 5353, protocol: 'UDP' },
          { name: 'dns-tcp', containerPort: 5354, protocol: 'TCP' },
          { name: 'metrics', containerPort: 9090 },
        ],
      ],
    });
    const cases: { name: string; port: V1ServicePort; want: number | undefined }[] = [
      { name: 'a numeric targetPort', port: { port: 80, targetPort: 8081 }, want: 8081 },
      {
        name: 'a numeric string targetPort',
        port: { port: 80, targetPort: '9000' },
        want: 9000,
      },
      { name: 'no targetPort → the service port', port: { port: 80 }, want: 80 },
      {
        name: 'a named port of the first container',
        port: { port: 80, targetPort: 'http' },
        want: 8080,
      },
      {
        name: 'a named port of a later container',
        port: { port: 80, targetPort: 'metrics' },
        want: 9090,
      },
      {
        name: 'a named UDP port for a UDP service port',
        port: { port: 53, protocol: 'UDP', targetPort: 'dns' },
        want: 5353,
      },
      {
        name: 'a named UDP port does not serve a TCP service port',
        port: { port: 53, protocol: 'TCP', targetPort: 'dns' },
        want: undefined,
      },
      {
        name: 'a named TCP port does not serve a UDP service port',
        port: { port: 80, protocol: 'UDP', targetPort: 'http' },
        want: undefined,
      },
      {
        name: 'protocol defaults to TCP on both sides',
        port: { port: 53, targetPort: 'dns-tcp' },
        want: 5354,
      },
      {
        name: 'a missing named port',
        port: { port: 80, targetPort: 'grpc' },
        want: undefined,
      },
    ];
    for (const c of cases) {
      it(c.name, () => assert.equal(resolveTargetPort(c.port, multi), c.want));
    }

    it('resolves the same name to different numbers on different pods', () => {
      const port: V1ServicePort = { port: 80, targetPort: 'http' };
      assert.equal(resolveTargetPort(port, pod('a')), 8080);
      assert.equal(
        resolveTargetPort(port, pod('b', { ports: [[{ name: 'http', containerPort: 9999 }]] })),
        9999,
      );
    });

    it('a named port on a pod without containers', () => {
      const bare: V1Pod = { metadata: { name: 'x' } };
      assert.equal(resolveTargetPort({ port: 80, targetPort: 'http' }, bare), undefined);
    });
  });

  describe('endpointsFor', () => {
    const http: V1ServicePort = {
      name: 'http',
      port: 80,
      protocol: 'TCP',
      targetPort: 'http',
    };

    it('puts ready pods in addresses and not-ready pods in notReadyAddresses of one subset', () => {
      const { endpoints } = build(service([http]), [
        pod('b', { ip: '10.244.1.2' }),
        pod('a', { ip: '10.244.1.1', ready: false }),
        pod('c', { ip: '10.244.2.3' }),
      ]);
      assert.deepEqual(endpoints.subsets, [
        {
          addresses: [
            { ip: '10.244.1.2', nodeName: 'node-1', targetRef: ref('b') },
            { ip: '10.244.2.3', nodeName: 'node-1', targetRef: ref('c') },
          ],
          notReadyAddresses: [{ ip: '10.244.1.1', nodeName: 'node-1', targetRef: ref('a') }],
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        },
      ]);
    });

    it('names and labels the Endpoints after the Service', () => {
      const { endpoints } = build(service([http], { labels: { team: 'shop' } }), [pod('a')]);
      assert.equal(endpoints.apiVersion, 'v1');
      assert.equal(endpoints.kind, 'Endpoints');
      assert.deepEqual(endpoints.metadata, { name: 'web', namespace: 'demo', labels: { team: 'shop' } });
    });

    it('leaves terminating pods out of Endpoints but marks them terminating in the slice', () => {
      const { endpoints, slice } = build(service([http]), [
        pod('a', { ip: '10.244.1.1' }),
        pod('t', { ip: '10.244.1.9', deleting: true }),
      ]);
      assert.deepEqual(endpoints.subsets, [
        {
          addresses: [{ ip: '10.244.1.1', nodeName: 'node-1', targetRef: ref('a') }],
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        },
      ]);
      assert.deepEqual(slice.endpoints, [
        {
          addresses: ['10.244.1.1'],
          conditions: { ready: true, serving: true, terminating: false },
          nodeName: 'node-1',
          targetRef: ref('a'),
        },
        {
          addresses: ['10.244.1.9'],
          conditions: { ready: false, serving: true, terminating: true },
          nodeName: 'node-1',
          targetRef: ref('t'),
        },
      ]);
    });

    it('a terminating pod that is no longer ready is neither ready nor serving', () => {
      const { slice } = build(service([http]), [pod('t', { deleting: true, ready: false })]);
      assert.deepEqual(slice.endpoints?.[0]?.conditions, { ready: false, serving: false, terminating: true });
    });

    it('a not-ready pod is in the slice with ready and serving false', () => {
      const { slice } = build(service([http]), [pod('n', { ready: false })]);
      assert.deepEqual(slice.endpoints?.[0]?.conditions, {
        ready: false,
        serving: false,
        terminating: false,
      });
    });

    it('leaves out pods without an IP, finished pods, other namespaces and unselected pods', () => {
      const { endpoints, slice } = build(service([http]), [
        pod('noip', { ip: '' }),
        pod('done', { phase: 'Succeeded' }),
        pod('failed', { phase: 'Failed' }),
        pod('elsewhere', { namespace: 'other' }),
        pod('db', { labels: { app: 'db' } }),
        pod('unlabelled', { labels: {} }),
        pod('ok', { ip: '10.244.1.5' }),
      ]);
      assert.deepEqual(
        slice.endpoints?.map((e) => e.targetRef?.name),
        ['ok'],
      );
      assert.equal(endpoints.subsets?.length, 1);
      assert.deepEqual(
        endpoints.subsets?.[0]?.addresses?.map((a) => a.ip),
        ['10.244.1.5'],
      );
    });

    it('gives pods whose named port resolves differently their own subsets', () => {
      const { endpoints } = build(service([http]), [
        pod('a', { ip: '10.244.1.1' }),
        pod('b', { ip: '10.244.1.2', ports: [[{ name: 'http', containerPort: 9090 }]] }),
        pod('c', { ip: '10.244.1.3', ready: false }),
      ]);
      assert.deepEqual(endpoints.subsets, [
        {
          addresses: [{ ip: '10.244.1.1', nodeName: 'node-1', targetRef: ref('a') }],
          notReadyAddresses: [{ ip: '10.244.1.3', nodeName: 'node-1', targetRef: ref('c') }],
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        },
        {
          addresses: [{ ip: '10.244.1.2', nodeName: 'node-1', targetRef: ref('b') }],
          ports: [{ name: 'http', port: 9090, protocol: 'TCP' }],
        },
      ]);
    });

    it('keeps a pod in Endpoints with the ports it has when another named port is missing', () => {
      const metrics: V1ServicePort = {
        name: 'metrics',
        port: 9100,
        targetPort: 'metrics',
      };
      const { endpoints } = build(service([http, metrics]), [
        pod('a', { ip: '10.244.1.1' }),
        pod('b', {
          ip: '10.244.1.2',
          ports: [
            [
              { name: 'http', containerPort: 8080 },
              { name: 'metrics', containerPort: 9100 },
            ],
          ],
        }),
      ]);
      assert.deepEqual(endpoints.subsets, [
        {
          addresses: [{ ip: '10.244.1.1', nodeName: 'node-1', targetRef: ref('a') }],
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        },
        {
          addresses: [{ ip: '10.244.1.2', nodeName: 'node-1', targetRef: ref('b') }],
          ports: [
            { name: 'http', port: 8080, protocol: 'TCP' },
            { name: 'metrics', port: 9100, protocol: 'TCP' },
          ],
        },
      ]);
    });

    it('leaves a pod with no resolvable port out of Endpoints', () => {
      const grpc: V1ServicePort = { name: 'grpc', port: 9000, targetPort: 'grpc' };
      const { endpoints, slice } = build(service([grpc]), [pod('a')]);
      assert.deepEqual(endpoints.subsets, []);
      assert.equal(slice.endpoints?.length, 1);
    });

    it('builds an empty Endpoints and slice for a Service without pods', () => {
      const { endpoints, slice } = build(service([http]), []);
      assert.deepEqual(endpoints.subsets, []);
      assert.deepEqual(slice.endpoints, []);
      assert.deepEqual(slice.ports, [{ name: 'http', port: 80, protocol: 'TCP' }]);
    });

    it('labels, names and owns the slice as the EndpointSlice controller does', () => {
      const svc = service([http], { uid: 'svc-123' });
      const { slice } = build(svc, [pod('a')]);
      assert.equal(slice.apiVersion, 'discovery.k8s.io/v1');
      assert.equal(slice.kind, 'EndpointSlice');
      assert.equal(slice.addressType, 'IPv4');
      assert.deepEqual(slice.metadata, {
        name: `web-${shortHash('svc-123', 5)}`,
        namespace: 'demo',
        labels: {
          'kubernetes.io/service-name': 'web',
          'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        },
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'Service',
            name: 'web',
            uid: 'svc-123',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      });
    });

    it('gives slices of different Service uids different names', () => {
      const a = build(service([http], { uid: 'one' }), []).slice.metadata?.name;
      const b = build(service([http], { uid: 'two' }), []).slice.metadata?.name;
      assert.notEqual(a, b);
    });

    it('lists slice ports resolved on the pods, with names, protocols and appProtocol', () => {
      const svc = service([
        http,
        { port: 53, protocol: 'UDP', targetPort: 5353 },
        {
          name: 'grpc',
          port: 9000,
          targetPort: '9001',
          appProtocol: 'kubernetes.io/h2c',
        },
      ]);
      const { slice, endpoints } = build(svc, [pod('a')]);
      assert.deepEqual(slice.ports, [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: '', port: 5353, protocol: 'UDP' },
        { name: 'grpc', port: 9001, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
      ]);
      assert.deepEqual(endpoints.subsets?.[0]?.ports, [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { port: 5353, protocol: 'UDP' },
        { name: 'grpc', port: 9001, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
      ]);
    });

    it('sorts endpoints by pod name for stable output', () => {
      const { slice } = build(service([http]), [pod('c'), pod('a'), pod('b')]);
      assert.deepEqual(
        slice.endpoints?.map((e) => e.targetRef?.name),
        ['a', 'b', 'c'],
      );
    });
  });
});
