/**
 * Defaulting of custom resources from their structural schema, as apiextensions-apiserver does
 * (pkg/apiserver/schema/defaulting): a property with a `default` is set when missing (or null
 * while not nullable); defaults apply recursively inside objects, `additionalProperties` values
 * and array items, but a missing object is only created when it has a `default` itself. Pure:
 * returns a new value.
 */
import type { Json, JsonObject, JsonSchema } from '../types.ts';
import { cloneJson, isObject, ownValue, setKey } from '../patch/json.ts';

/** `obj` with the schema's defaults filled in. */
export function applyDefaults(obj: Json, schema: JsonSchema): Json {
  return fill(cloneJson(obj), schema);
}

function fill(value: Json, schema: JsonSchema): Json {
  if (Array.isArray(value)) {
    const items = schema.items;
    return items === undefined ? value : value.map((item) => fill(item, items));
  }
  if (!isObject(value)) return value;
  const out: JsonObject = value;
  const props = schema.properties ?? {};
  for (const [key, sub] of Object.entries(props)) {
    const current = ownValue(out, key);
    const nullNotAllowed = current === null && sub.nullable !== true;
    if (sub.default !== undefined && (current === undefined || nullNotAllowed)) {
      setKey(out, key, cloneJson(sub.default));
    }
  }
  for (const [key, v] of Object.entries(out)) {
    const sub = Object.hasOwn(props, key) ? props[key] : undefined;
    const extra = schema.additionalProperties;
    const target = sub ?? (typeof extra === 'object' ? extra : undefined);
    if (target !== undefined) setKey(out, key, fill(v, target));
  }
  return out;
}
