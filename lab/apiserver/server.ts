/**
 * The lab's Kubernetes-compatible API server: `createApiServer` restores persisted state,
 * bootstraps the standard namespaces and the `kubernetes` service, and returns a request
 * handler for the supervisor's HTTPS listeners. Routing lives here; verbs in handlers/.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { silentLogger, type Logger } from '../../common/log.ts';
import { TokenSigner } from './auth.ts';
import { ServerContext } from './context.ts';
import { coreVersions, groupInfo, groupList, LAB_VERSION, resourceList } from './discovery.ts';
import { installGarbageCollector } from './gc.ts';
import { Deleter } from './handlers/delete.ts';
import { handleResource, type ResourceHandlerDeps } from './handlers/http.ts';
import type { PodLogFile } from './handlers/logs.ts';
import { ObjectOps } from './handlers/objects.ts';
import { authenticateRequest } from './handlers/tokens.ts';
import { groupVersionDoc, openapiIndex } from './openapi.ts';
import { parseApiPath } from './paths.ts';
import { Registry } from './registry.ts';
import { ServiceIpAllocator } from './service-ip.ts';
import { sendError, sendJson, toApiError } from './status-http.ts';
import { ObjectStore } from './store.ts';
import {
  ApiError,
  type Json,
  type JsonObject,
  type JsonSchema,
  type KubeObject,
  type ResourceDef,
} from './types.ts';
import { WriteAheadLog } from './wal.ts';
import type { UpdateOptions } from './patch/update.ts';
import { WatchHub } from './watch.ts';

/** Capabilities other modules provide; requests needing an absent one are refused clearly. */
export interface ApiServerHooks {
  strategicMergePatch?(live: Json, patch: Json, kind: string): Json;
  serverSideApply?(
    live: KubeObject | undefined,
    applied: KubeObject,
    opts: { manager: string; force: boolean; kind: string; builtin: boolean; now: string },
  ): KubeObject;
  /** The managedFields of `next` after an ordinary write by `opts.manager` (patch/update.ts). */
  trackUpdate?(live: KubeObject | undefined, next: KubeObject, opts: UpdateOptions): Json[];
  validate?(obj: KubeObject, schema: JsonSchema): { path: string; type: string; message: string }[];
  applyDefaults?(obj: Json, schema: JsonSchema): Json;
  prune?(obj: Json, schema: JsonSchema): Json;
  toTable?(
    def: ResourceDef,
    version: string,
    objects: KubeObject[],
    opts: { includeObject: 'None' | 'Metadata' | 'Object'; now: Date },
  ): JsonObject;
}

/** Options of {@link createApiServer}. */
export interface ApiServerOptions {
  dataDir: string;
  adminToken: string;
  signingKeyPem: string;
  issuer?: string;
  serviceCidr: string;
  logger?: Logger;
  now?: () => Date;
  hooks?: ApiServerHooks;
  /** Change events kept for watch resumption (default 10000); older resourceVersions get 410. */
  watchHistorySize?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 60 s). */
  bookmarkIntervalMs?: number;
  /**
   * Server-side end of watches that set no timeoutSeconds (or 0): a random point between this and
   * twice this, as kube-apiserver's --min-request-timeout (default 1800 s; clients then resume).
   */
  watchTimeoutSeconds?: number;
  /** WAL records between compactions into the snapshot (default 1000). */
  compactEvery?: number;
  /** Address advertised in `/api` serverAddressByClientCIDRs (default 127.0.0.1:6443). */
  advertiseAddress?: string;
  /** Where a container's log file is; serves `pods/{name}/log` (`kubectl logs`) when set. */
  podLogFile?: PodLogFile;
}

/** A running API server. */
export interface ApiServer {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Creates objects at bootstrap (e.g. built-in CRDs) without HTTP; same semantics as POST. */
  createObject(obj: KubeObject): Promise<KubeObject>;
  /** Resolves when queued garbage collection work has run (tests, orderly shutdown). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const PUBLIC_PATHS = new Set(['version', 'health']);

function defOf(reg: Registry, apiVersion: string, kind: string): { def: ResourceDef; version: string } {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const def = reg.byKind(group ?? '', kind);
  if (def === undefined || !def.versions.some((v) => v.name === version && v.served)) {
    throw new ApiError(404, 'NotFound', `kind ${kind} in ${apiVersion} is not served by the waymesh lab`);
  }
  return { def, version: version ?? '' };
}

/** Creates the server over `dataDir`, replaying persisted state first. */
export function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  try {
    return Promise.resolve(createApiServerSync(options));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

function createApiServerSync(options: ApiServerOptions): ApiServer {
  const log = (options.logger ?? silentLogger).child({ component: 'lab-apiserver' });
  const { wal, state } = WriteAheadLog.open(options.dataDir, options.compactEvery ?? 1000);
  const store = new ObjectStore();
  store.restoreResourceVersion(state.resourceVersion);
  const registry = new Registry();
  const ips = new ServiceIpAllocator(options.serviceCidr);
  for (const e of state.entries) {
    store.put(e.resource, e.object);
    if (e.resource === 'customresourcedefinitions.apiextensions.k8s.io') registry.applyCrd(e.object);
    if (e.resource === 'services') {
      const ip = ((e.object['spec'] ?? {}) as JsonObject)['clusterIP'];
      if (typeof ip === 'string' && ip !== 'None' && ip !== '') ips.reserve(ip);
    }
  }
  const ctx = new ServerContext({
    store,
    registry,
    hub: new WatchHub(options.watchHistorySize ?? 10000, store.resourceVersion),
    wal,
    ips,
    signer: new TokenSigner(
      options.signingKeyPem,
      options.issuer ?? 'https://kubernetes.default.svc.cluster.local',
    ),
    hooks: options.hooks ?? {},
    log,
    now: options.now ?? (() => new Date()),
  });
  const gc = installGarbageCollector(ctx);
  const ops = new ObjectOps(ctx);
  const deleter = new Deleter(ctx);
  const deps: ResourceHandlerDeps = {
    ctx,
    ops,
    deleter,
    adminToken: options.adminToken,
    podLogFile: options.podLogFile,
    watch: {
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
      maxBufferedBytes: 16 * 1024 * 1024,
      defaultTimeoutSeconds: options.watchTimeoutSeconds ?? 1800,
    },
  };
  const noWarnings = {
    dryRun: false,
    fieldValidation: 'Ignore' as const,
    warnings: [],
    subresource: undefined,
    manager: 'kube-apiserver',
  };

  const createObject = (obj: KubeObject): KubeObject => {
    const { def, version } = defOf(registry, obj.apiVersion, obj.kind);
    return ops.create(
      {
        def,
        version,
        namespace: def.namespaced ? (obj.metadata.namespace ?? 'default') : undefined,
        name: undefined,
      },
      obj as unknown as Json,
      { ...noWarnings, warnings: [] },
    );
  };
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    if (store.get('namespaces', '', ns) === undefined)
      createObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  if (store.get('services', 'default', 'kubernetes') === undefined) {
    createObject({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'kubernetes',
        namespace: 'default',
        labels: { component: 'apiserver', provider: 'kubernetes' },
      },
      spec: {
        clusterIP: ips.apiServerIp,
        ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }],
      },
    });
  }
  log.info('API server ready', { objects: store.size, resourceVersion: store.resourceVersion });

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://lab.invalid');
    const p = parseApiPath(url.pathname);
    if (!PUBLIC_PATHS.has(p.type)) authenticateRequest(ctx, options.adminToken, req.headers.authorization);
    const get = (): void => {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        throw new ApiError(
          405,
          'MethodNotAllowed',
          `the server does not allow this method on the requested resource (${req.method ?? ''} ${url.pathname})`,
        );
    };
    switch (p.type) {
      case 'resource':
        return handleResource(deps, req, res, p, url.searchParams);
      case 'version':
        get();
        return sendJson(res, 200, LAB_VERSION);
      case 'health':
        get();
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('ok');
        return;
      case 'core-versions':
        get();
        return sendJson(res, 200, coreVersions(options.advertiseAddress ?? '127.0.0.1:6443'));
      case 'core-resources':
        get();
        return sendJson(res, 200, resourceList(registry, '', p.version));
      case 'groups':
        get();
        return sendJson(res, 200, groupList(registry));
      case 'group':
        get();
        return sendJson(res, 200, groupInfo(registry, p.group));
      case 'group-resources':
        get();
        return sendJson(res, 200, resourceList(registry, p.group, p.version));
      case 'openapi-v3':
        get();
        return sendJson(res, 200, openapiIndex(registry));
      case 'openapi-v3-gv':
        get();
        return sendJson(res, 200, groupVersionDoc(registry, p.group, p.version));
      case 'openapi-v2':
        throw new ApiError(404, 'NotFound', 'the lab serves OpenAPI v3 only (/openapi/v3)');
      case 'unknown':
        throw new ApiError(
          404,
          'NotFound',
          `the server could not find the requested resource (${url.pathname})`,
        );
    }
  };

  let closed = false;
  return {
    handle(req, res) {
      if (closed) {
        sendError(res, new ApiError(503, 'ServiceUnavailable', 'the API server is shutting down'));
        return;
      }
      route(req, res).catch((err: unknown) => {
        const e = toApiError(err);
        if (e.code >= 500) log.error('request failed', { method: req.method, url: req.url, err: e.message });
        sendError(res, e);
      });
    },
    createObject: (obj) => Promise.resolve().then(() => createObject(obj)),
    settled: () => gc.idle(),
    async close() {
      if (closed) return;
      closed = true;
      await gc.idle();
      gc.stop();
      ctx.hub.closeAll();
      ctx.close();
      log.info('API server closed', { resourceVersion: store.resourceVersion });
    },
  };
}
