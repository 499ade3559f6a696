/**
 * What each proxy receives: a node agent gets its node's slice of the directory and the L4
 * policies; a waypoint gets the route tables, L7 policies and rate limits of the services bound
 * to it. Snapshots are versioned by the sha256 of their canonical JSON.
 */
import type { AuthorizationPolicy, RateLimit } from './policy.ts';
import type { MeshService, Workload } from './mesh.ts';
import type { RouteTable } from './routes.ts';

/** Fields every snapshot has. */
export interface SnapshotHeader {
  /** sha256 (hex) of the canonical JSON of the rest of the snapshot. */
  readonly version: string;
  readonly trustDomain: string;
}

/** A node agent's snapshot. */
export interface NodeSnapshot extends SnapshotHeader {
  readonly kind: 'node';
  readonly node: string;
  /** Workloads on this node (in full) and the remote ones its pods can reach. */
  readonly workloads: readonly Workload[];
  readonly services: readonly MeshService[];
  readonly policies: readonly AuthorizationPolicy[];
}

/** A waypoint's snapshot. */
export interface WaypointSnapshot extends SnapshotHeader {
  readonly kind: 'waypoint';
  readonly waypoint: { readonly namespace: string; readonly name: string };
  /** Services bound to this waypoint, and the backends their routes may send to. */
  readonly services: readonly MeshService[];
  readonly routes: readonly RouteTable[];
  readonly policies: readonly AuthorizationPolicy[];
  readonly rateLimits: readonly RateLimit[];
}

/** Either kind. */
export type ProxySnapshot = NodeSnapshot | WaypointSnapshot;
