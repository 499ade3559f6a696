/**
 * Small helpers over plain JSON values shared by the patch engines: type guards, deep
 * equality, deep copies and own-property access. Keys come from requests, so they are read with
 * {@link ownValue} and written with {@link setKey}: `obj[key]` would reach `Object.prototype`
 * through `__proto__`, and assigning it would replace the object's prototype. Pure; nothing
 * here mutates its inputs except {@link setKey}.
 */
import type { Json, JsonObject } from '../types.ts';

/** True for a JSON object (not an array, not null). */
export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `obj[key]` when `obj` has it as its own property (never an inherited one). */
export function ownValue(obj: JsonObject, key: string): Json | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Sets `obj[key] = value` as an own data property, also for the key `__proto__`. */
export function setKey(obj: JsonObject, key: string, value: Json): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** True for a string, number, boolean or null. */
export function isPrimitive(value: Json | undefined): value is null | boolean | number | string {
  return value === null || typeof value !== 'object';
}

/** Structural equality of two JSON values (object key order does not matter). */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** A deep copy of a JSON value. */
export function cloneJson<T extends Json>(value: T): T {
  return structuredClone(value);
}

/** The name JSON Schema would give the value's type (`integer` for whole numbers). */
export function jsonTypeName(
  value: Json,
): 'null' | 'boolean' | 'integer' | 'number' | 'string' | 'array' | 'object' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'object') return 'object';
  return typeof value === 'boolean' ? 'boolean' : 'string';
}

/**
 * A string equal for two JSON values exactly when `jsonEqual` says they are equal (object keys
 * sorted), to look elements up in maps and sets.
 */
export function jsonIdentity(value: Json | undefined): string {
  if (value === undefined) return '\u0000undefined';
  if (isPrimitive(value)) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jsonIdentity).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${jsonIdentity(value[k])}`).join(',')}}`;
}
