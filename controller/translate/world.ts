/**
 * The whole-world snapshot translate() reads: every object the controller watches, as the API
 * returned them (core kinds typed by @kubernetes/client-node, Gateway API and policy kinds by
 * the loose JSON shapes below), frozen. translate() must treat every field as untrusted user
 * input: anything may be missing or malformed, and that becomes a status, never a throw.
 */
import type {
  V1EndpointSlice,
  V1Namespace,
  V1ObjectMeta,
  V1Pod,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';

/** Any custom object: metadata plus untyped spec/status (read defensively). */
export interface CustomObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: V1ObjectMeta;
  readonly spec?: Readonly<Record<string, unknown>>;
  readonly status?: Readonly<Record<string, unknown>>;
}

/** Everything translate() sees. */
export interface World {
  /** Trust domain of SPIFFE identities (e.g. `cluster.local`). */
  readonly trustDomain: string;
  readonly namespaces: readonly V1Namespace[];
  readonly pods: readonly V1Pod[];
  readonly services: readonly V1Service[];
  readonly serviceAccounts: readonly V1ServiceAccount[];
  readonly endpointSlices: readonly V1EndpointSlice[];
  readonly gatewayClasses: readonly CustomObject[];
  readonly gateways: readonly CustomObject[];
  readonly httpRoutes: readonly CustomObject[];
  readonly grpcRoutes: readonly CustomObject[];
  readonly referenceGrants: readonly CustomObject[];
  readonly authorizationPolicies: readonly CustomObject[];
  readonly rateLimitPolicies: readonly CustomObject[];
  /** Waypoint Deployments' ready replica counts by `namespace/gateway` (provisioner's view). */
  readonly waypointReadyReplicas: Readonly<Record<string, number>>;
}

/** Names the controller relies on (DESIGN.md §2). */
export const NAMES = {
  dataplaneLabel: 'waymesh.io/dataplane-mode',
  dataplaneAmbient: 'ambient',
  dataplaneNone: 'none',
  useWaypointLabel: 'waymesh.io/use-waypoint',
  useWaypointNamespaceLabel: 'waymesh.io/use-waypoint-namespace',
  waypointClass: 'waymesh-waypoint',
  waypointControllerName: 'waymesh.io/waypoint-controller',
  meshControllerName: 'waymesh.io/mesh-controller',
  hbonePort: 15008,
  /**
   * The mesh's root namespace (the control plane's, as `istio-system` is Istio's): an
   * AuthorizationPolicy there without `targetRefs` applies to every namespace.
   */
  rootNamespace: 'waymesh-system',
} as const;
