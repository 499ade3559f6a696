/**
 * Test helpers for CRD schemas: flatten a schema into comparable path → keywords entries, list
 * structural-schema violations, and a small validator/defaulter following apiextensions'
 * structural rules for the keywords the Gateway API uses (type, required, enum, bounds, pattern,
 * properties/items/additionalProperties, defaults). Value-validation combinators
 * (oneOf/anyOf/not) and CEL rules are not evaluated here.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Json, JsonObject, JsonSchema } from '../../../../lab/apiserver/types.ts';

/** A JSON object, or an assertion error naming `what`. */
export function asObject(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what} is not an object`);
  }
  return value as JsonObject;
}

/** A JSON string, or an assertion error naming `what`. */
export function asString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what} is not a string`);
  return value;
}

/** Reads a JSON value as a schema node (schemas are plain JSON objects). */
export function asSchema(value: unknown, what: string): JsonSchema {
  return asObject(value, what);
}

/** `value` without any `description` key at any depth. */
function withoutDescriptions(value: Json): Json {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (typeof value !== 'object' || value === null) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) if (k !== 'description') out[k] = withoutDescriptions(v);
  return out;
}

/** Keys that hold child schemas walked separately, or that the comparison ignores. */
const WALKED = new Set([
  'properties',
  'items',
  'additionalProperties',
  'description',
  'x-kubernetes-validations',
]);

/**
 * Every schema node reachable through properties (`.name`), items (`[]`) and object-valued
 * additionalProperties (`{}`), mapped to its own keywords minus descriptions and CEL rules.
 * Boolean `additionalProperties` is kept as a keyword.
 */
export function flattenSchema(schema: JsonSchema): Map<string, Json> {
  const out = new Map<string, Json>();
  const walk = (node: JsonSchema, path: string): void => {
    const own: JsonObject = {};
    for (const [k, v] of Object.entries(node)) {
      if (WALKED.has(k) && !(k === 'additionalProperties' && typeof v === 'boolean')) continue;
      own[k] = withoutDescriptions(v as Json);
    }
    out.set(path === '' ? '.' : path, own);
    for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${name}`);
    if (node.items !== undefined) walk(node.items, `${path}[]`);
    if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`);
  };
  walk(schema, '');
  return out;
}

/** Structural-schema violations: untyped nodes, properties next to additionalProperties. */
export function structuralProblems(schema: JsonSchema): string[] {
  const problems: string[] = [];
  for (const [path, own] of flattenSchema(schema)) {
    const node = asObject(own, path);
    const exempt =
      node['x-kubernetes-preserve-unknown-fields'] === true || node['x-kubernetes-int-or-string'] === true;
    if (node['type'] === undefined && !exempt) problems.push(`${path}: no type`);
  }
  const walk = (node: JsonSchema, path: string): void => {
    if (node.properties !== undefined && node.additionalProperties !== undefined) {
      problems.push(`${path}: properties together with additionalProperties`);
    }
    for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${name}`);
    if (node.items !== undefined) walk(node.items, `${path}[]`);
    if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`);
  };
  walk(schema, '');
  return problems;
}

/** The JSON type name apiextensions uses for `value`. */
function typeOf(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Validation errors as `path: keyword` strings (paths like `spec.rules[0].matches[0].path.type`). */
export function validateValue(value: Json, schema: JsonSchema, path = ''): string[] {
  const at = path === '' ? '<root>' : path;
  const actual = typeOf(value);
  if (
    schema.type !== undefined &&
    actual !== schema.type &&
    !(schema.type === 'number' && actual === 'integer')
  ) {
    return [`${at}: type ${schema.type}`];
  }
  const errors: string[] = [];
  if (schema.enum !== undefined && !schema.enum.some((e) => isDeepStrictEqual(e, value)))
    errors.push(`${at}: enum`);
  if (typeof value === 'number') {
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: maximum`);
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: minimum`);
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (schema.maxLength !== undefined && length > schema.maxLength) errors.push(`${at}: maxLength`);
    if (schema.minLength !== undefined && length < schema.minLength) errors.push(`${at}: minLength`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value))
      errors.push(`${at}: pattern`);
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${at}: maxItems`);
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: minItems`);
    const items = schema.items;
    if (items !== undefined)
      value.forEach((v, i) => errors.push(...validateValue(v, items, `${path}[${i}]`)));
  } else if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties)
      errors.push(`${at}: maxProperties`);
    for (const name of schema.required ?? []) {
      if (value[name] === undefined) errors.push(`${path === '' ? '' : `${path}.`}${name}: required`);
    }
    for (const [k, v] of Object.entries(value)) {
      const child =
        schema.properties?.[k] ??
        (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (child !== undefined) errors.push(...validateValue(v, child, path === '' ? k : `${path}.${k}`));
    }
  }
  return errors;
}

/**
 * `value` with schema defaults applied the way apiextensions does: a missing property with a
 * default gets a copy of it, then defaulting recurses into every present property and item.
 */
export function applyDefaults(value: Json, schema: JsonSchema): Json {
  if (Array.isArray(value)) {
    const items = schema.items;
    return items === undefined ? value : value.map((v) => applyDefaults(v, items));
  }
  if (typeof value !== 'object' || value === null) return value;
  const out: JsonObject = { ...value };
  for (const [k, prop] of Object.entries(schema.properties ?? {})) {
    if (out[k] === undefined && prop.default !== undefined) out[k] = structuredClone(prop.default);
  }
  for (const [k, v] of Object.entries(out)) {
    const prop =
      schema.properties?.[k] ??
      (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (prop !== undefined) out[k] = applyDefaults(v, prop);
  }
  return out;
}
