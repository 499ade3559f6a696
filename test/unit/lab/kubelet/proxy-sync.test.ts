// Services and EndpointSlices → the proxy's view: ClusterIP services only, service ports
// matched to slice ports by name and protocol, ready endpoints only, slices merged, sorted.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type {
  DiscoveryV1EndpointPort,
  V1Endpoint,
  V1EndpointSlice,
  V1Service,
  V1ServicePort,
} from '@kubernetes/client-node';

import { proxyServices } from '../../../../lab/kubelet/proxy-sync.ts';

function service(
  name: string,
  clusterIP: string | undefined,
  ports: V1ServicePort[],
  namespace = 'demo',
): V1Service {
  return {
    metadata: { name, namespace },
    spec: { ...(clusterIP === undefined ? {} : { clusterIP }), ports },
  };
}

function slice(
  name: string,
  service: string,
  ports: DiscoveryV1EndpointPort[],
  endpoints: V1Endpoint[],
  namespace = 'demo',
): V1EndpointSlice {
  return {
    addressType: 'IPv4',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service } },
    ports,
    endpoints,
  };
}

function ep(ip: string, ready?: boolean, terminating?: boolean): V1Endpoint {
  return {
    addresses: [ip],
    ...(ready === undefined && terminating === undefined
      ? {}
      : {
          conditions: {
            ...(ready === undefined ? {} : { ready }),
            ...(terminating === undefined ? {} : { terminating }),
          },
        }),
  };
}

describe('lab/kubelet/proxy-sync proxyServices', () => {
  it('maps a service port to the slice port of the same name, ready endpoints only', () => {
    const got = proxyServices(
      [service('web', '10.96.0.20', [{ name: 'http', port: 80, protocol: 'TCP' }])],
      [
        slice(
          'web-abc',
          'web',
          [{ name: 'http', port: 8080, protocol: 'TCP' }],
          [ep('10.244.2.3', true), ep('10.244.1.2'), ep('10.244.1.9', false), ep('10.244.1.7', false, true)],
        ),
      ],
    );
    assert.deepEqual(got, [
      {
        namespace: 'demo',
        name: 'web',
        clusterIP: '10.96.0.20',
        ports: [
          {
            name: 'http',
            port: 80,
            protocol: 'TCP',
            endpoints: [
              { ip: '10.244.1.2', port: 8080 },
              { ip: '10.244.2.3', port: 8080 },
            ],
          },
        ],
      },
    ]);
  });

  it('skips headless services and services without a ClusterIP', () => {
    const got = proxyServices(
      [
        service('headless', 'None', [{ port: 80 }]),
        service('pending', undefined, [{ port: 80 }]),
        service('blank', '', [{ port: 80 }]),
        service('kept', '10.96.0.5', [{ port: 80 }]),
      ],
      [],
    );
    assert.deepEqual(
      got.map((s) => s.name),
      ['kept'],
    );
  });

  it('matches an unnamed port to the unnamed slice port', () => {
    const got = proxyServices(
      [service('web', '10.96.0.20', [{ port: 80 }])],
      [slice('web-1', 'web', [{ port: 8080 }], [ep('10.244.1.2', true)])],
    );
    assert.deepEqual(got[0]?.ports, [
      { name: '', port: 80, protocol: 'TCP', endpoints: [{ ip: '10.244.1.2', port: 8080 }] },
    ]);
  });

  it('matches by protocol: DNS on UDP and TCP with the same number', () => {
    const got = proxyServices(
      [
        service('dns', '10.96.0.10', [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ]),
      ],
      [
        slice(
          'dns-1',
          'dns',
          [
            { name: 'dns-tcp', port: 5353, protocol: 'TCP' },
            { name: 'dns', port: 5353, protocol: 'UDP' },
          ],
          [ep('10.244.1.9', true)],
        ),
      ],
    );
    assert.deepEqual(got[0]?.ports, [
      { name: 'dns', port: 53, protocol: 'UDP', endpoints: [{ ip: '10.244.1.9', port: 5353 }] },
      { name: 'dns-tcp', port: 53, protocol: 'TCP', endpoints: [{ ip: '10.244.1.9', port: 5353 }] },
    ]);
  });

  it('does not match a slice port of the same name but another protocol', () => {
    const got = proxyServices(
      [service('web', '10.96.0.20', [{ name: 'p', port: 80, protocol: 'UDP' }])],
      [slice('web-1', 'web', [{ name: 'p', port: 8080, protocol: 'TCP' }], [ep('10.244.1.2', true)])],
    );
    assert.deepEqual(got[0]?.ports, [{ name: 'p', port: 80, protocol: 'UDP', endpoints: [] }]);
  });

  it('keeps a service port without a matching slice port, with no endpoints', () => {
    const got = proxyServices(
      [
        service('web', '10.96.0.20', [
          { name: 'http', port: 80 },
          { name: 'admin', port: 9000 },
        ]),
      ],
      [slice('web-1', 'web', [{ name: 'http', port: 8080, protocol: 'TCP' }], [ep('10.244.1.2', true)])],
    );
    assert.deepEqual(got[0]?.ports, [
      { name: 'http', port: 80, protocol: 'TCP', endpoints: [{ ip: '10.244.1.2', port: 8080 }] },
      { name: 'admin', port: 9000, protocol: 'TCP', endpoints: [] },
    ]);
  });

  it('merges several slices of a service, each with its own port number', () => {
    const got = proxyServices(
      [service('web', '10.96.0.20', [{ name: 'http', port: 80, protocol: 'TCP' }])],
      [
        slice('web-b', 'web', [{ name: 'http', port: 9090, protocol: 'TCP' }], [ep('10.244.2.5', true)]),
        slice(
          'web-a',
          'web',
          [{ name: 'http', port: 8080, protocol: 'TCP' }],
          [ep('10.244.1.2', true), ep('10.244.1.3', true)],
        ),
      ],
    );
    assert.deepEqual(got[0]?.ports[0]?.endpoints, [
      { ip: '10.244.1.2', port: 8080 },
      { ip: '10.244.1.3', port: 8080 },
      { ip: '10.244.2.5', port: 9090 },
    ]);
  });

  it('ignores slices of other services and other namespaces, and unlabelled slices', () => {
    const unlabelled: V1EndpointSlice = {
      addressType: 'IPv4',
      metadata: { name: 'stray', namespace: 'demo' },
      ports: [{ name: 'http', port: 1, protocol: 'TCP' }],
      endpoints: [ep('10.244.9.9', true)],
    };
    const got = proxyServices(
      [service('web', '10.96.0.20', [{ name: 'http', port: 80 }])],
      [
        slice('db-1', 'db', [{ name: 'http', port: 2, protocol: 'TCP' }], [ep('10.244.9.1', true)]),
        slice(
          'web-x',
          'web',
          [{ name: 'http', port: 3, protocol: 'TCP' }],
          [ep('10.244.9.2', true)],
          'other',
        ),
        unlabelled,
        slice('web-1', 'web', [{ name: 'http', port: 8080, protocol: 'TCP' }], [ep('10.244.1.2', true)]),
      ],
    );
    assert.deepEqual(got[0]?.ports[0]?.endpoints, [{ ip: '10.244.1.2', port: 8080 }]);
  });

  it('skips endpoints without an address', () => {
    const got = proxyServices(
      [service('web', '10.96.0.20', [{ port: 80 }])],
      [slice('web-1', 'web', [{ port: 8080 }], [{ addresses: [] }, ep('10.244.1.2', true)])],
    );
    assert.deepEqual(got[0]?.ports[0]?.endpoints, [{ ip: '10.244.1.2', port: 8080 }]);
  });

  it('sorts services by namespace and name', () => {
    const got = proxyServices(
      [
        service('web', '10.96.0.3', [], 'shop'),
        service('api', '10.96.0.2', [], 'shop'),
        service('kube-dns', '10.96.0.10', [], 'kube-system'),
        service('kubernetes', '10.96.0.1', [], 'default'),
      ],
      [],
    );
    assert.deepEqual(
      got.map((s) => `${s.namespace}/${s.name}`),
      ['default/kubernetes', 'kube-system/kube-dns', 'shop/api', 'shop/web'],
    );
  });

  it('returns nothing for no services', () => {
    assert.deepEqual(proxyServices([], [slice('web-1', 'web', [{ port: 1 }], [ep('10.244.1.2', true)])]), []);
  });
});
