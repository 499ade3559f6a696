/**
 * An in-memory {@link KubeTransport} for tests and dry runs: objects by path, resourceVersion
 * and uid assignment, 409 on create of an existing object or PUT with a stale resourceVersion,
 * JSON merge patch (RFC 7386), and a request log. No garbage collection, no defaulting.
 */
import type { KubeRequest, KubeResponse, KubeTransport } from './rest.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonMap = { [k: string]: Json };

function isMap(v: unknown): v is JsonMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return patch;
  const out: JsonMap = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v) as Json;
  }
  return out;
}

function status(code: number, reason: string, message: string): KubeResponse {
  return { status: code, body: { kind: 'Status', status: 'Failure', reason, message, code } };
}

/** The in-memory API. `failNext` makes the next requests fail with a given HTTP status. */
export class MemoryKubeClient implements KubeTransport {
  readonly objects = new Map<string, JsonMap>();
  readonly log: string[] = [];
  /** HTTP statuses returned (in order) instead of serving the next requests. */
  failNext: number[] = [];
  #rv = 1;
  #uid = 1;

  /** Serves one request. */
  request(req: KubeRequest): Promise<KubeResponse> {
    this.log.push(`${req.method} ${req.path}`);
    const fail = this.failNext.shift();
    if (fail !== undefined) return Promise.resolve(status(fail, 'InternalError', 'injected failure'));
    return Promise.resolve(this.#serve(req));
  }

  /** Stores `obj` at `path` directly (test setup), assigning resourceVersion and uid. */
  put(path: string, obj: unknown): JsonMap {
    const o = structuredClone(obj) as JsonMap;
    const meta = isMap(o['metadata']) ? o['metadata'] : {};
    meta['resourceVersion'] = String(this.#rv++);
    if (typeof meta['uid'] !== 'string') meta['uid'] = `uid-${this.#uid++}`;
    o['metadata'] = meta;
    this.objects.set(path, o);
    return o;
  }

  #serve(req: KubeRequest): KubeResponse {
    const live = this.objects.get(req.path);
    switch (req.method) {
      case 'GET':
        if (live !== undefined) return { status: 200, body: structuredClone(live) };
        return status(404, 'NotFound', `${req.path} not found`);
      case 'POST': {
        const body = req.body as JsonMap;
        const name = isMap(body['metadata']) ? body['metadata']['name'] : undefined;
        if (typeof name !== 'string') return status(422, 'Invalid', 'metadata.name is required');
        const path = `${req.path}/${name}`;
        if (this.objects.has(path)) return status(409, 'AlreadyExists', `${path} already exists`);
        return { status: 201, body: this.put(path, body) };
      }
      case 'PUT': {
        if (live === undefined) return status(404, 'NotFound', `${req.path} not found`);
        const body = req.body as JsonMap;
        const rv = isMap(body['metadata']) ? body['metadata']['resourceVersion'] : undefined;
        const liveRv = isMap(live['metadata']) ? live['metadata']['resourceVersion'] : undefined;
        if (rv !== liveRv) return status(409, 'Conflict', 'the object has been modified');
        return { status: 200, body: this.put(req.path, body) };
      }
      case 'PATCH':
        if (live === undefined) return status(404, 'NotFound', `${req.path} not found`);
        return { status: 200, body: this.put(req.path, mergePatch(live, req.body)) };
      case 'DELETE':
        if (live === undefined) return status(404, 'NotFound', `${req.path} not found`);
        this.objects.delete(req.path);
        return { status: 200, body: live };
    }
  }
}
