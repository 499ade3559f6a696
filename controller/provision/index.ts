/** Waypoint provisioning: pure desired objects, drift comparison, the reconciler, a REST client. */
export {
  desiredWaypointObjects,
  gatewayOwnerReference,
  isWaypointGateway,
  isWaypointParameterError,
  waypointLabels,
  WAYPOINT,
} from './objects.ts';
export type { KubeObjectLike, WaypointConfig, WaypointParameterError } from './objects.ts';
export { containsSubset, controllingGatewayUid, driftAction } from './drift.ts';
export type { DriftAction, LiveObject } from './drift.ts';
export { ensureGatewayClass, WaypointProvisioner } from './provisioner.ts';
export type {
  GatewayClassState,
  InvalidWaypoint,
  LiveWaypointObjects,
  ReconcileResult,
  WaypointProvisionerOptions,
} from './provisioner.ts';
export { KubeApiError, KubeRest, kubeCall, kubeGet, resourcePath } from '../kube/rest.ts';
export type { KubeRestOptions, KubeRequest, KubeResponse, KubeTransport } from '../kube/rest.ts';
export { MemoryKubeClient, mergePatch } from '../kube/memory-client.ts';
