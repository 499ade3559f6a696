/**
 * Validation of custom resources against their OpenAPI v3 structural schema, reporting
 * Kubernetes-style causes (`{path, type, message}`) with the wording apiextensions-apiserver
 * uses (kube-openapi messages wrapped in field errors). `x-kubernetes-validations` (CEL rules)
 * are not evaluated. Pure.
 */
import type { Json, JsonObject, JsonSchema, KubeObject } from '../types.ts';
import { isObject, jsonEqual, jsonTypeName, ownValue } from '../patch/json.ts';
import { checkFormat } from './format.ts';

/** One validation failure, as a `Status` cause (`field`, `reason`, `message`). */
export interface SchemaCause {
  path: string;
  type: string;
  message: string;
}

/** Go's rendering of a bad value inside a field error (`%q` for strings, `%v` otherwise). */
export function showValue(value: Json | undefined): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return '<nil>';
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/** Validates `obj` against `schema`; an empty list means valid. */
export function validate(obj: KubeObject, schema: JsonSchema): SchemaCause[] {
  const out: SchemaCause[] = [];
  check(obj as unknown as Json, schema, '', out);
  return out;
}

function at(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function invalid(out: SchemaCause[], path: string, value: Json | undefined, detail: string): void {
  out.push({ path, type: 'FieldValueInvalid', message: `Invalid value: ${showValue(value)}: ${detail}` });
}

function typeMatches(value: Json, schema: JsonSchema): boolean {
  if (schema['x-kubernetes-int-or-string'] === true) {
    return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value));
  }
  const actual = jsonTypeName(value);
  switch (schema.type) {
    case undefined:
      return true;
    case 'number':
      return actual === 'number' || actual === 'integer';
    default:
      return actual === schema.type;
  }
}

function check(value: Json, schema: JsonSchema, path: string, out: SchemaCause[]): void {
  const name = path === '' ? '<root>' : path;
  if (value === null && schema.nullable === true) return;
  if (!typeMatches(value, schema)) {
    const want = schema['x-kubernetes-int-or-string'] === true ? 'integer-or-string' : String(schema.type);
    out.push({
      path: name,
      type: 'FieldValueTypeInvalid',
      message: `Invalid value: ${showValue(value)}: ${name} in body must be of type ${want}: "${jsonTypeName(value)}"`,
    });
    return;
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => jsonEqual(e, value))) {
    out.push({
      path: name,
      type: 'FieldValueNotSupported',
      message: `Unsupported value: ${showValue(value)}: supported values: ${schema.enum.map(showValue).join(', ')}`,
    });
  }
  if (typeof value === 'string') checkString(value, schema, name, out);
  else if (typeof value === 'number') checkNumber(value, schema, name, out);
  else if (Array.isArray(value)) checkArray(value, schema, path, out);
  else if (isObject(value)) checkObject(value, schema, path, out);
  checkCombinators(value, schema, name, out);
}

/** Compiled `pattern`s, once per schema node (CRD schemas live as long as their CRD). */
const PATTERNS = new WeakMap<JsonSchema, RegExp | null>();

function patternOf(schema: JsonSchema, pattern: string): RegExp | null {
  let re = PATTERNS.get(schema);
  if (re === undefined) {
    try {
      re = new RegExp(pattern);
    } catch {
      re = null; // refused when the CRD is written; only a CRD stored by an older lab has one
    }
    PATTERNS.set(schema, re);
  }
  return re;
}

function checkString(value: string, schema: JsonSchema, name: string, out: SchemaCause[]): void {
  const length = [...value].length;
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    const unit = schema.maxLength === 1 ? 'byte' : 'bytes';
    out.push({
      path: name,
      type: 'FieldValueTooLong',
      message: `Too long: may not be more than ${schema.maxLength} ${unit}`,
    });
  }
  if (schema.minLength !== undefined && length < schema.minLength) {
    invalid(out, name, value, `${name} in body should be at least ${schema.minLength} chars long`);
  }
  if (schema.pattern !== undefined) {
    const re = patternOf(schema, schema.pattern);
    if (re === null)
      invalid(out, name, value, `the schema's pattern '${schema.pattern}' is not a valid regular expression`);
    else if (!re.test(value)) invalid(out, name, value, `${name} in body should match '${schema.pattern}'`);
  }
  const format = checkFormat(value, schema.format);
  if (format !== undefined) {
    out.push({
      path: name,
      type: 'FieldValueTypeInvalid',
      message: `Invalid value: ${showValue(value)}: ${name} in body must be of type ${format}: ${showValue(value)}`,
    });
  }
}

function checkNumber(value: number, schema: JsonSchema, name: string, out: SchemaCause[]): void {
  if (schema.maximum !== undefined) {
    if (schema.exclusiveMaximum === true && value >= schema.maximum) {
      invalid(out, name, value, `${name} in body should be less than ${schema.maximum}`);
    } else if (value > schema.maximum) {
      invalid(out, name, value, `${name} in body should be less than or equal to ${schema.maximum}`);
    }
  }
  if (schema.minimum !== undefined) {
    if (schema.exclusiveMinimum === true && value <= schema.minimum) {
      invalid(out, name, value, `${name} in body should be greater than ${schema.minimum}`);
    } else if (value < schema.minimum) {
      invalid(out, name, value, `${name} in body should be greater than or equal to ${schema.minimum}`);
    }
  }
  const limit = schema.format === 'int32' ? 2 ** 31 : schema.format === 'int64' ? 2 ** 63 : undefined;
  if (limit !== undefined && Number.isInteger(value) && (value >= limit || value < -limit)) {
    out.push({
      path: name,
      type: 'FieldValueTypeInvalid',
      message: `Invalid value: ${value}: ${name} in body must be of type ${String(schema.format)}: "${value}"`,
    });
  }
}

function checkArray(value: Json[], schema: JsonSchema, path: string, out: SchemaCause[]): void {
  const name = path === '' ? '<root>' : path;
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    const unit = schema.maxItems === 1 ? 'item' : 'items';
    out.push({
      path: name,
      type: 'FieldValueTooMany',
      message: `Too many: ${value.length}: must have at most ${schema.maxItems} ${unit}`,
    });
  }
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    invalid(out, name, value.length, `${name} in body should have at least ${schema.minItems} items`);
  }
  if (schema.items !== undefined) {
    const items = schema.items;
    value.forEach((item, i) => check(item, items, `${name}[${i}]`, out));
  }
  const listType = schema['x-kubernetes-list-type'];
  if (listType === 'set') {
    value.forEach((item, i) => {
      if (value.slice(0, i).some((prev) => jsonEqual(prev, item))) {
        out.push({
          path: `${name}[${i}]`,
          type: 'FieldValueDuplicate',
          message: `Duplicate value: ${showValue(item)}`,
        });
      }
    });
  } else if (listType === 'map') {
    const keys = schema['x-kubernetes-list-map-keys'] ?? [];
    const keyOf = (item: Json): JsonObject =>
      Object.fromEntries(keys.map((k) => [k, isObject(item) ? (item[k] ?? null) : null]));
    value.forEach((item, i) => {
      const key = keyOf(item);
      if (value.slice(0, i).some((prev) => jsonEqual(keyOf(prev), key))) {
        out.push({
          path: `${name}[${i}]`,
          type: 'FieldValueDuplicate',
          message: `Duplicate value: ${JSON.stringify(key)}`,
        });
      }
    });
  }
}

function checkObject(value: JsonObject, schema: JsonSchema, path: string, out: SchemaCause[]): void {
  const name = path === '' ? '<root>' : path;
  const count = Object.keys(value).length;
  if (schema.maxProperties !== undefined && count > schema.maxProperties) {
    out.push({
      path: name,
      type: 'FieldValueTooMany',
      message: `Too many: ${count}: must have at most ${schema.maxProperties} items`,
    });
  }
  if (schema.minProperties !== undefined && count < schema.minProperties) {
    invalid(out, name, count, `${name} in body should have at least ${schema.minProperties} properties`);
  }
  for (const key of schema.required ?? []) {
    if (ownValue(value, key) === undefined)
      out.push({ path: at(path, key), type: 'FieldValueRequired', message: 'Required value' });
  }
  if (schema['x-kubernetes-embedded-resource'] === true) {
    for (const key of ['apiVersion', 'kind']) {
      const v = ownValue(value, key);
      if (typeof v !== 'string' || v === '') {
        out.push({ path: at(path, key), type: 'FieldValueRequired', message: 'Required value' });
      }
    }
  }
  const props = schema.properties ?? {};
  for (const [key, sub] of Object.entries(props)) {
    const v = ownValue(value, key);
    if (v !== undefined) check(v, sub, at(path, key), out);
  }
  const extra = schema.additionalProperties;
  if (typeof extra === 'object') {
    for (const key of Object.keys(value).sort()) {
      const v = value[key];
      if (!Object.hasOwn(props, key) && v !== undefined) check(v, extra, `${name}[${key}]`, out);
    }
  }
}

/** oneOf/anyOf/allOf/not carry value validations only (structural schemas): no types, no defaults. */
function checkCombinators(value: Json, schema: JsonSchema, name: string, out: SchemaCause[]): void {
  const path = name === '<root>' ? '' : name;
  const passes = (s: JsonSchema): boolean => {
    const sub: SchemaCause[] = [];
    check(value, s, path, sub);
    return sub.length === 0;
  };
  for (const s of schema.allOf ?? []) check(value, s, path, out);
  if (schema.anyOf !== undefined && !schema.anyOf.some(passes)) {
    invalid(out, name, value, `${name} in body must validate at least one schema (anyOf)`);
  }
  if (schema.oneOf !== undefined && schema.oneOf.filter(passes).length !== 1) {
    invalid(out, name, value, `${name} in body must validate one and only one schema (oneOf)`);
  }
  if (schema.not !== undefined && passes(schema.not)) {
    invalid(out, name, value, `${name} in body must not validate the schema (not)`);
  }
}
