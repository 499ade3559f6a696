/**
 * Pods read once from the World into a narrow shape the directory works with: identity inputs,
 * IPs, readiness and container ports (for named targetPort resolution).
 */
import type { World } from '../world.ts';
import type { Meta } from './read.ts';
import { ipList, list, meta, obj, portNumber, str } from './read.ts';

/** A container port, as `FindPort` in Kubernetes matches it: by name and protocol. */
export interface ContainerPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** A Pod's fields the directory uses. */
export interface PodInfo {
  readonly meta: Meta;
  readonly node: string;
  readonly serviceAccount: string;
  /** Valid IPs, primary first (`status.podIPs`, else `status.podIP`). */
  readonly ips: readonly string[];
  /** `Succeeded` or `Failed`: its IP may already belong to another pod. */
  readonly terminal: boolean;
  readonly running: boolean;
  /** The pod's `Ready` condition is True. */
  readonly ready: boolean;
  readonly ports: readonly ContainerPort[];
}

/** Reads a port protocol, defaulting to TCP; undefined for an unknown value. */
export function protocolOf(v: unknown): 'TCP' | 'UDP' | 'SCTP' | undefined {
  if (v === undefined || v === null) return 'TCP';
  return v === 'TCP' || v === 'UDP' || v === 'SCTP' ? v : undefined;
}

function readPod(raw: unknown): PodInfo | undefined {
  const m = meta(raw);
  if (m === undefined || m.uid === '' || m.namespace === '') return undefined;
  const spec = obj(obj(raw)?.['spec']);
  const status = obj(obj(raw)?.['status']);
  const podIPs = list(status?.['podIPs']).map((p) => obj(p)?.['ip']);
  const ips = ipList(podIPs.length > 0 ? podIPs : [status?.['podIP']]);
  const phase = str(status?.['phase']);
  const ready = list(status?.['conditions']).some((c) => {
    const o = obj(c);
    return o?.['type'] === 'Ready' && o['status'] === 'True';
  });
  // Kubernetes resolves named ports against regular containers only (pkg/api/v1/pod FindPort).
  const ports: ContainerPort[] = [];
  for (const c of list(spec?.['containers'])) {
    for (const p of list(obj(c)?.['ports'])) {
      const o = obj(p);
      const name = str(o?.['name']);
      const port = portNumber(o?.['containerPort']);
      const protocol = protocolOf(o?.['protocol']);
      if (name !== undefined && port !== undefined && protocol !== undefined)
        ports.push({ name, port, protocol });
    }
  }
  return {
    meta: m,
    node: str(spec?.['nodeName']) ?? '',
    serviceAccount: str(spec?.['serviceAccountName']) ?? str(spec?.['serviceAccount']) ?? 'default',
    ips,
    terminal: phase === 'Succeeded' || phase === 'Failed',
    running: phase === 'Running',
    ready,
    ports,
  };
}

/** Every readable Pod, sorted by `namespace/name`; duplicates (same uid) keep the first. */
export function readPods(world: World): PodInfo[] {
  const seen = new Set<string>();
  const out: PodInfo[] = [];
  for (const raw of world.pods) {
    const p = readPod(raw);
    if (p === undefined || seen.has(p.meta.uid)) continue;
    seen.add(p.meta.uid);
    out.push(p);
  }
  return out.sort((a, b) => compareKeys(a.meta, b.meta));
}

/** Orders objects by namespace, then name, then uid. */
export function compareKeys(a: Meta, b: Meta): number {
  return cmp(a.namespace, b.namespace) || cmp(a.name, b.name) || cmp(a.uid, b.uid);
}

/** Plain string order (not locale-dependent, so output is the same everywhere). */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The port a named targetPort resolves to on this pod (same name and protocol), if any. */
export function namedPort(pod: PodInfo, name: string, protocol: string): number | undefined {
  return pod.ports.find((p) => p.name === name && p.protocol === protocol)?.port;
}
