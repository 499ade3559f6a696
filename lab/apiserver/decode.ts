/**
 * Decoding of requests: integer query parameters, and bodies with content negotiation (JSON and
 * YAML; 415 otherwise, as kube-apiserver answers) under the limits that keep one request from
 * taking the server down. Values nest at most {@link MAX_DEPTH} levels (deeper ones would
 * overflow the stack of the recursive code that handles objects later), and a YAML document may
 * not grow past the body limit once its aliases are expanded: a "billion laughs" document is
 * refused, as sigs.k8s.io/yaml refuses excessive aliasing. YAML is read with the core schema
 * plus merge keys, so timestamps and binaries stay strings as they do when kube converts YAML to
 * JSON.
 */
import { CORE_SCHEMA, load, Type, type LoadOptions } from 'js-yaml';
import { MAX_BODY_BYTES } from './status-http.ts';
import { ApiError, type Json } from './types.ts';

/** Deepest nesting of arrays and objects accepted in a body or produced by a patch. */
export const MAX_DEPTH = 512;

/** `<<` merge keys (YAML 1.1, which kube's YAML reader follows), as js-yaml defines them. */
const MERGE = new Type('tag:yaml.org,2002:merge', {
  kind: 'scalar',
  resolve: (d: unknown) => d === '<<' || d === null,
});
const YAML_SCHEMA = CORE_SCHEMA.extend({ implicit: [MERGE] });
const UNSUPPORTED =
  'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml';

/** Thrown by {@link measure}; callers turn it into their own Status. */
class ShapeError extends Error {}

/**
 * Walks `value` as if its shared parts (YAML aliases) were copies, without recursion: throws a
 * ShapeError when it nests deeper than `maxDepth` or counts more than `maxUnits` (one per node,
 * plus the length of every string and key). Stops as soon as a limit is passed.
 */
function measure(value: unknown, maxDepth: number, maxUnits: number): void {
  const stack: [unknown, number][] = [[value, 0]];
  let units = 0;
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [v, depth] = top;
    units += typeof v === 'string' ? v.length + 1 : 1;
    if (units > maxUnits)
      throw new ShapeError(
        `the document is larger than ${maxUnits} nodes and characters once its aliases are expanded; write repeated content out instead of aliasing it`,
      );
    if (v === null || typeof v !== 'object') continue;
    const children = Array.isArray(v) ? v : isPlainObject(v) ? Object.entries(v) : [];
    if (children.length > 0 && depth >= maxDepth)
      throw new ShapeError(`the document is nested more than ${maxDepth} levels deep`);
    for (const c of children) {
      if (Array.isArray(v)) stack.push([c, depth + 1]);
      else {
        const [k, child] = c as [string, unknown];
        units += k.length;
        stack.push([child, depth + 1]);
      }
    }
  }
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Checks a decoded value against the nesting limit (`what`: prefix of the 400 message). */
export function checkDepth(value: Json, what: string, code = 400): void {
  try {
    measure(value, MAX_DEPTH, Number.POSITIVE_INFINITY);
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    throw new ApiError(code, code === 400 ? 'BadRequest' : 'Invalid', `${what}: ${err.message}`);
  }
}

/** Parses JSON text; 400 with `what` as the message prefix on syntax errors or deep nesting. */
export function parseJson(text: string, what: string): Json {
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
  } catch (err) {
    throw new ApiError(400, 'BadRequest', `${what}: ${(err as Error).message}`);
  }
  checkDepth(value, what);
  return value;
}

/** Parses one YAML document under the limits above; 400 `error decoding YAML: …` otherwise. */
export function parseYaml(text: string): Json {
  try {
    // The installed js-yaml reads maxDepth; @types/js-yaml does not list it.
    const options = { schema: YAML_SCHEMA, maxDepth: MAX_DEPTH } as LoadOptions;
    const value = load(text, options) as Json;
    measure(value, MAX_DEPTH, MAX_BODY_BYTES);
    return value ?? null;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(400, 'BadRequest', `error decoding YAML: ${(err as Error).message}`);
  }
}

/** Decodes a create/update/delete body by its Content-Type (none: JSON); empty → null. */
export function decodeBody(contentType: string | undefined, text: string): Json {
  if (text.trim() === '') return null;
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType !== '' && mediaType !== 'application/json' && mediaType !== 'application/yaml')
    throw new ApiError(415, 'UnsupportedMediaType', UNSUPPORTED);
  if (mediaType === 'application/yaml') return parseYaml(text);
  return parseJson(text, 'the body of the request could not be decoded as JSON');
}

/** Integer query parameter `name` (undefined when absent); 400 unless a whole number ≥ `min`. */
export function queryInt(
  q: URLSearchParams,
  name: string,
  min = Number.MIN_SAFE_INTEGER,
): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  if (!/^-?\d{1,18}$/.test(raw) || Number(raw) < min) {
    const what = min === 0 ? 'a non-negative integer' : 'an integer';
    throw new ApiError(400, 'BadRequest', `${name} must be ${what} (got "${raw}")`);
  }
  return Number(raw);
}
