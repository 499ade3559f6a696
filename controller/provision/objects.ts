/**
 * Pure description of a waypoint: the ServiceAccount, Deployment and Service the controller
 * keeps for each Gateway of class `waymesh-waypoint` (DESIGN.md §2–§3). No I/O; the
 * provisioner compares these with the live objects and writes the difference.
 */
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import {
  isPathNormalization,
  PATH_NORMALIZATIONS,
  type PathNormalization,
} from '../../common/path-normalization.ts';
import { ROOT_CONFIGMAP } from '../ca/root-configmap.ts';
import { NAMES, type CustomObject } from '../translate/world.ts';

/** A Kubernetes object as sent to the API server (apiVersion, kind, metadata, spec). */
export interface KubeObjectLike {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: V1ObjectMeta;
  readonly spec?: Readonly<Record<string, unknown>>;
}

/** Controller-wide waypoint settings; Gateway annotations may override image and replicas (and set the rate-limit failure mode). */
export interface WaypointConfig {
  readonly image: string;
  readonly replicas: number;
  /** `host:port` of the controller's config/CA gRPC server (15012). */
  readonly controllerAddress: string;
  readonly trustDomain: string;
  /** Handed to waypoints as WAYMESH_REDIS_ADDRESS (shared rate-limit budget). */
  readonly redisAddress?: string;
  /**
   * A Secret in each waypoint's namespace with the Redis credentials and CA: keys `password`,
   * `username` (an ACL user) and `ca.crt`, each optional. Only with {@link redisAddress}.
   */
  readonly redisSecret?: string;
  /** Waypoints reach Redis over TLS (WAYMESH_REDIS_TLS). Only with {@link redisAddress}. */
  readonly redisTls?: boolean;
  /** Handed to waypoints as WAYMESH_OTLP_ENDPOINT (trace export). */
  readonly otlpEndpoint?: string;
}

/** Why a Gateway's waypoint cannot be built; the caller reports it as Gateway status. */
export interface WaypointParameterError {
  readonly reason: 'InvalidParameters';
  readonly message: string;
}

/** Labels and annotations of waypoints (DESIGN.md §2). */
export const WAYPOINT = {
  gatewayNameLabel: 'gateway.networking.k8s.io/gateway-name',
  waypointLabel: 'waymesh.io/waypoint',
  imageAnnotation: 'waymesh.io/waypoint-image',
  replicasAnnotation: 'waymesh.io/waypoint-replicas',
  /** `open` (default) or `closed`: what rate limits do while Redis is unreachable. */
  failureModeAnnotation: 'waymesh.io/ratelimit-failure-mode',
  /** `base` (default), `merge-slashes` or `decode-and-merge-slashes` (common/path-normalization.ts). */
  pathNormalizationAnnotation: 'waymesh.io/path-normalization',
  maxReplicas: 20,
  ports: { hbone: 15008, metrics: 15020, readiness: 15021 },
  /**
   * `NODE_OPTIONS` of waypoint containers. Under load V8 grows its young generation to 2 × 16 MiB
   * semi-spaces and keeps them; V8 reads their size only at start, hence an option rather than a
   * flag set by the waypoint itself (which bounds old space: waypoint/program/heap.ts). Together
   * they brought the waypoint's RSS under saturation from ~150 MB to ~110 MB (issue 6: ≤ 120 MB)
   * at the same requests/s.
   */
  nodeOptions: '--max-semi-space-size=8',
} as const;

/** Secret keys the waypoint's Redis settings come from (see {@link redisEnv}); `ca.crt` with TLS only. */
const REDIS_SECRET_KEYS: readonly (readonly [env: string, key: string])[] = [
  ['WAYMESH_REDIS_PASSWORD', 'password'],
  ['WAYMESH_REDIS_USERNAME', 'username'],
];
const REDIS_CA_KEY = ['WAYMESH_REDIS_CA', 'ca.crt'] as const;

/**
 * The waypoint container's Redis variables: the address, TLS when `redisTls`, and the keys of
 * Secret `redisSecret` in its namespace: `password`, `username` (an ACL user) and `ca.crt` (the
 * CA of Redis's certificate). Every key is optional, and the Secret too: a waypoint without them
 * still routes, and its rate limiter reports Redis's refusal (NOAUTH, a certificate it cannot
 * verify) as an outage whose hint names the Secret. A required key would keep the whole waypoint
 * from starting (`CreateContainerConfigError`), and every Service behind it from being reached;
 * for the same reason the waypoint only warns about a Secret's content that does not fit (a
 * username without a password, a `ca.crt` that is not PEM).
 */
function redisEnv(config: WaypointConfig): Record<string, unknown>[] {
  const { redisAddress, redisSecret } = config;
  if (redisAddress === undefined) return [];
  return [
    { name: 'WAYMESH_REDIS_ADDRESS', value: redisAddress },
    ...(config.redisTls === true ? [{ name: 'WAYMESH_REDIS_TLS', value: 'true' }] : []),
    ...(redisSecret === undefined
      ? []
      : [...REDIS_SECRET_KEYS, ...(config.redisTls === true ? [REDIS_CA_KEY] : [])].map(([name, key]) => ({
          name,
          valueFrom: { secretKeyRef: { name: redisSecret, key, optional: true } },
        }))),
  ];
}

/** True for a {@link desiredWaypointObjects} failure. */
export function isWaypointParameterError(
  v: readonly KubeObjectLike[] | WaypointParameterError,
): v is WaypointParameterError {
  return !Array.isArray(v);
}

/** True when `gw` is a Gateway this controller provisions. */
export function isWaypointGateway(gw: CustomObject): boolean {
  return gw.spec?.['gatewayClassName'] === NAMES.waypointClass;
}

const IMAGE_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;

function invalid(message: string): WaypointParameterError {
  return { reason: 'InvalidParameters', message };
}

function resolveImage(gw: CustomObject, config: WaypointConfig): string | WaypointParameterError {
  const a = gw.metadata.annotations?.[WAYPOINT.imageAnnotation];
  if (a === undefined) return config.image;
  if (!IMAGE_RE.test(a) || a.length > 512)
    return invalid(
      `annotation ${WAYPOINT.imageAnnotation} is not a valid image reference: ${JSON.stringify(a)}`,
    );
  return a;
}

function resolveReplicas(gw: CustomObject, config: WaypointConfig): number | WaypointParameterError {
  const a = gw.metadata.annotations?.[WAYPOINT.replicasAnnotation];
  const fromAnnotation = a !== undefined;
  const n = a === undefined ? config.replicas : /^\d{1,3}$/.test(a.trim()) ? Number(a.trim()) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > WAYPOINT.maxReplicas) {
    const where = fromAnnotation ? `annotation ${WAYPOINT.replicasAnnotation}` : 'controller config replicas';
    return invalid(
      `${where} must be an integer from 1 to ${WAYPOINT.maxReplicas}, got ${JSON.stringify(a ?? n)}`,
    );
  }
  return n;
}

/** The Gateway's rate-limit failure mode, undefined when not set (the waypoint's default, open). */
function resolveFailureMode(gw: CustomObject): 'open' | 'closed' | undefined | WaypointParameterError {
  const a = gw.metadata.annotations?.[WAYPOINT.failureModeAnnotation];
  if (a === undefined) return undefined;
  if (a === 'open' || a === 'closed') return a;
  return invalid(
    `annotation ${WAYPOINT.failureModeAnnotation} must be open or closed, got ${JSON.stringify(a)}`,
  );
}

/** The Gateway's path normalization, undefined when not set (the waypoint's default, base). */
function resolvePathNormalization(gw: CustomObject): PathNormalization | undefined | WaypointParameterError {
  const a = gw.metadata.annotations?.[WAYPOINT.pathNormalizationAnnotation];
  if (a === undefined) return undefined;
  if (isPathNormalization(a)) return a;
  return invalid(
    `annotation ${WAYPOINT.pathNormalizationAnnotation} must be one of ${PATH_NORMALIZATIONS.join(', ')}, got ${JSON.stringify(a)}`,
  );
}

/**
 * Why the Gateway's own settings cannot make a waypoint (its name, or the image/replicas
 * annotations), or undefined. Pure; translate() reports it as `Accepted=False/InvalidParameters`
 * and the provisioner refuses to build from it.
 */
export function waypointParameterProblem(gateway: CustomObject): string | undefined {
  const name = gateway.metadata.name ?? '';
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name))
    return `Gateway name ${JSON.stringify(name)} is not a valid Service name (DNS-1035 label)`;
  // The controller-wide defaults are valid by construction (main.ts checks them).
  const defaults: WaypointConfig = { image: 'default', replicas: 1, controllerAddress: '', trustDomain: '' };
  const image = resolveImage(gateway, defaults);
  if (typeof image !== 'string') return image.message;
  const replicas = resolveReplicas(gateway, defaults);
  if (typeof replicas !== 'number') return replicas.message;
  const failureMode = resolveFailureMode(gateway);
  if (typeof failureMode === 'object') return failureMode.message;
  const normalization = resolvePathNormalization(gateway);
  if (typeof normalization === 'object') return normalization.message;
  return undefined;
}

/** The ownerReference every waypoint object carries, making the Gateway its controller. */
export function gatewayOwnerReference(gw: CustomObject): V1OwnerReference {
  return {
    apiVersion: gw.apiVersion ?? 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    name: gw.metadata.name ?? '',
    uid: gw.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Labels of the waypoint objects of Gateway `name` (also the pods' labels, minus capture opt-out). */
export function waypointLabels(name: string): Record<string, string> {
  return { [WAYPOINT.gatewayNameLabel]: name, [WAYPOINT.waypointLabel]: 'true' };
}

/**
 * The ServiceAccount, Deployment and Service (in that order) for waypoint Gateway `gateway`,
 * or why they cannot be built (bad annotations, missing name/namespace/uid).
 */
export function desiredWaypointObjects(
  gateway: CustomObject,
  config: WaypointConfig,
): readonly KubeObjectLike[] | WaypointParameterError {
  const name = gateway.metadata.name;
  const namespace = gateway.metadata.namespace;
  const uid = gateway.metadata.uid;
  if (typeof name !== 'string' || name === '' || typeof namespace !== 'string' || namespace === '')
    return invalid('Gateway has no name or namespace');
  if (typeof uid !== 'string' || uid === '')
    return invalid('Gateway has no uid yet; it cannot own its waypoint objects');
  // Object names derive from the Gateway name; a Service name must be a DNS-1035 label.
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name))
    return invalid(`Gateway name ${JSON.stringify(name)} is not a valid Service name (DNS-1035 label)`);
  const image = resolveImage(gateway, config);
  if (typeof image !== 'string') return image;
  const replicas = resolveReplicas(gateway, config);
  if (typeof replicas !== 'number') return replicas;
  const failureMode = resolveFailureMode(gateway);
  if (typeof failureMode === 'object') return failureMode;
  const normalization = resolvePathNormalization(gateway);
  if (typeof normalization === 'object') return normalization;

  const labels = waypointLabels(name);
  const metadata = (): V1ObjectMeta => ({
    name,
    namespace,
    labels: { ...labels },
    ownerReferences: [gatewayOwnerReference(gateway)],
  });
  const { hbone, metrics, readiness } = WAYPOINT.ports;
  const fieldEnv = (envName: string, fieldPath: string): Record<string, unknown> => ({
    name: envName,
    valueFrom: { fieldRef: { fieldPath } },
  });

  const serviceAccount: KubeObjectLike = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata() };
  const deployment: KubeObjectLike = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(),
    spec: {
      replicas,
      selector: { matchLabels: { [WAYPOINT.gatewayNameLabel]: name } },
      template: {
        metadata: { labels: { ...labels, [NAMES.dataplaneLabel]: NAMES.dataplaneNone } },
        spec: {
          serviceAccountName: name,
          containers: [
            {
              name: 'waypoint',
              image,
              args: ['waypoint', '--controller', config.controllerAddress],
              env: [
                { name: 'NODE_OPTIONS', value: WAYPOINT.nodeOptions },
                { name: 'WAYMESH_CONTROLLER_ADDRESS', value: config.controllerAddress },
                { name: 'WAYMESH_TRUST_DOMAIN', value: config.trustDomain },
                { name: 'WAYMESH_GATEWAY', value: `${namespace}/${name}` },
                ...redisEnv(config),
                ...(failureMode === undefined
                  ? []
                  : [{ name: 'WAYMESH_RATELIMIT_FAILURE_MODE', value: failureMode }]),
                ...(normalization === undefined
                  ? []
                  : [{ name: 'WAYMESH_PATH_NORMALIZATION', value: normalization }]),
                ...(config.otlpEndpoint === undefined
                  ? []
                  : [{ name: 'WAYMESH_OTLP_ENDPOINT', value: config.otlpEndpoint }]),
                fieldEnv('POD_NAME', 'metadata.name'),
                fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
                fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
                // Verifies the controller before the waypoint holds a certificate (see ca/root-configmap.ts).
                {
                  name: 'WAYMESH_CA_ROOT',
                  valueFrom: { configMapKeyRef: { name: ROOT_CONFIGMAP.name, key: ROOT_CONFIGMAP.key } },
                },
              ],
              ports: [
                { name: 'hbone', containerPort: hbone, protocol: 'TCP' },
                { name: 'metrics', containerPort: metrics, protocol: 'TCP' },
                { name: 'readiness', containerPort: readiness, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/ready', port: readiness }, periodSeconds: 5 },
            },
          ],
        },
      },
    },
  };
  const service: KubeObjectLike = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(),
    spec: {
      type: 'ClusterIP',
      selector: { [WAYPOINT.gatewayNameLabel]: name },
      // The tunnel is mTLS (HBONE), hence `https`.
      ports: [{ name: 'mesh', port: hbone, targetPort: hbone, protocol: 'TCP', appProtocol: 'https' }],
    },
  };
  return [serviceAccount, deployment, service];
}
