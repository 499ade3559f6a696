/**
 * The node agent's read-only view of one NodeSnapshot (ztunnel's `state/`): indexes built once
 * per snapshot so every per-connection lookup is a map access. Swapped whole with the snapshot,
 * never mutated.
 */
import type {
  MeshService,
  ServiceKey,
  ServicePort,
  WaypointBinding,
  Workload,
} from '../../common/ir/index.ts';
import type { CompiledL4Policy } from '../policy/compile.ts';

/** An IP address and TCP port. */
export interface Address {
  readonly ip: string;
  readonly port: number;
}

/** A Service endpoint with its target port resolved for one service port. */
export interface ResolvedEndpoint {
  readonly workload: Workload;
  readonly ip: string;
  readonly targetPort: number;
  readonly ready: boolean;
  /** `<ip>:<targetPort>` (`[ip]:port` for IPv6): the HBONE `:authority`. */
  readonly authority: string;
  /** Where the HBONE tunnel goes: `<ip>:15008`. */
  readonly hbone: Address;
}

/** What one `clusterIP:port` leads to. */
export interface VipTarget {
  readonly service: MeshService;
  readonly port: ServicePort;
  readonly vip: string;
  /** `<vip>:<port>`: the `:authority` a waypoint routes by. */
  readonly authority: string;
  /**
   * Ready endpoints with a known workload, in snapshot order; those of the VIP's IP family when
   * the Service has any, so a dual-stack Service keeps its client's family.
   */
  readonly ready: readonly ResolvedEndpoint[];
  /**
   * Where tunnels to the Service's waypoint go: a waypoint address of the VIP's family (else its
   * first) on 15008; undefined when the Service has no waypoint or the binding has no address.
   */
  readonly waypointVia: Address | undefined;
}

/** A ClusterIP and its Service's TCP ports. */
export interface VipEntry {
  readonly service: MeshService;
  readonly ports: ReadonlyMap<number, VipTarget>;
}

/** Policies grouped by scope, as compiled from the snapshot. */
export interface PolicyIndex {
  readonly byNamespace: ReadonlyMap<string, readonly CompiledL4Policy[]>;
  readonly byService: ReadonlyMap<ServiceKey, readonly CompiledL4Policy[]>;
  /** Waypoint-scoped policies (enforced by waypoints; kept for `/config_dump` only). */
  readonly byWaypoint: ReadonlyMap<string, readonly CompiledL4Policy[]>;
}

/** The frozen index of a NodeSnapshot; built by `buildNodeState`. */
export interface NodeState {
  readonly version: string;
  readonly node: string;
  readonly trustDomain: string;
  /** Every workload of the snapshot by each of its IPs. */
  readonly workloadsByIp: ReadonlyMap<string, Workload>;
  readonly workloadsByUid: ReadonlyMap<string, Workload>;
  /** Workloads scheduled on this node, by uid. */
  readonly localWorkloads: ReadonlyMap<string, Workload>;
  readonly servicesByKey: ReadonlyMap<ServiceKey, MeshService>;
  /** ClusterIP → its Service and TCP service ports. */
  readonly vips: ReadonlyMap<string, VipEntry>;
  /** The waypoint serving each Service that has one. */
  readonly waypoints: ReadonlyMap<ServiceKey, WaypointBinding>;
  /** Every waypoint address: its clients speak HBONE to it directly, so it is never tunnelled. */
  readonly waypointAddresses: ReadonlySet<string>;
  /** Service → service port → endpoints (ready or not) with target ports resolved. */
  readonly endpoints: ReadonlyMap<ServiceKey, ReadonlyMap<number, readonly ResolvedEndpoint[]>>;
  readonly policies: PolicyIndex;
  /**
   * Policies the agent enforces for a local workload: namespace-wide ones of its namespace, then
   * service-scoped ones of every Service whose endpoints include it. Empty for unknown uids.
   */
  readonly policiesByWorkload: ReadonlyMap<string, readonly CompiledL4Policy[]>;
}
