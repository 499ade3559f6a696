/**
 * The cluster DNS zone, built from Services and their endpoints the way the Kubernetes DNS spec
 * describes (https://github.com/kubernetes/dns/blob/master/docs/specification.md):
 *
 * - `<svc>.<ns>.svc.<domain>` A: the ClusterIP, or for a headless service the ready endpoint IPs;
 * - `<hostname>.<svc>.<ns>.svc.<domain>` A for headless endpoints (the dashed IP when the endpoint
 *   has no hostname, as CoreDNS does);
 * - `_<port>._<proto>.<svc>.<ns>.svc.<domain>` SRV for named ports;
 * - `<a-b-c-d>.<ns>.pod.<domain>` A: any dashed IPv4 (CoreDNS `pods insecure`);
 * - `<d.c.b.a>.in-addr.arpa` PTR for ClusterIPs and ready endpoint IPs.
 *
 * Pure: {@link buildZone} turns plain input into a frozen table; {@link answer} looks a question up.
 */
import { CLASS_IN, RCODE, RR, type Question, type ResourceRecord } from './wire.ts';
import { canonicalName } from './names.ts';

/** Seconds every answer (and the negative-caching SOA minimum) lives. */
export const ZONE_TTL = 5;

/** A service port as the zone sees it. */
export interface ZoneServicePort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
}

/** A service as the zone sees it. */
export interface ZoneService {
  readonly namespace: string;
  readonly name: string;
  readonly clusterIP: string;
  readonly ports: readonly ZoneServicePort[];
}

/** One endpoint address of a service. */
export interface ZoneAddress {
  readonly ip: string;
  readonly ready: boolean;
  readonly hostname?: string;
}

/** Endpoints of a service (several entries for one service are merged, as EndpointSlices are). */
export interface ZoneEndpoints {
  readonly namespace: string;
  readonly service: string;
  readonly addresses: readonly ZoneAddress[];
}

/** Input of {@link buildZone}. */
export interface ZoneInput {
  readonly services: readonly ZoneService[];
  readonly endpoints: readonly ZoneEndpoints[];
  /** The cluster domain; default `cluster.local`. */
  readonly domain?: string;
  /** The SOA serial; default 1. */
  readonly serial?: number;
}

interface SrvTarget {
  readonly port: number;
  readonly target: string;
}

interface Entry {
  readonly a: readonly string[];
  readonly srv: readonly SrvTarget[];
  readonly ptr: readonly string[];
}

/** A built zone: what {@link answer} reads. Frozen; rebuilt whole on every change. */
export interface Zone {
  readonly domain: string;
  readonly serial: number;
  /** Names with records, by canonical name. */
  readonly entries: ReadonlyMap<string, Entry>;
  /** Every name that exists, including empty non-terminals such as `<ns>.svc.<domain>`. */
  readonly names: ReadonlySet<string>;
  /** Objects left out because their names cannot be DNS names, as `namespace/name`. */
  readonly skipped: readonly string[];
}

/** What {@link answer} returns for one question. */
export interface ZoneAnswer {
  readonly rcode: number;
  readonly answers: readonly ResourceRecord[];
  readonly authority: readonly ResourceRecord[];
  /** A records of SRV targets, so clients need no second query. */
  readonly additional: readonly ResourceRecord[];
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** `10.1.2.3` → `10-1-2-3`. */
export function dashedIp(ip: string): string {
  return ip.replaceAll('.', '-');
}

/** `10.1.2.3` → `3.2.1.10.in-addr.arpa`. */
export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

class Builder {
  readonly a = new Map<string, Set<string>>();
  readonly srv = new Map<string, Map<string, SrvTarget>>();
  readonly ptr = new Map<string, Set<string>>();

  addA(name: string, ip: string): void {
    getOr(this.a, name, () => new Set<string>()).add(ip);
  }

  addSrv(name: string, port: number, target: string): void {
    getOr(this.srv, name, () => new Map<string, SrvTarget>()).set(`${target}:${port}`, { port, target });
  }

  addPtr(ip: string, target: string): void {
    getOr(this.ptr, reverseName(ip), () => new Set<string>()).add(target);
  }
}

function getOr<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

/** Builds the zone from services and endpoints. Deterministic: records are sorted. */
export function buildZone(input: ZoneInput): Zone {
  const domain = canonicalName(input.domain ?? 'cluster.local');
  const b = new Builder();
  const skipped: string[] = [];
  const ready = new Map<string, Map<string, ZoneAddress>>();
  for (const ep of input.endpoints) {
    const byIp = getOr(ready, `${ep.namespace}/${ep.service}`, () => new Map<string, ZoneAddress>());
    for (const addr of ep.addresses) if (addr.ready && IPV4.test(addr.ip)) byIp.set(addr.ip, addr);
  }
  const services = [...input.services].sort((x, y) =>
    `${x.namespace}/${x.name}`.localeCompare(`${y.namespace}/${y.name}`),
  );
  for (const svc of services) {
    const key = `${svc.namespace}/${svc.name}`;
    if (!LABEL.test(svc.namespace) || !LABEL.test(svc.name)) {
      skipped.push(key);
      continue;
    }
    const base = `${svc.name}.${svc.namespace}.svc.${domain}`;
    const headless = svc.clusterIP === 'None';
    const targets: string[] = [];
    if (headless) {
      for (const addr of ready.get(key)?.values() ?? []) {
        const host =
          addr.hostname !== undefined && LABEL.test(addr.hostname) ? addr.hostname : dashedIp(addr.ip);
        const target = `${host}.${base}`;
        b.addA(base, addr.ip);
        b.addA(target, addr.ip);
        b.addPtr(addr.ip, target);
        targets.push(target);
      }
    } else if (IPV4.test(svc.clusterIP)) {
      b.addA(base, svc.clusterIP);
      b.addPtr(svc.clusterIP, base);
      targets.push(base);
      for (const addr of ready.get(key)?.values() ?? []) b.addPtr(addr.ip, `${dashedIp(addr.ip)}.${base}`);
    }
    for (const port of svc.ports) {
      if (port.name === undefined || !LABEL.test(port.name)) continue;
      const srvName = `_${port.name}._${port.protocol.toLowerCase()}.${base}`;
      for (const target of targets) b.addSrv(srvName, port.port, target);
      if (targets.length === 0) getOr(b.srv, srvName, () => new Map<string, SrvTarget>());
    }
    // A service without a usable ClusterIP or ready endpoints still exists: NODATA, not NXDOMAIN.
    if (!b.a.has(base)) b.a.set(base, new Set());
  }
  const entries = new Map<string, Entry>();
  const names = new Set<string>([domain, `svc.${domain}`, `pod.${domain}`]);
  const all = new Set([...b.a.keys(), ...b.srv.keys(), ...b.ptr.keys()]);
  for (const name of [...all].sort()) {
    entries.set(
      name,
      Object.freeze({
        a: [...(b.a.get(name) ?? [])].sort(compareIp),
        srv: [...(b.srv.get(name)?.values() ?? [])].sort(
          (x, y) => x.target.localeCompare(y.target) || x.port - y.port,
        ),
        ptr: [...(b.ptr.get(name) ?? [])].sort(),
      }),
    );
    // Every ancestor inside the zone exists too (RFC 8020: NXDOMAIN means nothing below).
    const labels = name.split('.');
    for (let i = 0; i < labels.length; i++) names.add(labels.slice(i).join('.'));
  }
  return Object.freeze({
    domain,
    serial: input.serial ?? 1,
    entries,
    names,
    skipped: Object.freeze(skipped),
  });
}

function compareIp(x: string, y: string): number {
  const a = x.split('.').map(Number);
  const b = y.split('.').map(Number);
  for (let i = 0; i < 4; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** The SOA record of `apex`, for negative answers and SOA queries. */
export function soaRecord(zone: Zone, apex: string): ResourceRecord {
  return {
    name: apex,
    class: CLASS_IN,
    ttl: ZONE_TTL,
    data: {
      type: 'SOA',
      mname: `ns.dns.${zone.domain}`,
      rname: `hostmaster.${zone.domain}`,
      serial: zone.serial >>> 0,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ZONE_TTL,
    },
  };
}

/** The apex a name falls under (`<domain>` or `in-addr.arpa`), or `undefined` when out of zone. */
export function apexOf(zone: Zone, name: string): string | undefined {
  for (const apex of [zone.domain, 'in-addr.arpa']) {
    if (name === apex || name.endsWith(`.${apex}`)) return apex;
  }
  return undefined;
}

/** Answers one question from the zone. Out of zone → REFUSED: the lab never forwards. */
export function answer(zone: Zone, question: Question): ZoneAnswer {
  const name = canonicalName(question.name);
  const empty = { answers: [], authority: [], additional: [] };
  const apex = apexOf(zone, name);
  if (apex === undefined || (question.class !== CLASS_IN && question.class !== RR.ANY)) {
    return { rcode: RCODE.REFUSED, ...empty };
  }
  const entry = zone.entries.get(name) ?? podEntry(zone, name);
  const exists = entry !== undefined || zone.names.has(name) || isPodNamespace(zone, name);
  const negative = [soaRecord(zone, apex)];
  if (!exists) return { rcode: RCODE.NXDOMAIN, answers: [], authority: negative, additional: [] };
  const owner = question.name.endsWith('.') ? question.name.slice(0, -1) : question.name;
  const rr = (data: ResourceRecord['data']): ResourceRecord => ({
    name: owner,
    class: CLASS_IN,
    ttl: ZONE_TTL,
    data,
  });
  const answers: ResourceRecord[] = [];
  const additional: ResourceRecord[] = [];
  const t = question.type;
  const all = t === RR.ANY;
  if (entry !== undefined) {
    if (t === RR.A || all) for (const address of entry.a) answers.push(rr({ type: 'A', address }));
    if (t === RR.PTR || all) for (const target of entry.ptr) answers.push(rr({ type: 'PTR', target }));
    if (t === RR.SRV || all) {
      for (const s of entry.srv) {
        const weight = Math.floor(100 / entry.srv.length) || 1;
        answers.push(rr({ type: 'SRV', priority: 0, weight, port: s.port, target: s.target }));
        for (const address of zone.entries.get(s.target)?.a ?? []) {
          additional.push({ name: s.target, class: CLASS_IN, ttl: ZONE_TTL, data: { type: 'A', address } });
        }
      }
    }
  }
  if ((t === RR.SOA || all) && name === apex) answers.push(soaRecord(zone, owner));
  return { rcode: RCODE.NOERROR, answers, authority: answers.length === 0 ? negative : [], additional };
}

/** `<a-b-c-d>.<ns>.pod.<domain>` answers its own IP, whatever the namespace. */
function podEntry(zone: Zone, name: string): Entry | undefined {
  const suffix = `.pod.${zone.domain}`;
  if (!name.endsWith(suffix)) return undefined;
  const labels = name.slice(0, -suffix.length).split('.');
  if (labels.length !== 2 || !LABEL.test(labels[1] ?? '')) return undefined;
  const ip = (labels[0] ?? '').replaceAll('-', '.');
  return IPV4.test(ip) ? { a: [ip], srv: [], ptr: [] } : undefined;
}

function isPodNamespace(zone: Zone, name: string): boolean {
  const suffix = `.pod.${zone.domain}`;
  return name.endsWith(suffix) && LABEL.test(name.slice(0, -suffix.length));
}
