/**
 * Workloads of the mesh directory (issue 4 §2): every Pod of an ambient namespace that does not
 * opt out, plus the pods outside the mesh that back a Service's endpoints — those are listed
 * with `captured: false` so node agents know to reach them in plain text.
 */
import type { Workload } from '../../../common/ir/index.ts';
import { workloadId } from '../../../common/spiffe.ts';
import { NAMES } from '../world.ts';
import type { World } from '../world.ts';
import type { PodInfo } from './pods.ts';
import { meta } from './read.ts';

/** Gateway API label that provisioners put on a Gateway's pods (GEP-1762). */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

/** Names of the Namespaces labelled `waymesh.io/dataplane-mode=ambient`. */
export function meshNamespaces(world: World): ReadonlySet<string> {
  const out = new Set<string>();
  for (const ns of world.namespaces) {
    const m = meta(ns);
    if (m !== undefined && m.labels[NAMES.dataplaneLabel] === NAMES.dataplaneAmbient) out.add(m.name);
  }
  return out;
}

/** True for a pod the mesh enrols: in an ambient namespace, not opted out, not terminated. */
export function isMeshPod(pod: PodInfo, mesh: ReadonlySet<string>): boolean {
  return (
    mesh.has(pod.meta.namespace) &&
    pod.meta.labels[NAMES.dataplaneLabel] !== NAMES.dataplaneNone &&
    !pod.terminal
  );
}

/**
 * True for a waypoint's own pod (it speaks HBONE itself, so the agent must not capture it):
 * it carries the Gateway API gateway-name label of a waypoint Gateway in its namespace.
 */
export function isWaypointPod(pod: PodInfo, waypointGateways: ReadonlySet<string>): boolean {
  const gw = pod.meta.labels[GATEWAY_NAME_LABEL];
  return gw !== undefined && waypointGateways.has(`${pod.meta.namespace}/${gw}`);
}

/** Label (on a Pod, or its Namespace) choosing whether plaintext inbound is accepted. */
export const MTLS_MODE_LABEL = 'waymesh.io/mtls-mode';

/**
 * The inbound mTLS mode of a pod: its own `waymesh.io/mtls-mode` label (`strict` or
 * `permissive`, any case) wins over its namespace's; other values are ignored. Undefined means
 * the default (PERMISSIVE), left out of the IR so snapshots stay small.
 */
export function mtlsMode(
  podLabels: Readonly<Record<string, string>>,
  nsLabels: Readonly<Record<string, string>> | undefined,
): 'STRICT' | 'PERMISSIVE' | undefined {
  const parse = (v: string | undefined): 'STRICT' | 'PERMISSIVE' | undefined => {
    const l = v?.trim().toLowerCase();
    return l === 'strict' ? 'STRICT' : l === 'permissive' ? 'PERMISSIVE' : undefined;
  };
  const mode = parse(podLabels[MTLS_MODE_LABEL]) ?? parse(nsLabels?.[MTLS_MODE_LABEL]);
  return mode === 'STRICT' ? mode : undefined;
}

/**
 * The Workload for a pod; undefined when its namespace or service account cannot form a
 * SPIFFE id (malformed input: the pod is left out rather than given a wrong identity).
 */
export function toWorkload(pod: PodInfo, trustDomain: string, captured: boolean): Workload | undefined {
  let identity: string;
  try {
    const id = workloadId(trustDomain, pod.meta.namespace, pod.serviceAccount);
    identity = `spiffe://${id.trustDomain}${id.path}`;
  } catch {
    return undefined;
  }
  // Entries, not assignments: a port named `__proto__` must be a key, not the prototype.
  const byName = new Map<string, number>();
  for (const p of [...pod.ports].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!byName.has(p.name)) byName.set(p.name, p.port);
  }
  const namedPorts = Object.fromEntries(byName);
  return {
    uid: pod.meta.uid,
    name: pod.meta.name,
    namespace: pod.meta.namespace,
    node: pod.node,
    ips: pod.ips,
    serviceAccount: pod.serviceAccount,
    identity,
    captured,
    labels: pod.meta.labels,
    namedPorts,
  };
}

/** Whether the node agent captures a mesh pod's traffic now (DESIGN.md §2, issue 4 §2). */
export function isCaptured(pod: PodInfo, waypointGateways: ReadonlySet<string>): boolean {
  return pod.running && pod.ips.length > 0 && !pod.meta.deleting && !isWaypointPod(pod, waypointGateways);
}
