/**
 * JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) over plain JSON values. Pure; failures
 * are ApiErrors shaped as kube-apiserver answers them. Keys are only ever followed and written
 * as own properties; a JSON pointer through `__proto__` is refused (422), so no patch reaches
 * Object.prototype.
 */
import { isDeepStrictEqual } from 'node:util';
import { isObject, ownValue, setKey } from './patch/json.ts';
import { ApiError, type Json, type JsonObject } from './types.ts';

/** Operations one JSON patch may hold (kube-apiserver's limit; more is 413). */
export const MAX_JSON_PATCH_OPERATIONS = 10_000;

/**
 * Bytes (as JSON) all `copy` operations of one JSON patch may copy together, as kube-apiserver's
 * `--json-patch-max-copy-bytes` default: a copy of a value into itself doubles it, and forty of
 * them in a 3 KiB patch would need terabytes (the process died out of memory).
 */
export const MAX_JSON_PATCH_COPY_BYTES = 3 * 1024 * 1024;

/** RFC 7386 merge patch. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setKey(out, k, mergePatch(ownValue(out, k) ?? null, v));
  }
  return out;
}

function bad(message: string): ApiError {
  return new ApiError(
    422,
    'Invalid',
    `the server rejected our request due to an error in our request: ${message}`,
  );
}

function parsePointer(ptr: string): string[] {
  if (ptr === '') return [];
  if (!ptr.startsWith('/')) throw bad(`invalid JSON pointer "${ptr}"`);
  const path = ptr
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (path.includes('__proto__'))
    throw bad(`invalid JSON pointer "${ptr}": a "__proto__" segment is refused`);
  return path;
}

function parentOf(doc: Json, path: string[], op: string): { parent: Json; key: string } {
  let cur = doc;
  for (const seg of path.slice(0, -1)) {
    const next = Array.isArray(cur)
      ? cur[arrayIndex(cur, seg, false)]
      : isObject(cur)
        ? ownValue(cur, seg)
        : undefined;
    if (next === undefined)
      throw bad(`${op} operation does not apply: doc is missing path: "/${path.join('/')}"`);
    cur = next;
  }
  return { parent: cur, key: path[path.length - 1] ?? '' };
}

function arrayIndex(arr: Json[], key: string, allowEnd: boolean): number {
  if (key === '-' && allowEnd) return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(key)) throw bad(`invalid array index "${key}"`);
  const i = Number(key);
  if (i > arr.length || (!allowEnd && i === arr.length)) throw bad(`array index ${i} out of bounds`);
  return i;
}

function getAt(doc: Json, path: string[], op: string): Json {
  if (path.length === 0) return doc;
  const { parent, key } = parentOf(doc, path, op);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, key, false)] ?? null;
  if (isObject(parent) && Object.hasOwn(parent, key)) return parent[key] ?? null;
  throw bad(`${op} operation does not apply: doc is missing path: "/${path.join('/')}"`);
}

function removeAt(doc: Json, path: string[], op: string): Json {
  const value = getAt(doc, path, op);
  const { parent, key } = parentOf(doc, path, op);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false), 1);
  else if (isObject(parent)) delete parent[key];
  return value;
}

function addAt(doc: Json, path: string[], value: Json, op: string): Json {
  if (path.length === 0) return value;
  const { parent, key } = parentOf(doc, path, op);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
  else if (isObject(parent)) setKey(parent, key, value);
  else throw bad(`${op} operation does not apply: doc is missing path: "/${path.join('/')}"`);
  return doc;
}

/** Applies an RFC 6902 patch document to a copy of `doc`. */
export function jsonPatch(doc: Json, ops: Json): Json {
  if (!Array.isArray(ops))
    throw new ApiError(400, 'BadRequest', 'json patch must be a JSON array of operations');
  if (ops.length > MAX_JSON_PATCH_OPERATIONS)
    throw new ApiError(
      413,
      'RequestEntityTooLarge',
      `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${ops.length}`,
    );
  let copied = 0;
  let out = structuredClone(doc);
  for (const raw of ops) {
    if (!isObject(raw)) throw bad('json patch operation is not an object');
    const op = raw['op'];
    const path = parsePointer(typeof raw['path'] === 'string' ? raw['path'] : '');
    const value = raw['value'];
    const from = typeof raw['from'] === 'string' ? parsePointer(raw['from']) : undefined;
    switch (op) {
      case 'add':
        if (value === undefined) throw bad('add operation requires "value"');
        out = addAt(out, path, structuredClone(value), 'add');
        break;
      case 'remove':
        if (path.length === 0) throw bad('cannot remove the whole document');
        removeAt(out, path, 'remove');
        break;
      case 'replace':
        if (value === undefined) throw bad('replace operation requires "value"');
        if (path.length === 0) out = structuredClone(value);
        else {
          removeAt(out, path, 'replace');
          out = addAt(out, path, structuredClone(value), 'replace');
        }
        break;
      case 'move': {
        if (from === undefined) throw bad('move operation requires "from"');
        const v = removeAt(out, from, 'move');
        out = addAt(out, path, v, 'move');
        break;
      }
      case 'copy': {
        if (from === undefined) throw bad('copy operation requires "from"');
        const v = getAt(out, from, 'copy');
        // Measured before the copy is made: each copy can double the document.
        copied += Buffer.byteLength(JSON.stringify(v) ?? '');
        if (copied > MAX_JSON_PATCH_COPY_BYTES)
          throw bad(
            `Unable to complete the copy, the accumulated size increase of copy is ${copied}, exceeding the limit ${MAX_JSON_PATCH_COPY_BYTES}`,
          );
        out = addAt(out, path, structuredClone(v), 'copy');
        break;
      }
      case 'test':
        if (!isDeepStrictEqual(getAt(out, path, 'test'), value)) {
          throw bad(`testing value /${path.join('/')} failed: test failed`);
        }
        break;
      default:
        throw bad(`unexpected json patch operation ${JSON.stringify(op ?? null)}`);
    }
  }
  return out;
}
