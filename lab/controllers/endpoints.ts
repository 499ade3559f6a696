/**
 * Endpoints and EndpointSlice controllers: for every Service with a selector, the pods it
 * selects become endpoints (ready or not, terminating marked), with named target ports
 * resolved per pod from its container ports, as kube-controller-manager does.
 */
import type { V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { Logger } from '../../common/log.ts';
import { corePath, groupPath, isPodReady, matchesMap, shortHash } from '../kube/objects.ts';
import type { LabApi } from '../kube/rest.ts';

/** What the endpoints controllers read. */
export interface EndpointsView {
  services(): readonly V1Service[];
  pods(): readonly V1Pod[];
}

/** The container port a Service port targets on `pod`; undefined when a named port is missing. */
export function resolveTargetPort(port: V1ServicePort, pod: V1Pod): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  for (const c of pod.spec?.containers ?? []) {
    const found = (c.ports ?? []).find(
      (p) => p.name === target && (p.protocol ?? 'TCP') === (port.protocol ?? 'TCP'),
    );
    if (found !== undefined) return found.containerPort;
  }
  return undefined;
}

/** Endpoints and EndpointSlice objects for one Service (pure). */
export function endpointsFor(svc: V1Service, pods: readonly V1Pod[]): { endpoints: object; slice: object } {
  const ns = svc.metadata?.namespace ?? 'default';
  const name = svc.metadata?.name ?? '';
  const selected = pods
    .filter((p) => p.metadata?.namespace === ns && matchesMap(svc.spec?.selector, p.metadata?.labels))
    .filter(
      (p) =>
        (p.status?.podIP ?? '') !== '' && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed',
    )
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const ports = svc.spec?.ports ?? [];
  const targetRef = (p: V1Pod): object => ({
    kind: 'Pod',
    namespace: ns,
    name: p.metadata?.name,
    uid: p.metadata?.uid,
  });
  // Endpoints group pods by their resolved port numbers (one subset per distinct mapping).
  const subsets = new Map<string, { addresses: object[]; notReadyAddresses: object[]; ports: object[] }>();
  const sliceEndpoints: object[] = [];
  for (const pod of selected) {
    const resolved = ports.map((sp) => ({
      name: sp.name,
      port: resolveTargetPort(sp, pod),
      protocol: sp.protocol ?? 'TCP',
      appProtocol: sp.appProtocol,
    }));
    const usable = resolved.filter((r) => r.port !== undefined);
    const terminating = pod.metadata?.deletionTimestamp !== undefined;
    const ready = isPodReady(pod) && !terminating;
    const address = { ip: pod.status?.podIP, nodeName: pod.spec?.nodeName, targetRef: targetRef(pod) };
    if (!terminating && usable.length > 0) {
      const key = JSON.stringify(usable);
      const subset = subsets.get(key) ?? { addresses: [], notReadyAddresses: [], ports: usable };
      (ready ? subset.addresses : subset.notReadyAddresses).push(address);
      subsets.set(key, subset);
    }
    sliceEndpoints.push({
      addresses: [pod.status?.podIP],
      conditions: { ready, serving: isPodReady(pod), terminating },
      nodeName: pod.spec?.nodeName,
      targetRef: targetRef(pod),
    });
  }
  const slicePorts = ports.map((sp) => {
    const first = selected.map((p) => resolveTargetPort(sp, p)).find((n) => n !== undefined);
    return {
      name: sp.name ?? '',
      port: first ?? (typeof sp.targetPort === 'number' ? sp.targetPort : sp.port),
      protocol: sp.protocol ?? 'TCP',
      ...(sp.appProtocol === undefined ? {} : { appProtocol: sp.appProtocol }),
    };
  });
  const endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace: ns, labels: { ...(svc.metadata?.labels ?? {}) } },
    subsets: [...subsets.values()].map((s) => ({
      ...(s.addresses.length > 0 ? { addresses: s.addresses } : {}),
      ...(s.notReadyAddresses.length > 0 ? { notReadyAddresses: s.notReadyAddresses } : {}),
      ports: s.ports,
    })),
  };
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${name}-${shortHash(svc.metadata?.uid ?? name, 5)}`,
      namespace: ns,
      labels: {
        'kubernetes.io/service-name': name,
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          name,
          uid: svc.metadata?.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    addressType: 'IPv4',
    endpoints: sliceEndpoints,
    ports: slicePorts,
  };
  return { endpoints, slice };
}

/** The fields compared to decide whether a write is needed. */
function essence(obj: unknown): string {
  const o = (obj ?? {}) as {
    subsets?: unknown;
    endpoints?: unknown;
    ports?: unknown;
    metadata?: { labels?: unknown };
  };
  return JSON.stringify([o.subsets ?? [], o.endpoints ?? [], o.ports ?? [], o.metadata?.labels ?? {}]);
}

async function upsert(
  api: LabApi,
  path: string,
  obj: object & { metadata: { name: string } },
): Promise<void> {
  const current = await api.get<object>(`${path}/${obj.metadata.name}`);
  if (current === undefined) {
    await api.createIfAbsent(path, obj);
    return;
  }
  if (essence(current) === essence(obj)) return;
  await api.request('PUT', `${path}/${obj.metadata.name}`, obj);
}

/** One pass over every Service with a selector. */
export async function endpointsPass(api: LabApi, view: EndpointsView, log: Logger): Promise<void> {
  const pods = view.pods();
  for (const svc of view.services()) {
    if (svc.spec?.selector === undefined || Object.keys(svc.spec.selector).length === 0) continue;
    if (svc.metadata?.deletionTimestamp !== undefined) continue;
    const ns = svc.metadata?.namespace ?? 'default';
    const { endpoints, slice } = endpointsFor(svc, pods);
    await upsert(api, corePath('endpoints', ns), endpoints as { metadata: { name: string } });
    await upsert(
      api,
      groupPath('discovery.k8s.io/v1', 'endpointslices', ns),
      slice as { metadata: { name: string } },
    );
  }
  log.debug('endpoints pass done', { services: view.services().length });
}
