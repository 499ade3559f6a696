/**
 * The mesh directory: workloads, services with their endpoints, and waypoints. What node
 * agents need to capture, tunnel and route at L4, and what waypoints need to pick endpoints.
 */
import type { ServiceKey, SourceRef } from './source.ts';

/** A pod known to the mesh. */
export interface Workload {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly node: string;
  readonly ips: readonly string[];
  readonly serviceAccount: string;
  /** SPIFFE id `spiffe://<td>/ns/<ns>/sa/<sa>`. */
  readonly identity: string;
  /** True when the agent captures its traffic (ambient namespace, no opt-out, running). */
  readonly captured: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /** Container ports by name, for named targetPort resolution by consumers that need it. */
  readonly namedPorts: Readonly<Record<string, number>>;
  /**
   * Inbound mTLS requirement (from the `waymesh.io/mtls-mode` label of the pod or its namespace):
   * `STRICT` makes the node agent refuse plaintext connections; absent means `PERMISSIVE`.
   */
  readonly mtls?: 'STRICT' | 'PERMISSIVE';
}

/** How a service port speaks, from `appProtocol` (or the port name prefix). */
export type AppProtocol = 'http' | 'http2' | 'grpc' | 'tcp' | 'unknown';

/** One port of a Service. */
export interface ServicePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly appProtocol: AppProtocol;
}

/** One ready (or not) endpoint of a Service port. */
export interface Endpoint {
  readonly workloadUid: string;
  /** The workload's SPIFFE id (absent when the endpoint is not a listed workload): what its HBONE server presents. */
  readonly identity?: string;
  readonly ip: string;
  readonly node: string;
  readonly ready: boolean;
  /** Service port → target port on this workload (named ports resolved per pod). */
  readonly ports: Readonly<Record<number, number>>;
}

/** The waypoint a Service (or a namespace) uses. */
export interface WaypointBinding {
  /** The waypoint Gateway. */
  readonly gateway: { readonly namespace: string; readonly name: string };
  /** The waypoint Service's ClusterIPs (HBONE on 15008). */
  readonly addresses: readonly string[];
  /** The waypoint's SPIFFE identity (its ServiceAccount). */
  readonly identity: string;
}

/** A Service in the mesh directory. */
export interface MeshService {
  readonly key: ServiceKey;
  readonly namespace: string;
  readonly name: string;
  /** Empty for headless services. */
  readonly clusterIPs: readonly string[];
  readonly ports: readonly ServicePort[];
  readonly endpoints: readonly Endpoint[];
  /** Set when the Service's traffic goes through a waypoint; absent when none, or when it is not ready. */
  readonly waypoint?: WaypointBinding;
  readonly source: SourceRef;
}
