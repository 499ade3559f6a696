/**
 * Services read from the World: cluster IPs, ports with their AppProtocol and targetPort, and
 * the selector used when no EndpointSlice exists.
 */
import type { ServicePort } from '../../../common/ir/index.ts';
import type { World } from '../world.ts';
import { compareKeys, protocolOf } from './pods.ts';
import type { Meta } from './read.ts';
import { ipFamily, ipList, list, meta, obj, portNumber, str, stringMap } from './read.ts';
import { resolveAppProtocol } from './protocol.ts';

/** A Service port with where it goes on the backing pods. */
export interface PortInfo extends ServicePort {
  /** A number, a container port name, or the Service port itself when unset. */
  readonly targetPort: number | string;
}

/** A Service's fields the directory uses. */
export interface ServiceInfo {
  readonly meta: Meta;
  /** Empty for headless Services. */
  readonly clusterIPs: readonly string[];
  /** IP families endpoints may have (from `ipFamilies`, else the cluster IPs); empty = any. */
  readonly families: readonly ('IPv4' | 'IPv6')[];
  readonly ports: readonly PortInfo[];
  /** Undefined when the Service has no (or an empty) selector: the endpoints controller skips it. */
  readonly selector: Readonly<Record<string, string>> | undefined;
  readonly publishNotReady: boolean;
}

function readPort(raw: unknown): PortInfo | undefined {
  const o = obj(raw);
  const port = portNumber(o?.['port']);
  const protocol = protocolOf(o?.['protocol']);
  if (port === undefined || protocol === undefined) return undefined;
  const name = str(o?.['name']) ?? '';
  const tp = o?.['targetPort'];
  const targetPort = portNumber(tp) ?? (typeof tp === 'string' && tp !== '' ? tp : port);
  return {
    name,
    port,
    protocol,
    appProtocol: resolveAppProtocol(protocol, str(o?.['appProtocol']), name),
    targetPort,
  };
}

function readService(raw: unknown): ServiceInfo | undefined {
  const m = meta(raw);
  if (m === undefined || m.namespace === '') return undefined;
  const spec = obj(obj(raw)?.['spec']);
  // ExternalName Services are DNS aliases: no address, no endpoints, nothing to capture.
  if (spec?.['type'] === 'ExternalName') return undefined;
  const listed = list(spec?.['clusterIPs']);
  const clusterIPs = ipList(listed.length > 0 ? listed : [spec?.['clusterIP']]);
  const declared = list(spec?.['ipFamilies']).filter(
    (f): f is 'IPv4' | 'IPv6' => f === 'IPv4' || f === 'IPv6',
  );
  const families =
    declared.length > 0 ? declared : clusterIPs.map((ip) => ipFamily(ip)).filter((f) => f !== undefined);
  const ports: PortInfo[] = [];
  for (const p of list(spec?.['ports'])) {
    const port = readPort(p);
    if (port !== undefined && !ports.some((q) => q.port === port.port && q.protocol === port.protocol))
      ports.push(port);
  }
  ports.sort((a, b) => a.port - b.port || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
  const selector = stringMap(spec?.['selector']);
  return {
    meta: m,
    clusterIPs,
    families: [...new Set(families)],
    ports,
    selector: Object.keys(selector).length > 0 ? selector : undefined,
    publishNotReady: spec?.['publishNotReadyAddresses'] === true,
  };
}

/** Every readable Service (ExternalName excluded), sorted by `namespace/name`, one per key. */
export function readServices(world: World): ServiceInfo[] {
  const seen = new Set<string>();
  const out: ServiceInfo[] = [];
  for (const raw of world.services) {
    const s = readService(raw);
    const key = s === undefined ? '' : `${s.meta.namespace}/${s.meta.name}`;
    if (s === undefined || seen.has(key)) continue;
    seen.add(key);
    out.push(s);
  }
  return out.sort((a, b) => compareKeys(a.meta, b.meta));
}

/** The IR port (without the targetPort, which is resolved per endpoint). */
export function toServicePort(p: PortInfo): ServicePort {
  return { name: p.name, port: p.port, protocol: p.protocol, appProtocol: p.appProtocol };
}
