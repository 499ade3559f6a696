/**
 * Resource requests: maps method + path + query onto the verb logic (objects.ts, delete.ts,
 * tokens.ts, watch-http.ts), including Table output via the optional hook.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UNSUPPORTED_GROUPS, VIRTUAL_RESOURCES } from '../builtin-kinds.ts';
import type { ServerContext } from '../context.ts';
import type { FieldValidation } from '../kinds.ts';
import type { ResourcePath } from '../paths.ts';
import { apiVersionOf, resourceKey } from '../registry.ts';
import { compileSelector } from '../selectors.ts';
import { decodeBody, queryInt } from '../decode.ts';
import { readBody, sendJson } from '../status-http.ts';
import { ApiError, type Json, type JsonObject, type KubeObject, type ResourceDef } from '../types.ts';
import { parseDeleteOptions, type Deleter } from './delete.ts';
import { managerOf } from '../field-manager.ts';
import { patchKind, type ObjectOps, type Target, type WriteOptions } from './objects.ts';
import { servePodLog, type PodLogFile } from './logs.ts';
import { tokenRequest, tokenReview } from './tokens.ts';
import { serveWatch, type WatchSettings } from './watch-http.ts';

/** Everything a resource request needs. */
export interface ResourceHandlerDeps {
  ctx: ServerContext;
  ops: ObjectOps;
  deleter: Deleter;
  adminToken: string;
  watch: WatchSettings;
  /** Where container logs are, for `pods/{name}/log`; undefined: not served (404). */
  podLogFile: PodLogFile | undefined;
}

function notServed(p: ResourcePath): ApiError {
  const what = UNSUPPORTED_GROUPS[p.group];
  const gr = p.group === '' ? p.resource : `${p.resource}.${p.group}`;
  const msg =
    what === undefined
      ? `the server could not find the requested resource: ${gr} is not served by the waymesh lab`
      : `the server could not find the requested resource: ${gr} (${what}) is not supported by the waymesh lab`;
  return new ApiError(404, 'NotFound', msg, {
    group: p.group,
    kind: p.resource,
    causes: [{ reason: 'UnexpectedServerResponse', message: `${gr} is not supported by the waymesh lab` }],
  });
}

function fieldValidation(q: URLSearchParams): FieldValidation {
  const v = q.get('fieldValidation') ?? 'Warn';
  if (v !== 'Strict' && v !== 'Warn' && v !== 'Ignore')
    throw new ApiError(400, 'BadRequest', `fieldValidation must be one of Strict, Warn, Ignore (got "${v}")`);
  return v;
}

function writeOptions(
  q: URLSearchParams,
  subresource: string | undefined,
  req: IncomingMessage,
): WriteOptions {
  const dry = q.getAll('dryRun');
  if (dry.some((d) => d !== 'All')) throw new ApiError(400, 'BadRequest', `dryRun must be "All"`);
  return {
    dryRun: dry.includes('All'),
    fieldValidation: fieldValidation(q),
    warnings: [],
    subresource,
    manager: managerOf(q.get('fieldManager') ?? undefined, req.headers['user-agent']),
  };
}

function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '')
    .split(',')
    .some((part) => part.includes('as=Table') && part.includes('g=meta.k8s.io'));
}

function listBody(
  def: ResourceDef,
  version: string,
  r: { items: KubeObject[]; rv: string; continue?: string; remaining?: number },
): JsonObject {
  const metadata: JsonObject = { resourceVersion: r.rv };
  if (r.continue !== undefined) metadata['continue'] = r.continue;
  if (r.remaining !== undefined) metadata['remainingItemCount'] = r.remaining;
  return {
    kind: def.listKind,
    apiVersion: apiVersionOf(def.group, version),
    metadata,
    items: r.items as unknown as JsonObject[],
  };
}

/** Handles one request addressed to a resource. */
export async function handleResource(
  d: ResourceHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  p: ResourcePath,
  q: URLSearchParams,
): Promise<void> {
  const { ctx, ops } = d;
  const def = ctx.registry.lookup(p.group, p.version, p.resource);
  if (def === undefined) throw notServed(p);
  if (p.namespace !== undefined && !def.namespaced)
    throw new ApiError(404, 'NotFound', `${def.plural} is not namespaced`);
  const method = req.method ?? 'GET';
  const t: Target = {
    def,
    version: p.version,
    namespace: def.namespaced ? p.namespace : undefined,
    name: p.name,
  };
  const key = resourceKey(def);
  const sub = p.subresource;
  const ct = req.headers['content-type'] ?? '';
  if (ct.startsWith('application/vnd.kubernetes.protobuf') || ct.startsWith('application/cbor')) {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `the waymesh lab accepts JSON request bodies only (got ${ct}); kubectl's imperative generators (kubectl create configmap|deployment|…) send protobuf — use kubectl create -f / apply -f instead`,
    );
  }
  const send = (code: number, body: unknown, warnings: string[] = []): void =>
    sendJson(res, code, body, 'application/json', warnings);
  const decoded = async (): Promise<Json> => decodeBody(ct, await readBody(req));

  if (VIRTUAL_RESOURCES.has(key)) {
    if (method !== 'POST' || p.name !== undefined)
      throw new ApiError(
        405,
        'MethodNotAllowed',
        `the server does not allow this method on the requested resource (${def.plural} are create-only)`,
      );
    send(201, tokenReview(ctx, d.adminToken, await decoded()));
    return;
  }
  if (sub !== undefined) {
    const allowed =
      (sub === 'status' && def.versions.find((v) => v.name === p.version)?.subresources?.status === true) ||
      (sub === 'token' && key === 'serviceaccounts') ||
      (sub === 'binding' && key === 'pods') ||
      (sub === 'log' && key === 'pods' && d.podLogFile !== undefined);
    if (!allowed || p.name === undefined)
      throw new ApiError(
        404,
        'NotFound',
        `the server could not find the requested resource (${def.plural}/${sub})`,
      );
    if (sub === 'token') {
      if (method !== 'POST')
        throw new ApiError(405, 'MethodNotAllowed', 'serviceaccounts/token is create-only');
      send(201, tokenRequest(ctx, def, t.namespace ?? '', p.name, await decoded()));
      return;
    }
    if (sub === 'log' && d.podLogFile !== undefined) {
      if (method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', 'pods/log is read-only (GET)');
      const pod = ctx.store.get('pods', t.namespace ?? '', p.name);
      if (pod === undefined) throw new ApiError(404, 'NotFound', `pods "${p.name}" not found`);
      await servePodLog(ctx, req, res, pod, q, d.podLogFile);
      return;
    }
    if (sub === 'binding') {
      if (method !== 'POST') throw new ApiError(405, 'MethodNotAllowed', 'pods/binding is create-only');
      send(201, ops.bind(t, await decoded(), writeOptions(q, sub, req)));
      return;
    }
  }

  if (p.name === undefined) {
    const selector = compileSelector(q.get('labelSelector'), q.get('fieldSelector'), def.kind);
    if (method === 'GET') {
      if (q.get('watch') === 'true' || q.get('watch') === '1') {
        // kubectl get -w asks for Table rows: each event then carries a one-row Table, as upstream.
        const asTable = wantsTable(req.headers.accept) && ctx.hooks.toTable !== undefined;
        const table = asTable
          ? (o: KubeObject): JsonObject => {
              const tbl = sendTableBody(d, def, p.version, [o], q);
              tbl['metadata'] = { resourceVersion: o.metadata.resourceVersion ?? '' };
              return tbl;
            }
          : undefined;
        serveWatch(
          ctx,
          d.watch,
          req,
          res,
          { def, version: p.version, namespace: t.namespace, selector, table },
          q,
        );
        return;
      }
      if (
        q.get('resourceVersionMatch') === 'Exact' &&
        q.get('resourceVersion') !== String(ctx.store.resourceVersion)
      ) {
        throw new ApiError(
          410,
          'Expired',
          `too old resource version: ${q.get('resourceVersion') ?? ''} (${ctx.store.resourceVersion})`,
        );
      }
      const r = ops.list(t, selector, queryInt(q, 'limit'), q.get('continue') ?? undefined);
      sendListOrTable(d, req, res, def, p.version, r, q);
      return;
    }
    if (method === 'POST') {
      const o = writeOptions(q, undefined, req);
      const created = ops.create(t, await decoded(), o);
      send(201, created, o.warnings);
      return;
    }
    if (method === 'DELETE') {
      if (!def.verbs.includes('deletecollection'))
        throw new ApiError(
          405,
          'MethodNotAllowed',
          `the server does not allow this method on the requested resource (deletecollection ${def.plural})`,
        );
      const items = d.deleter.deleteCollection(
        def,
        t.namespace,
        selector,
        parseDeleteOptions(await decoded(), q),
      );
      send(
        200,
        listBody(def, p.version, {
          items: items.map((o) => ctx.present(def, p.version, o)),
          rv: String(ctx.store.resourceVersion),
        }),
      );
      return;
    }
    throw new ApiError(
      405,
      'MethodNotAllowed',
      `the server does not allow this method on the requested resource (${method} ${def.plural})`,
    );
  }

  if (method === 'GET') {
    if (q.get('watch') === 'true')
      throw new ApiError(
        400,
        'BadRequest',
        'watch a single object with fieldSelector=metadata.name=<name> on the collection',
      );
    const obj = ops.get(t);
    if (wantsTable(req.headers.accept) && ctx.hooks.toTable !== undefined) {
      sendTable(d, res, def, p.version, [obj], q);
      return;
    }
    send(200, obj);
    return;
  }
  if (method === 'PUT') {
    const o = writeOptions(q, sub, req);
    const r = ops.update(t, await decoded(), o);
    send(200, r, o.warnings);
    return;
  }
  if (method === 'PATCH') {
    const o = {
      ...writeOptions(q, sub, req),
      fieldManager: q.get('fieldManager') ?? undefined,
      force: q.get('force') === 'true',
    };
    const kind = patchKind(req.headers['content-type']);
    const existed = ctx.store.get(key, t.namespace ?? '', p.name) !== undefined;
    const r = ops.patch(t, kind, await readBody(req), o);
    send(existed || o.dryRun ? 200 : 201, r, o.warnings);
    return;
  }
  if (method === 'DELETE') {
    if (sub !== undefined)
      throw new ApiError(405, 'MethodNotAllowed', `the server does not allow DELETE on ${def.plural}/${sub}`);
    const opts = parseDeleteOptions(await decoded(), q);
    const r = d.deleter.delete(def, t.namespace, p.name, opts);
    const still = ctx.store.get(key, t.namespace ?? '', p.name) !== undefined;
    send(still ? 202 : 200, ctx.present(def, p.version, r));
    return;
  }
  throw new ApiError(
    405,
    'MethodNotAllowed',
    `the server does not allow this method on the requested resource (${method})`,
  );
}

function sendListOrTable(
  d: ResourceHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  def: ResourceDef,
  version: string,
  r: { items: KubeObject[]; rv: string; continue?: string; remaining?: number },
  q: URLSearchParams,
): void {
  if (wantsTable(req.headers.accept) && d.ctx.hooks.toTable !== undefined) {
    const table = sendTableBody(d, def, version, r.items, q);
    const meta = (table['metadata'] ?? {}) as JsonObject;
    meta['resourceVersion'] = r.rv;
    if (r.continue !== undefined) meta['continue'] = r.continue;
    if (r.remaining !== undefined) meta['remainingItemCount'] = r.remaining;
    table['metadata'] = meta;
    sendJson(res, 200, table, 'application/json;as=Table;v=v1;g=meta.k8s.io');
    return;
  }
  sendJson(res, 200, listBody(def, version, r));
}

function sendTableBody(
  d: ResourceHandlerDeps,
  def: ResourceDef,
  version: string,
  items: KubeObject[],
  q: URLSearchParams,
): JsonObject {
  const hooks = d.ctx.hooks;
  if (hooks.toTable === undefined)
    throw new ApiError(406, 'NotAcceptable', 'Table output is not available in this lab build');
  const inc = q.get('includeObject') ?? 'Metadata';
  if (inc !== 'None' && inc !== 'Metadata' && inc !== 'Object')
    throw new ApiError(400, 'BadRequest', `includeObject must be None, Metadata or Object`);
  return hooks.toTable(def, version, items, { includeObject: inc, now: d.ctx.now() });
}

function sendTable(
  d: ResourceHandlerDeps,
  res: ServerResponse,
  def: ResourceDef,
  version: string,
  items: KubeObject[],
  q: URLSearchParams,
): void {
  sendJson(
    res,
    200,
    sendTableBody(d, def, version, items, q),
    'application/json;as=Table;v=v1;g=meta.k8s.io',
  );
}
