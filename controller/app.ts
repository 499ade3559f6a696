/**
 * The controller program (DESIGN.md §5): WorldSource → debounced translate → snapshots →
 * config push to every proxy; while leading, the GatewayClass, the waypoint provisioner and
 * status writes; the cluster CA with TokenReview authentication and node-aware authorization.
 * Every replica serves config and certificates; only the leader writes to the API server.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { ProxyId } from '../common/config-client/defs.ts';
import { errorMessage, MeshError } from '../common/errors.ts';
import type { ObjectStatus } from '../common/ir/index.ts';
import type { Logger } from '../common/log.ts';
import { formatSpiffeId, workloadId } from '../common/spiffe.ts';
import { issueLocalIdentity, type LocalIdentity } from '../certs/identity.ts';
import { addCaService, caServerCredentials, type CertificateAuthority } from '../certs/index.ts';
import { TokenReviewAuthenticator } from './ca/authn.ts';
import { MeshAuthorizer, NODE_AGENT_ACCOUNT } from './ca/authz.ts';
import { WorldCaLookup } from './ca/lookup.ts';
import { publishRootCert } from './ca/root-configmap.ts';
import { CaReloader } from './ca/reload.ts';
import { loadOrCreateClusterCa, SecretCaStore } from './ca/secret-store.ts';
import { KubeRest } from './kube/rest.ts';
import { StatusWriter } from './kube/status-writer.ts';
import { WorldSource } from './kube/world-source.ts';
import { LeaderElector } from './leader/index.ts';
import {
  controllerMetrics,
  DEFAULT_CONTROLLER_OPS,
  startControllerOps,
  type ControllerOpsAddresses,
} from './ops.ts';
import { reconcileXMesh } from './mesh/xmesh.ts';
import type { LiveObject } from './provision/drift.ts';
import { WAYPOINT } from './provision/objects.ts';
import { ensureGatewayClass, WaypointProvisioner } from './provision/provisioner.ts';
import { buildSnapshots } from './snapshots/index.ts';
import { translate } from './translate/index.ts';
import { NAMES, type World } from './translate/world.ts';
import { ProxyStatusReporter } from './xds/report.ts';
import { startConfigServer, type ConfigServer } from './xds/server.ts';

/**
 * Lifetime of the controller's serving certificate on 15012; it is renewed at half life while
 * the server runs (docs/operations.md).
 */
export const SERVING_TTL_SECONDS = 24 * 3600;

/** Default of {@link ControllerOptions.caReloadMs}. */
export const CA_RELOAD_MS = 30_000;

/** The controller's own service account: its serving certificate's identity. */
export const CONTROLLER_ACCOUNT = 'waymesh-controller';

/** Options of {@link startController}. */
export interface ControllerOptions {
  readonly kubeConfig: KubeConfig;
  readonly trustDomain: string;
  /** The controller's namespace: CA Secret, Lease, node agent (default `waymesh-system`). */
  readonly namespace?: string;
  /** `host:port` of the gRPC server (config stream and certificates), e.g. `0.0.0.0:15012`; port 0 picks a free port. */
  readonly listen: string;
  /** This replica's name in the leader Lease (the pod name). */
  readonly identity: string;
  readonly waypoint: {
    readonly image: string;
    readonly replicas: number;
    readonly controllerAddress: string;
    /** Redis for the waypoints' shared rate limits (`host:port`); none disables rate limiting. */
    readonly redisAddress?: string;
    /** Secret in each waypoint's namespace with the Redis credentials and CA (see provision/objects.ts). */
    readonly redisSecret?: string;
    /** Waypoints reach Redis over TLS. */
    readonly redisTls?: boolean;
    /** OTLP endpoint the waypoints export traces to (`http://host:4317`); none disables tracing. */
    readonly otlpEndpoint?: string;
  };
  readonly logger: Logger;
  /** Quiet time after a change before the world is translated (default 100 ms). */
  readonly debounceMs?: number;
  /** Leader-election timings (tests shorten them). */
  readonly leaseDurationSeconds?: number;
  readonly renewDeadlineSeconds?: number;
  readonly retryPeriodSeconds?: number;
  /**
   * How often the leader re-checks what it writes even without a change (default 30 s): objects
   * changed behind its back that it does not watch (the XMesh CRD installed later, a root
   * ConfigMap deleted) converge within this period.
   */
  readonly resyncMs?: number;
  /** Lifetime of the serving certificate, renewed at half life (default {@link SERVING_TTL_SECONDS}). */
  readonly servingTtlSeconds?: number;
  /** How often the proxy sync states are published on this replica's Pod (default 2 s). */
  readonly proxyStatusIntervalMs?: number;
  /**
   * How often the CA Secrets are read again (default {@link CA_RELOAD_MS}): a changed, valid CA
   * is used from then on (docs/certificates.md, "Rotating the root").
   */
  readonly caReloadMs?: number;
  /** Admin (15000), metrics (15020) and readiness (15021) servers; `false` runs none (tests). */
  readonly ops?: ControllerOpsAddresses | false;
}

/** A running controller. */
export interface Controller {
  /** Port of the gRPC server (config stream and certificate service). */
  readonly port: number;
  /** Ports of the operations servers that run (`admin`, `metrics`, `ready`). */
  readonly opsPorts: Readonly<Record<string, number>>;
  /** Stops election (releasing the Lease), the servers and the informers. */
  stop(options?: { deadlineMs?: number }): Promise<void>;
}

/** Node names of the pods in `world`, sorted and unique: the nodes that get a node snapshot. */
export function nodesOf(world: World): string[] {
  const nodes = new Set<string>();
  for (const p of world.pods) {
    const n = p.spec?.nodeName;
    if (typeof n === 'string' && n !== '') nodes.add(n);
  }
  return [...nodes].sort();
}

/**
 * The waypoint Gateway (`namespace/name`) whose waypoint runs as `namespace/serviceAccount`: the
 * ServiceAccount must be controlled by a Gateway of class waymesh-waypoint (same uid).
 */
export function waypointOfAccount(
  world: World,
  namespace: string,
  serviceAccount: string,
): string | undefined {
  const sa = world.serviceAccounts.find(
    (s) => s.metadata?.namespace === namespace && s.metadata?.name === serviceAccount,
  );
  for (const o of sa?.metadata?.ownerReferences ?? []) {
    if (o.kind !== 'Gateway' || typeof o.apiVersion !== 'string') continue;
    if (!o.apiVersion.startsWith('gateway.networking.k8s.io/')) continue;
    const gw = world.gateways.find(
      (g) =>
        g.metadata.namespace === namespace &&
        g.metadata.name === o.name &&
        typeof g.metadata.uid === 'string' &&
        g.metadata.uid === o.uid &&
        g.spec?.['gatewayClassName'] === NAMES.waypointClass,
    );
    if (gw !== undefined) return `${namespace}/${o.name}`;
  }
  return undefined;
}

async function listWaypointObjects(rest: KubeRest, path: string): Promise<LiveObject[]> {
  const selector = encodeURIComponent(`${WAYPOINT.waypointLabel}=true`);
  const list = (await rest.list(`${path}?labelSelector=${selector}`)) as { items?: unknown };
  return Array.isArray(list.items) ? (list.items as LiveObject[]) : [];
}

/** Starts every part of the controller; resolves once the caches synced and both servers listen. */
export async function startController(opts: ControllerOptions): Promise<Controller> {
  const log = opts.logger.child({ component: 'controller' });
  const namespace = opts.namespace ?? NODE_AGENT_ACCOUNT.namespace;
  const debounceMs = opts.debounceMs ?? 100;
  const rest = new KubeRest(opts.kubeConfig);
  const nodeAgent = { namespace, serviceAccount: NODE_AGENT_ACCOUNT.serviceAccount };

  const caStore = new SecretCaStore({ client: rest, namespace });
  /** Sends the proxies the reloaded CA's roots (set once the config server runs). */
  let sendAnchors = (): void => undefined;
  const caReloader = new CaReloader({
    store: caStore,
    initial: await loadOrCreateClusterCa({
      store: caStore,
      trustDomain: opts.trustDomain,
      logger: opts.logger,
    }),
    trustDomain: opts.trustDomain,
    logger: log,
    // New handshakes get a serving certificate from the new CA at once; every replica sends its
    // proxies the roots; the leader republishes the root ConfigMaps.
    onReload: () => {
      renewServingNow();
      sendAnchors();
      if (leading) scheduleWrites();
    },
  });
  const ca = (): CertificateAuthority => caReloader.current();
  const servingId = formatSpiffeId(workloadId(opts.trustDomain, namespace, CONTROLLER_ACCOUNT));
  // The serving certificate lives a day and is replaced at half life on the running server (new
  // handshakes get the new one; open streams keep theirs), as the proxies' own certificates are.
  const servingTtl = opts.servingTtlSeconds ?? SERVING_TTL_SECONDS;
  const issueServing = (): LocalIdentity => issueLocalIdentity(ca(), servingId, { ttlSeconds: servingTtl });
  const credentials = caServerCredentials(issueServing());
  function renewServingNow(): void {
    try {
      credentials.update(issueServing());
      log.info('serving certificate renewed', { identity: servingId, ttlSeconds: servingTtl });
    } catch (err) {
      // The current certificate stays valid for another half of its life; the next turn retries.
      log.error('serving certificate renewal failed', { identity: servingId, error: errorMessage(err) });
    }
  }
  const renewServing = setInterval(renewServingNow, (servingTtl * 1000) / 2);
  renewServing.unref();

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const source: WorldSource = new WorldSource({
    kubeConfig: opts.kubeConfig,
    trustDomain: opts.trustDomain,
    logger: opts.logger,
    onChange: () => {
      if (stopped || timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        pass();
      }, debounceMs);
    },
  });
  const lookup = new WorldCaLookup(() => source.snapshot());
  const authenticator = new TokenReviewAuthenticator({ client: rest });

  /** Who opens a config stream: a node agent (its bound pod's node) or a waypoint (its Gateway). */
  const authenticateProxy = async (token: string | undefined): Promise<ProxyId> => {
    const caller = await authenticator.authenticate({ token, peer: 'config stream' });
    const { namespace: ns, serviceAccount: sa } = caller;
    if (ns === nodeAgent.namespace && sa === nodeAgent.serviceAccount) {
      const node = lookup.nodeOfAgent(caller);
      if (node === undefined)
        throw new MeshError(
          'CONFIG_UNAUTHORIZED',
          `node agent ${caller.name} has no known node: its token is not bound to a scheduled pod`,
          { hint: 'mount a projected service-account token (bound to the pod)' },
        );
      return { kind: 'node', name: node };
    }
    const waypoint =
      ns === undefined || sa === undefined ? undefined : waypointOfAccount(source.snapshot(), ns, sa);
    if (waypoint !== undefined) return { kind: 'waypoint', name: waypoint };
    throw new MeshError(
      'CONFIG_UNAUTHORIZED',
      `${caller.name} is neither the node agent (${nodeAgent.namespace}/${nodeAgent.serviceAccount}) ` +
        'nor the service account of a waymesh-waypoint Gateway',
    );
  };

  // Config and certificates share one gRPC server on 15012 (DESIGN.md §3).
  const config: ConfigServer = await startConfigServer({
    address: opts.listen,
    credentials,
    logger: opts.logger,
    // Every snapshot carries the CA's roots, so a new root reaches every proxy in seconds.
    trustAnchors: () => ca().rootsPem(),
    authenticate: (metadata) => {
      const value = metadata.get('authorization')[0];
      const m = typeof value === 'string' ? /^Bearer\s+(\S+)$/i.exec(value.trim()) : null;
      return authenticateProxy(m?.[1]);
    },
    services: (server) =>
      addCaService(server, {
        ca,
        authenticator,
        authorizer: new MeshAuthorizer({ lookup, nodeAgent }),
        logger: opts.logger,
      }),
  });
  sendAnchors = () => config.anchorsChanged();

  const statusWriter = new StatusWriter({ client: rest, logger: opts.logger });
  const provisioner = new WaypointProvisioner({
    client: rest,
    logger: opts.logger,
    config: { ...opts.waypoint, trustDomain: opts.trustDomain },
  });
  let leading = false;
  let synced = false;
  const opsSource = {
    proxies: () => config.status(),
    leading: () => leading,
    ready: () => synced && !stopped,
  };
  const metrics = controllerMetrics(opsSource);
  /** The latest translated world for the leader's writes; the writer takes the newest one. */
  let latest: { world: World; statuses: readonly ObjectStatus[] } | undefined;
  let writing: Promise<void> | undefined;
  let writeAgain = false;

  const leaderWrites = async (): Promise<void> => {
    while (writeAgain && leading && !stopped && latest !== undefined) {
      writeAgain = false;
      const { world, statuses } = latest;
      try {
        // A class of that name owned by another controller is theirs: provision nothing for it.
        const classState = await ensureGatewayClass(rest, log);
        const live = {
          deployments: await listWaypointObjects(rest, '/apis/apps/v1/deployments'),
          services: await listWaypointObjects(rest, '/api/v1/services'),
          serviceAccounts: await listWaypointObjects(rest, '/api/v1/serviceaccounts'),
        };
        const waypointNamespaces = world.gateways
          .filter((g) => g.spec?.['gatewayClassName'] === NAMES.waypointClass)
          .map((g) => g.metadata.namespace ?? '')
          .filter((ns) => ns !== '');
        await publishRootCert(rest, [namespace, ...waypointNamespaces], ca().rootsPem(), log);
        await reconcileXMesh(rest, opts.identity, log);
        const result =
          classState === 'foreign'
            ? { invalid: [], errors: [] }
            : await provisioner.reconcile(world.gateways, live);
        for (const bad of result.invalid)
          log.warn('waypoint not provisioned', { gateway: bad.gateway, reason: bad.message });
        const applied = await statusWriter.apply(statuses, world);
        if (applied.failed > 0 || result.errors.length > 0) writeAgain = true;
      } catch (err) {
        // The next change or the retry below tries again; a failing API server never stops the loop.
        log.warn('leader writes failed; retrying', { error: errorMessage(err) });
        writeAgain = true;
      }
      if (writeAgain) await new Promise((r) => setTimeout(r, 1_000).unref());
    }
  };
  const scheduleWrites = (): void => {
    writeAgain = true;
    if (writing !== undefined) return;
    writing = leaderWrites().finally(() => {
      writing = undefined;
    });
  };

  /** One pass: translate the current world, publish every snapshot, and (leading) write. */
  function pass(): void {
    if (stopped) return;
    try {
      const t0 = performance.now();
      const world = source.snapshot();
      const { ir, statuses } = translate(world);
      config.publish(buildSnapshots({ ...ir, nodes: nodesOf(world) }));
      metrics.publishes.inc();
      metrics.passMs.observe(performance.now() - t0);
      latest = { world, statuses };
      if (leading) scheduleWrites();
    } catch (err) {
      log.error('translating the world failed', { error: errorMessage(err) });
    }
  }

  const elector = new LeaderElector({
    client: rest,
    identity: opts.identity,
    namespace,
    logger: opts.logger,
    ...(opts.leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds: opts.leaseDurationSeconds }),
    ...(opts.renewDeadlineSeconds === undefined ? {} : { renewDeadlineSeconds: opts.renewDeadlineSeconds }),
    ...(opts.retryPeriodSeconds === undefined ? {} : { retryPeriodSeconds: opts.retryPeriodSeconds }),
    onStartedLeading: () => {
      leading = true;
      if (latest !== undefined) scheduleWrites();
    },
    onStoppedLeading: () => {
      leading = false;
    },
  });

  try {
    await source.start();
  } catch (err) {
    await config.stop({ deadlineMs: 0 });
    throw err;
  }
  elector.start();
  synced = true;
  let ops: Awaited<ReturnType<typeof startControllerOps>> | undefined;
  try {
    ops =
      opts.ops === false
        ? undefined
        : await startControllerOps(opts.ops ?? DEFAULT_CONTROLLER_OPS, opsSource, metrics, log);
  } catch (err) {
    synced = false;
    await elector.stop({ deadlineMs: 1_000 });
    await Promise.all([config.stop({ deadlineMs: 0 }), source.stop()]);
    throw err;
  }
  const reporter = new ProxyStatusReporter({
    client: rest,
    namespace,
    pod: opts.identity,
    status: () => config.status(),
    logger: opts.logger,
    ...(opts.proxyStatusIntervalMs === undefined ? {} : { intervalMs: opts.proxyStatusIntervalMs }),
  });
  reporter.start();
  const resync = setInterval(() => {
    if (leading && latest !== undefined) scheduleWrites();
  }, opts.resyncMs ?? 30_000).unref();
  let reloading = false;
  const reloadCa = setInterval(() => {
    if (reloading || stopped) return;
    reloading = true;
    void caReloader.check().finally(() => (reloading = false));
  }, opts.caReloadMs ?? CA_RELOAD_MS).unref();
  log.info('controller started', { port: config.port, identity: opts.identity });

  return {
    port: config.port,
    opsPorts: ops?.ports ?? {},
    async stop({ deadlineMs = 5_000 } = {}): Promise<void> {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      clearInterval(resync);
      clearInterval(renewServing);
      clearInterval(reloadCa);
      reporter.stop();
      await elector.stop({ deadlineMs });
      await writing;
      await Promise.all([config.stop({ deadlineMs }), source.stop(), ops?.stop()]);
      log.info('controller stopped');
    },
  };
}
