/**
 * The mesh directory stage of translate() (issue 4 §2 and the status half of §3): pure, over
 * the frozen World. Builds the workloads and services node agents need, the waypoint each
 * Service is bound to, and the statuses of our GatewayClass and waypoint Gateways. Bad user
 * input never throws; it becomes a status condition or is left out.
 */
import type {
  MeshService,
  ObjectStatus,
  ServiceKey,
  WaypointBinding,
  Workload,
} from '../../../common/ir/index.ts';
import { serviceKey } from '../../../common/ir/index.ts';
import { validateTrustDomain } from '../../../common/spiffe.ts';
import type { World } from '../world.ts';
import { bindService } from './binding.ts';
import { readClasses } from './classes.ts';
import { endpointsOf, indexEndpoints } from './endpoints.ts';
import { readWaypointGateways } from './gateways.ts';
import { compareKeys, readPods } from './pods.ts';
import { meta } from './read.ts';
import { readServices, toServicePort } from './services.ts';
import type { ServiceInfo } from './services.ts';
import { isCaptured, mtlsMode, isMeshPod, meshNamespaces, toWorkload } from './workloads.ts';

/** What buildDirectory returns. */
export interface Directory {
  /** Mesh pods and the non-mesh pods behind Service endpoints, sorted by `namespace/name`. */
  readonly workloads: Workload[];
  /** Every Service except ExternalName ones, sorted by key. */
  readonly services: MeshService[];
  /** The waypoint bound to a Service, if any (injected into route and policy translation). */
  waypointOf(service: ServiceKey): WaypointBinding | undefined;
  /** GatewayClass and waypoint Gateway statuses, sorted by kind then source. */
  readonly statuses: ObjectStatus[];
}

/**
 * Builds the mesh directory from the World. Throws a MeshError only when the controller's own
 * trust domain is invalid (configuration, not user input).
 */
export function buildDirectory(world: World): Directory {
  validateTrustDomain(world.trustDomain);
  const pods = readPods(world);
  const serviceInfos = readServices(world);
  const byKey = new Map<string, ServiceInfo>(
    serviceInfos.map((s) => [`${s.meta.namespace}/${s.meta.name}`, s]),
  );
  const classes = readClasses(world);
  const waypoints = readWaypointGateways(world, byKey, classes.waypointClassIsOurs);
  const namespaceLabels = new Map<string, Readonly<Record<string, string>>>();
  for (const ns of world.namespaces) {
    const m = meta(ns);
    if (m !== undefined && !namespaceLabels.has(m.name)) namespaceLabels.set(m.name, m.labels);
  }

  const index = indexEndpoints(world, pods);
  const resolved = serviceInfos.map((svc) => ({ svc, ...endpointsOf(svc, index) }));
  const behindServices = new Set(resolved.flatMap((r) => r.pods.map((p) => p.meta.uid)));

  const mesh = meshNamespaces(world);
  const waypointKeys = new Set(waypoints.keys());
  const workloads: Workload[] = [];
  for (const pod of pods) {
    const inMesh = isMeshPod(pod, mesh);
    if (!inMesh && !behindServices.has(pod.meta.uid)) continue;
    const w = toWorkload(pod, world.trustDomain, inMesh && isCaptured(pod, waypointKeys));
    if (w === undefined) continue;
    const mtls = mtlsMode(pod.meta.labels, namespaceLabels.get(pod.meta.namespace));
    workloads.push(mtls === undefined ? w : { ...w, mtls });
  }
  // An endpoint names a workload only when that workload is listed (a pod whose identity cannot
  // be formed is reached as a plain address).
  const listed = new Map(workloads.map((w) => [w.uid, w.identity]));

  const bindings = new Map<ServiceKey, WaypointBinding>();
  const services: MeshService[] = [];
  for (const { svc, endpoints } of resolved) {
    const key = serviceKey(svc.meta.namespace, svc.meta.name);
    const waypoint = bindService(
      svc,
      namespaceLabels.get(svc.meta.namespace) ?? {},
      waypoints,
      world.trustDomain,
    );
    if (waypoint !== undefined) bindings.set(key, waypoint);
    services.push({
      key,
      namespace: svc.meta.namespace,
      name: svc.meta.name,
      clusterIPs: svc.clusterIPs,
      ports: svc.ports.map(toServicePort),
      endpoints: endpoints.map((e) => {
        const identity = listed.get(e.workloadUid);
        // Waypoints verify the destination's certificate against this identity.
        return identity === undefined ? { ...e, workloadUid: '' } : { ...e, identity };
      }),
      ...(waypoint === undefined ? {} : { waypoint }),
      source: { group: '', kind: 'Service', namespace: svc.meta.namespace, name: svc.meta.name },
    });
  }

  const gatewayStatuses = [...waypoints.values()]
    .sort((a, b) => compareKeys(a.meta, b.meta))
    .map((w) => w.status);
  return {
    workloads,
    services,
    waypointOf: (service) => bindings.get(service),
    statuses: [...classes.statuses, ...gatewayStatuses],
  };
}
