/**
 * Objects every lab has from the start, written by the supervisor: its Nodes, the
 * `kubernetes` Service endpoints (the API server inside the lab), the cluster DNS Service
 * with its endpoints, and the Gateway API CRDs.
 */
import type { Logger } from '../../common/log.ts';
import { isApiStatus, type LabApi } from '../kube/rest.ts';
import { nodeName } from './paths.ts';

/** In-lab addresses of the lab's own services (see lab/net/plan.ts). */
export const CORE_IP = '10.100.0.1';
export const API_PORT_IN_LAB = 6443;
export const DNS_SERVICE_IP = '10.96.0.10';

async function upsert(api: LabApi, collection: string, obj: { metadata: { name: string } }): Promise<void> {
  const path = `${collection}/${obj.metadata.name}`;
  const current = await api.get<{ metadata: { resourceVersion: string } }>(path);
  if (current === undefined) {
    await api.createIfAbsent(collection, obj);
    return;
  }
  await api.request('PUT', path, {
    ...obj,
    metadata: { ...obj.metadata, resourceVersion: current.metadata.resourceVersion },
  });
}

function endpointsAndSlice(
  ns: string,
  service: string,
  ip: string,
  ports: { name: string; port: number; protocol: string }[],
): [string, object][] {
  return [
    [
      `/api/v1/namespaces/${ns}/endpoints`,
      {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: service, namespace: ns },
        subsets: [{ addresses: [{ ip }], ports }],
      },
    ],
    [
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: service,
          namespace: ns,
          labels: {
            'kubernetes.io/service-name': service,
            'endpointslice.kubernetes.io/managed-by': 'waymesh-lab',
          },
        },
        addressType: 'IPv4',
        endpoints: [{ addresses: [ip], conditions: { ready: true, serving: true, terminating: false } }],
        ports,
      },
    ],
  ];
}

/** Writes the bootstrap objects (idempotent). */
export async function bootstrapCluster(api: LabApi, lab: string, nodes: number, log: Logger): Promise<void> {
  for (let i = 1; i <= nodes; i++) {
    const name = nodeName(lab, i);
    await api.createIfAbsent('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'waymesh.io/lab': lab,
        },
      },
      spec: { podCIDR: `10.244.${i}.0/24`, podCIDRs: [`10.244.${i}.0/24`] },
    });
  }
  await api.createIfAbsent('/api/v1/namespaces/kube-system/services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'kube-dns',
      namespace: 'kube-system',
      labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' },
    },
    spec: {
      clusterIP: DNS_SERVICE_IP,
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
      ],
    },
  });
  const writes = [
    ...endpointsAndSlice('default', 'kubernetes', CORE_IP, [
      { name: 'https', port: API_PORT_IN_LAB, protocol: 'TCP' },
    ]),
    ...endpointsAndSlice('kube-system', 'kube-dns', CORE_IP, [
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, protocol: 'TCP' },
    ]),
  ];
  for (const [collection, obj] of writes) {
    try {
      await upsert(api, collection, obj as { metadata: { name: string } });
    } catch (err) {
      if (!isApiStatus(err, 409)) throw err;
      log.debug('bootstrap object changed concurrently; next start rewrites it', { collection });
    }
  }
}
