/**
 * The waypoint provisioner: for every Gateway of class `waymesh-waypoint` it creates the
 * ServiceAccount, Deployment and Service described by {@link desiredWaypointObjects}, restores
 * drift, and deletes the objects it owns whose Gateway is gone or changed class. Only the leader
 * calls {@link WaypointProvisioner.reconcile}; one failing object never stops the others.
 */
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { NAMES, type CustomObject } from '../translate/world.ts';
import { controllingGatewayUid, driftAction, type LiveObject } from './drift.ts';
import {
  desiredWaypointObjects,
  isWaypointGateway,
  isWaypointParameterError,
  WAYPOINT,
  type KubeObjectLike,
  type WaypointConfig,
} from './objects.ts';
import { KubeApiError, kubeCall, kubeGet, resourcePath, type KubeTransport } from '../kube/rest.ts';

/** The live waypoint objects (typically from informer caches). */
export interface LiveWaypointObjects {
  readonly deployments: readonly LiveObject[];
  readonly services: readonly LiveObject[];
  readonly serviceAccounts: readonly LiveObject[];
}

/** A Gateway whose waypoint could not be built; the status writer reports `InvalidParameters`. */
export interface InvalidWaypoint {
  /** `namespace/name` of the Gateway. */
  readonly gateway: string;
  readonly reason: 'InvalidParameters';
  readonly message: string;
}

/** What one reconcile did; object keys are `Kind/namespace/name`, sorted. */
export interface ReconcileResult {
  readonly created: readonly string[];
  readonly updated: readonly string[];
  readonly deleted: readonly string[];
  readonly invalid: readonly InvalidWaypoint[];
  /** Objects with a waypoint's name that another owner controls; left untouched. */
  readonly conflicts: readonly string[];
  /** API failures (`key: message`); the next reconcile retries them. */
  readonly errors: readonly string[];
}

/** Options of {@link WaypointProvisioner}. */
export interface WaypointProvisionerOptions {
  readonly client: KubeTransport;
  readonly logger: Logger;
  readonly config: WaypointConfig;
}

const KINDS = ['ServiceAccount', 'Deployment', 'Service'] as const;
type Kind = (typeof KINDS)[number];

function keyOf(kind: string, namespace: string | undefined, name: string | undefined): string {
  return `${kind}/${namespace ?? ''}/${name ?? ''}`;
}

/** Keeps waypoint objects in line with the waypoint Gateways. */
export class WaypointProvisioner {
  readonly #client: KubeTransport;
  readonly #log: Logger;
  readonly #config: WaypointConfig;

  constructor(opts: WaypointProvisionerOptions) {
    this.#client = opts.client;
    this.#log = opts.logger.child({ component: 'waypoint-provisioner' });
    this.#config = opts.config;
  }

  /** One pass over all Gateways and the live objects; see {@link ReconcileResult}. */
  async reconcile(gateways: readonly CustomObject[], live: LiveWaypointObjects): Promise<ReconcileResult> {
    const created: string[] = [];
    const updated: string[] = [];
    const deleted: string[] = [];
    const invalid: InvalidWaypoint[] = [];
    const conflicts: string[] = [];
    const errors: string[] = [];
    const liveByKind: Record<Kind, readonly LiveObject[]> = {
      ServiceAccount: live.serviceAccounts,
      Deployment: live.deployments,
      Service: live.services,
    };
    const index = new Map<string, LiveObject>();
    for (const kind of KINDS)
      for (const o of liveByKind[kind]) index.set(keyOf(kind, o.metadata?.namespace, o.metadata?.name), o);

    const attempt = async (key: string, op: () => Promise<void>): Promise<boolean> => {
      try {
        await op();
        return true;
      } catch (err) {
        errors.push(`${key}: ${errorMessage(err)}`);
        this.#log.warn('waypoint object write failed', { object: key, error: errorMessage(err) });
        return false;
      }
    };

    // Gateways that keep their objects: valid waypoints, and invalid ones (keep the last good
    // waypoint running while the user fixes the annotation).
    const keepUids = new Set<string>();
    const sorted = [...gateways]
      .filter(isWaypointGateway)
      .filter((g) => g.metadata.deletionTimestamp === undefined)
      .sort((a, b) =>
        `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`.localeCompare(
          `${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`,
        ),
      );
    for (const gw of sorted) {
      const gwKey = `${gw.metadata.namespace ?? ''}/${gw.metadata.name ?? ''}`;
      if (typeof gw.metadata.uid === 'string') keepUids.add(gw.metadata.uid);
      const desired = desiredWaypointObjects(gw, this.#config);
      if (isWaypointParameterError(desired)) {
        invalid.push({ gateway: gwKey, reason: desired.reason, message: desired.message });
        continue;
      }
      for (const obj of desired) {
        const key = keyOf(obj.kind, obj.metadata.namespace, obj.metadata.name);
        const current = index.get(key);
        if (current === undefined) {
          if (await attempt(key, () => this.#create(obj))) created.push(key);
          continue;
        }
        if (controllingGatewayUid(current) !== gw.metadata.uid) {
          conflicts.push(key);
          this.#log.warn('waypoint object exists with another owner; not touching it', { object: key });
          continue;
        }
        const action = driftAction(obj, current);
        if (action.type === 'patch') {
          const path = resourcePath(obj.kind, obj.metadata.namespace, obj.metadata.name);
          const ok = await attempt(key, async () => {
            await kubeCall(this.#client, { method: 'PATCH', path, body: action.patch });
          });
          if (ok) updated.push(key);
        } else if (action.type === 'recreate') {
          const ok = await attempt(key, async () => {
            await this.#delete(obj.kind, obj.metadata.namespace, obj.metadata.name);
            await this.#create(obj);
          });
          if (ok) updated.push(key);
        }
      }
    }

    for (const kind of KINDS) {
      for (const o of liveByKind[kind]) {
        const owner = controllingGatewayUid(o);
        if (owner === undefined || o.metadata?.labels?.[WAYPOINT.waypointLabel] !== 'true') continue;
        if (keepUids.has(owner) || o.metadata.deletionTimestamp !== undefined) continue;
        const key = keyOf(kind, o.metadata.namespace, o.metadata.name);
        if (await attempt(key, () => this.#delete(kind, o.metadata?.namespace, o.metadata?.name)))
          deleted.push(key);
      }
    }

    const result: ReconcileResult = {
      created: created.sort(),
      updated: updated.sort(),
      deleted: deleted.sort(),
      invalid,
      conflicts: conflicts.sort(),
      errors,
    };
    if (created.length + updated.length + deleted.length > 0 || errors.length > 0)
      this.#log.info('waypoints reconciled', {
        created: result.created,
        updated: result.updated,
        deleted: result.deleted,
        errors: errors.length,
      });
    return result;
  }

  async #create(obj: KubeObjectLike): Promise<void> {
    const path = resourcePath(obj.kind, obj.metadata.namespace);
    try {
      await kubeCall(this.#client, { method: 'POST', path, body: obj });
    } catch (err) {
      // Our cache lagged behind a create of the previous pass; the next pass compares again.
      if (err instanceof KubeApiError && err.status === 409) return;
      throw err;
    }
  }

  async #delete(kind: string, namespace: string | undefined, name: string | undefined): Promise<void> {
    const path = resourcePath(kind, namespace, name ?? '');
    try {
      await kubeCall(this.#client, {
        method: 'DELETE',
        path,
        body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' },
      });
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return;
      throw err;
    }
  }
}

/** What {@link ensureGatewayClass} found. */
export type GatewayClassState = 'created' | 'exists' | 'foreign';

/**
 * Creates GatewayClass `waymesh-waypoint` (controllerName `waymesh.io/waypoint-controller`) when
 * missing. `foreign`: a class of that name belongs to another controller; it is left alone.
 */
export async function ensureGatewayClass(client: KubeTransport, logger?: Logger): Promise<GatewayClassState> {
  const path = resourcePath('GatewayClass', undefined, NAMES.waypointClass);
  const live = await kubeGet(client, path);
  if (live !== undefined) {
    const spec = (live as { spec?: { controllerName?: unknown } }).spec;
    if (spec?.controllerName === NAMES.waypointControllerName) return 'exists';
    logger?.warn('GatewayClass belongs to another controller; waypoints will not be provisioned for it', {
      gatewayClass: NAMES.waypointClass,
      controllerName: String(spec?.controllerName),
    });
    return 'foreign';
  }
  try {
    await kubeCall(client, {
      method: 'POST',
      path: resourcePath('GatewayClass', undefined),
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'GatewayClass',
        metadata: { name: NAMES.waypointClass },
        spec: {
          controllerName: NAMES.waypointControllerName,
          description: 'waymesh waypoint proxies (GAMMA, HBONE on port 15008)',
        },
      },
    });
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 409) return 'exists';
    throw err;
  }
  logger?.info('GatewayClass created', { gatewayClass: NAMES.waypointClass });
  return 'created';
}
