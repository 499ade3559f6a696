/**
 * Service endpoints (issue 4 §2): from the EndpointSlices labelled with the Service's name when
 * any exist, else — for a Service with a selector — from its pods, resolving each targetPort
 * (named ports per pod, as Kubernetes' endpoints controller does).
 */
import type { Endpoint } from '../../../common/ir/index.ts';
import type { World } from '../world.ts';
import type { PodInfo } from './pods.ts';
import { namedPort, protocolOf } from './pods.ts';
import { ipFamily, ipList, list, meta, obj, portNumber, str } from './read.ts';
import type { ServiceInfo } from './services.ts';

/** Label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Lookups built once per World. */
export interface EndpointIndex {
  /** Raw EndpointSlices by `namespace/service`. */
  readonly slices: ReadonlyMap<string, readonly unknown[]>;
  /** Pods by `namespace/name`. */
  readonly podsByName: ReadonlyMap<string, PodInfo>;
  /** Pods by namespace. */
  readonly podsByNamespace: ReadonlyMap<string, readonly PodInfo[]>;
}

/** Indexes the World's EndpointSlices and the given pods. */
export function indexEndpoints(world: World, pods: readonly PodInfo[]): EndpointIndex {
  const slices = new Map<string, unknown[]>();
  for (const s of world.endpointSlices) {
    const m = meta(s);
    const svc = m?.labels[SERVICE_NAME_LABEL];
    if (m === undefined || svc === undefined || m.namespace === '') continue;
    const key = `${m.namespace}/${svc}`;
    const list = slices.get(key);
    if (list === undefined) slices.set(key, [s]);
    else list.push(s);
  }
  const podsByName = new Map<string, PodInfo>();
  const podsByNamespace = new Map<string, PodInfo[]>();
  for (const p of pods) {
    podsByName.set(`${p.meta.namespace}/${p.meta.name}`, p);
    const inNs = podsByNamespace.get(p.meta.namespace);
    if (inNs === undefined) podsByNamespace.set(p.meta.namespace, [p]);
    else inNs.push(p);
  }
  return { slices, podsByName, podsByNamespace };
}

/** A Service's endpoints, sorted by IP, and the pods behind them (to list as workloads). */
export interface Endpoints {
  readonly endpoints: Endpoint[];
  readonly pods: PodInfo[];
}

class Collector {
  private readonly byIp = new Map<string, Endpoint>();
  readonly pods = new Map<string, PodInfo>();

  constructor(private readonly svc: ServiceInfo) {}

  add(
    ip: string,
    pod: PodInfo | undefined,
    node: string,
    ready: boolean,
    ports: Record<number, number>,
  ): void {
    // A Service with ports needs at least one resolved port to send anything to this address.
    if (this.svc.ports.length > 0 && Object.keys(ports).length === 0) return;
    // A terminated pod's IP may already be reused: keep the address, not the identity.
    const live = pod !== undefined && !pod.terminal ? pod : undefined;
    if (live !== undefined) this.pods.set(live.meta.uid, live);
    const prev = this.byIp.get(ip);
    this.byIp.set(ip, {
      workloadUid: prev?.workloadUid ?? live?.meta.uid ?? '',
      ip,
      node: prev?.node ?? (node !== '' ? node : (live?.node ?? '')),
      ready: (prev?.ready ?? false) || ready,
      ports: { ...ports, ...(prev?.ports ?? {}) },
    });
  }

  result(): Endpoints {
    const endpoints = [...this.byIp.values()].sort((a, b) => compareIps(a.ip, b.ip));
    return { endpoints, pods: [...this.pods.values()] };
  }
}

function compareIps(a: string, b: string): number {
  const fa = ipFamily(a) ?? '';
  const fb = ipFamily(b) ?? '';
  if (fa !== fb) return fa < fb ? -1 : 1;
  if (fa === 'IPv4') {
    const na = a.split('.').map(Number);
    const nb = b.split('.').map(Number);
    for (let i = 0; i < 4; i++) if (na[i] !== nb[i]) return (na[i] ?? 0) - (nb[i] ?? 0);
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function fromSlices(svc: ServiceInfo, slices: readonly unknown[], index: EndpointIndex): Endpoints {
  const c = new Collector(svc);
  for (const raw of slices) {
    const slice = obj(raw);
    const addressType = slice?.['addressType'];
    if (addressType !== 'IPv4' && addressType !== 'IPv6') continue; // FQDN slices carry no address
    const slicePorts = list(slice?.['ports']).map((p) => obj(p));
    const ports: Record<number, number> = {};
    for (const sp of svc.ports) {
      // A slice port belongs to the Service port with the same name (both may be unnamed).
      const match = slicePorts.find(
        (p) => (str(p?.['name']) ?? '') === sp.name && protocolOf(p?.['protocol']) === sp.protocol,
      );
      const target = portNumber(match?.['port']);
      if (target !== undefined) ports[sp.port] = target;
    }
    for (const e of list(slice?.['endpoints'])) {
      const ep = obj(e);
      const ip = ipList(list(ep?.['addresses']))[0];
      if (ip === undefined || ipFamily(ip) !== addressType) continue;
      const ref = obj(ep?.['targetRef']);
      const pod =
        ref?.['kind'] === 'Pod'
          ? index.podsByName.get(`${str(ref['namespace']) ?? svc.meta.namespace}/${str(ref['name']) ?? ''}`)
          : undefined;
      // EndpointConditions: an unset `ready` means ready (discovery.k8s.io/v1).
      const ready = obj(ep?.['conditions'])?.['ready'] !== false;
      c.add(ip, pod, str(ep?.['nodeName']) ?? '', ready, ports);
    }
  }
  return c.result();
}

function fromSelector(
  svc: ServiceInfo,
  selector: Readonly<Record<string, string>>,
  index: EndpointIndex,
): Endpoints {
  const c = new Collector(svc);
  for (const pod of index.podsByNamespace.get(svc.meta.namespace) ?? []) {
    if (pod.terminal || !Object.entries(selector).every(([k, v]) => pod.meta.labels[k] === v)) continue;
    const ports: Record<number, number> = {};
    for (const sp of svc.ports) {
      const target =
        typeof sp.targetPort === 'number' ? sp.targetPort : namedPort(pod, sp.targetPort, sp.protocol);
      if (target !== undefined) ports[sp.port] = target;
    }
    const ready = svc.publishNotReady || (pod.ready && !pod.meta.deleting);
    for (const ip of pod.ips) {
      const family = ipFamily(ip);
      if (svc.families.length > 0 && (family === undefined || !svc.families.includes(family))) continue;
      c.add(ip, pod, pod.node, ready, ports);
    }
  }
  return c.result();
}

/** The endpoints of one Service: EndpointSlices win; the selector is the fallback. */
export function endpointsOf(svc: ServiceInfo, index: EndpointIndex): Endpoints {
  const slices = index.slices.get(`${svc.meta.namespace}/${svc.meta.name}`);
  if (slices !== undefined && slices.length > 0) return fromSlices(svc, slices, index);
  if (svc.selector !== undefined) return fromSelector(svc, svc.selector, index);
  return { endpoints: [], pods: [] };
}
