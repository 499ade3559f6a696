/**
 * The Services routes can name (as parents or backends), read once from the World into narrow
 * types keyed by `namespace/name`.
 */
import type { V1Service } from '@kubernetes/client-node';
import type { ServiceKey } from '../../../common/ir/index.ts';
import { serviceKey } from '../../../common/ir/index.ts';
import { int, list, obj, str } from './read.ts';

/** One port of a Service as routes see it. */
export interface PortInfo {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  /** `appProtocol` as written, lowercased; empty when unset. */
  readonly appProtocol: string;
}

/** A Service as routes see it. */
export interface ServiceInfo {
  readonly key: ServiceKey;
  readonly namespace: string;
  readonly name: string;
  /** `spec.type`, `ClusterIP` when unset. */
  readonly type: string;
  /** `spec.clusterIP: None`. */
  readonly headless: boolean;
  readonly ports: readonly PortInfo[];
}

function readPorts(spec: Readonly<Record<string, unknown>> | undefined): PortInfo[] {
  const ports: PortInfo[] = [];
  for (const raw of list(spec?.['ports'])) {
    const p = obj(raw);
    const port = int(p?.['port']);
    if (p === undefined || port === undefined) continue;
    ports.push({
      name: str(p['name']) ?? '',
      port,
      protocol: str(p['protocol']) ?? 'TCP',
      appProtocol: (str(p['appProtocol']) ?? '').toLowerCase(),
    });
  }
  return ports;
}

/** Indexes the World's Services by `namespace/name`, skipping objects without a name. */
export function indexServices(services: readonly V1Service[]): ReadonlyMap<string, ServiceInfo> {
  const index = new Map<string, ServiceInfo>();
  for (const s of services) {
    const namespace = s.metadata?.namespace;
    const name = s.metadata?.name;
    if (typeof namespace !== 'string' || typeof name !== 'string') continue;
    const spec = obj(s.spec);
    const key = serviceKey(namespace, name);
    index.set(key, {
      key,
      namespace,
      name,
      type: str(spec?.['type']) ?? 'ClusterIP',
      headless: str(spec?.['clusterIP']) === 'None',
      ports: readPorts(spec),
    });
  }
  return index;
}
