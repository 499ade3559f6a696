/**
 * Checks of a CustomResourceDefinition's versions before it is stored (the part of
 * apiextensions' ValidateCustomResourceDefinition the lab's engines rely on): every
 * openAPIV3Schema node is an object whose keywords have the types the validator, defaulter and
 * pruner read, every `pattern` compiles, and additional printer columns are well formed. A CRD
 * failing them is refused with 422 naming the field, as kube-apiserver refuses it, instead of
 * serving a kind whose objects then fail with 500. Pure; regular expressions are compiled here
 * once per CRD write, never per request.
 */
import type { FieldCause } from './object-meta.ts';
import type { Json, JsonObject, KubeObject } from './types.ts';

const TYPES = ['array', 'boolean', 'integer', 'number', 'object', 'string'];
const COLUMN_TYPES = ['boolean', 'date', 'integer', 'number', 'string'];
const COLUMN_FORMATS = ['byte', 'date', 'date-time', 'double', 'float', 'int32', 'int64', 'password'];
const COUNTS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties'];
const NUMBERS = ['minimum', 'maximum', 'multipleOf'];
const STRINGS = ['description', 'format', 'title'];
const BOOLEANS = [
  'exclusiveMinimum',
  'exclusiveMaximum',
  'nullable',
  'uniqueItems',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
];
const CHOICES: Record<string, string[]> = {
  'x-kubernetes-list-type': ['atomic', 'map', 'set'],
  'x-kubernetes-map-type': ['atomic', 'granular'],
};

function isMap(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(out: FieldCause[], field: string, value: Json | undefined, detail: string): void {
  const shown = JSON.stringify(value) ?? 'null';
  out.push({ field, reason: 'FieldValueInvalid', message: `Invalid value: ${shown}: ${detail}` });
}

function required(out: FieldCause[], field: string, detail = ''): void {
  const message = detail === '' ? 'Required value' : `Required value: ${detail}`;
  out.push({ field, reason: 'FieldValueRequired', message });
}

function unsupported(out: FieldCause[], field: string, value: Json | undefined, allowed: string[]): void {
  const list = allowed.map((a) => JSON.stringify(a)).join(', ');
  const message = `Unsupported value: ${JSON.stringify(value) ?? 'null'}: supported values: ${list}`;
  out.push({ field, reason: 'FieldValueNotSupported', message });
}

function isStringList(v: Json | undefined): boolean {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function checkKeywords(node: JsonObject, path: string, out: FieldCause[]): void {
  const at = (k: string): string => `${path}.${k}`;
  if (node['type'] !== undefined && !TYPES.includes(node['type'] as string))
    unsupported(out, at('type'), node['type'], TYPES);
  for (const k of STRINGS)
    if (node[k] !== undefined && typeof node[k] !== 'string')
      invalid(out, at(k), node[k], 'must be a string');
  for (const k of BOOLEANS)
    if (node[k] !== undefined && typeof node[k] !== 'boolean')
      invalid(out, at(k), node[k], 'must be a boolean');
  for (const k of NUMBERS)
    if (node[k] !== undefined && typeof node[k] !== 'number')
      invalid(out, at(k), node[k], 'must be a number');
  for (const k of COUNTS) {
    const v = node[k];
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 0))
      invalid(out, at(k), v, 'must be a non-negative integer');
  }
  for (const [k, allowed] of Object.entries(CHOICES))
    if (node[k] !== undefined && !allowed.includes(node[k] as string))
      unsupported(out, at(k), node[k], allowed);
  for (const k of ['required', 'x-kubernetes-list-map-keys'])
    if (node[k] !== undefined && !isStringList(node[k]))
      invalid(out, at(k), node[k], 'must be a list of strings');
  for (const k of ['enum', 'x-kubernetes-validations'])
    if (node[k] !== undefined && !Array.isArray(node[k])) invalid(out, at(k), node[k], 'must be a list');
  const pattern = node['pattern'];
  if (pattern === undefined) return;
  if (typeof pattern !== 'string') return invalid(out, at('pattern'), pattern, 'must be a string');
  try {
    new RegExp(pattern);
  } catch (err) {
    const why = (err as Error).message;
    invalid(out, at('pattern'), pattern, `must be a valid regular expression, but isn't: ${why}`);
  }
}

/** Checks one schema node and, recursively, the schemas it holds. */
function checkSchema(node: Json | undefined, path: string, out: FieldCause[]): void {
  if (!isMap(node)) {
    const what = Array.isArray(node) ? 'must be a schema object, not a list' : 'must be a schema object';
    return invalid(out, path, node, what);
  }
  checkKeywords(node, path, out);
  const props = node['properties'];
  if (props !== undefined) {
    if (!isMap(props)) invalid(out, `${path}.properties`, props, 'must be a map of schemas');
    else for (const [k, sub] of Object.entries(props)) checkSchema(sub, `${path}.properties[${k}]`, out);
  }
  const extra = node['additionalProperties'];
  if (extra !== undefined && typeof extra !== 'boolean')
    checkSchema(extra, `${path}.additionalProperties`, out);
  if (node['items'] !== undefined) checkSchema(node['items'], `${path}.items`, out);
  if (node['not'] !== undefined) checkSchema(node['not'], `${path}.not`, out);
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    const list = node[k];
    if (list === undefined) continue;
    if (!Array.isArray(list)) invalid(out, `${path}.${k}`, list, 'must be a list of schemas');
    else list.forEach((sub, i) => checkSchema(sub, `${path}.${k}[${i}]`, out));
  }
}

function checkColumn(col: Json | undefined, path: string, out: FieldCause[]): void {
  if (!isMap(col)) return invalid(out, path, col, 'must be an object');
  const { name, type, format, jsonPath, priority, description } = col;
  if (typeof name !== 'string' || name === '') required(out, `${path}.name`);
  if (type === undefined || type === '')
    required(out, `${path}.type`, `must be one of ${COLUMN_TYPES.join(',')}`);
  else if (!COLUMN_TYPES.includes(type as string)) unsupported(out, `${path}.type`, type, COLUMN_TYPES);
  if (format !== undefined && format !== '' && !COLUMN_FORMATS.includes(format as string))
    unsupported(out, `${path}.format`, format, COLUMN_FORMATS);
  if (jsonPath === undefined || jsonPath === '') required(out, `${path}.jsonPath`);
  else if (typeof jsonPath !== 'string') invalid(out, `${path}.jsonPath`, jsonPath, 'must be a string');
  else if (!jsonPath.startsWith('.'))
    invalid(out, `${path}.jsonPath`, jsonPath, 'must be a simple json path starting with .');
  if (priority !== undefined && !Number.isInteger(priority))
    invalid(out, `${path}.priority`, priority, 'must be an integer');
  if (description !== undefined && typeof description !== 'string')
    invalid(out, `${path}.description`, description, 'must be a string');
}

/** What is wrong with the schemas and printer columns of `crd`'s versions (empty: nothing). */
export function crdVersionErrors(crd: KubeObject): FieldCause[] {
  const out: FieldCause[] = [];
  const spec = crd['spec'];
  const versions = isMap(spec as Json) ? (spec as JsonObject)['versions'] : undefined;
  if (!Array.isArray(versions)) return out; // crdToDef reports a missing version list
  versions.forEach((v, i) => {
    const at = `spec.versions[${i}]`;
    if (!isMap(v)) return invalid(out, at, v, 'must be an object');
    const schema = v['schema'];
    if (schema !== undefined && schema !== null) {
      if (!isMap(schema)) invalid(out, `${at}.schema`, schema, 'must be an object');
      else if (schema['openAPIV3Schema'] !== undefined && schema['openAPIV3Schema'] !== null)
        checkSchema(schema['openAPIV3Schema'], `${at}.schema.openAPIV3Schema`, out);
    }
    const cols = v['additionalPrinterColumns'];
    if (cols === undefined || cols === null) return;
    if (!Array.isArray(cols)) return invalid(out, `${at}.additionalPrinterColumns`, cols, 'must be a list');
    cols.forEach((c, j) => checkColumn(c, `${at}.additionalPrinterColumns[${j}]`, out));
  });
  return out;
}
