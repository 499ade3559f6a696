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
export { HttpsKubeClient, KubeApiError, kubeCall, kubeGet, resourcePath } from './rest.ts';
export type { HttpsKubeClientOptions, KubeRequest, KubeResponse, KubeRestClient } from './rest.ts';
export { MemoryKubeClient, mergePatch } from './memory-client.ts';
