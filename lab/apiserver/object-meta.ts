/**
 * `metadata` of stored objects: the checks of apimachinery's ValidateObjectMeta that every write
 * passes (field types, label and annotation keys and values, finalizer names, owner references,
 * managedFields entries), with kube's field paths and wording, and tolerant readers for code
 * that must keep working on objects an older lab stored without these checks. Pure.
 */
import type { Json, JsonObject, ObjectMeta, OwnerReference } from './types.ts';

/** One field error, as a `Status` cause. */
export interface FieldCause {
  field: string;
  reason: string;
  message: string;
}

/** RFC 1123 subdomain (object names, prefixes of qualified names). */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** kube's TotalAnnotationSizeLimitB: key and value bytes of all annotations together. */
export const MAX_ANNOTATION_BYTES = 256 * 1024;

const NAME_PART =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const SUBDOMAIN =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const VALUE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

const STRING_FIELDS = [
  'name',
  'generateName',
  'namespace',
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'deletionTimestamp',
  'selfLink',
];
const INTEGER_FIELDS = ['generation', 'deletionGracePeriodSeconds'];

function isMap(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as Go renders it in a field error (`%q` for strings), shortened for huge values. */
function shown(v: Json | undefined): string {
  const text = JSON.stringify(v) ?? 'null';
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function bad(out: FieldCause[], field: string, value: Json | undefined, detail: string): void {
  out.push({ field, reason: 'FieldValueInvalid', message: `Invalid value: ${shown(value)}: ${detail}` });
}

function wrongType(out: FieldCause[], field: string, value: Json | undefined, want: string): void {
  out.push({
    field,
    reason: 'FieldValueTypeInvalid',
    message: `Invalid value: ${shown(value)}: must be ${want}`,
  });
}

/** Why `value` is not a qualified name (`[prefix/]name`), as apimachinery IsQualifiedName says. */
export function qualifiedNameErrors(value: string): string[] {
  const parts = value.split('/');
  if (parts.length > 2)
    return [
      `a qualified name ${NAME_PART} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  const name = parts[parts.length - 1] ?? '';
  const out: string[] = [];
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (prefix === '') out.push('prefix part must be non-empty');
    else if (prefix.length > 253) out.push('prefix part must be no more than 253 characters');
    else if (!DNS_SUBDOMAIN.test(prefix)) out.push(`prefix part ${SUBDOMAIN}`);
  }
  if (name === '') out.push('name part must be non-empty');
  else if (name.length > 63) out.push('name part must be no more than 63 characters');
  if (!QUALIFIED_NAME.test(name)) out.push(`name part ${NAME_PART}`);
  return out;
}

/** Bytes of an annotation map as kube counts them against MAX_ANNOTATION_BYTES (string values only). */
export function annotationBytes(map: JsonObject): number {
  let bytes = 0;
  for (const [k, v] of Object.entries(map))
    if (typeof v === 'string') bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  return bytes;
}

function checkStringMap(out: FieldCause[], meta: ObjectMeta, key: 'labels' | 'annotations'): void {
  const field = `metadata.${key}`;
  const map = meta[key] as Json | undefined;
  if (map === undefined) return;
  if (!isMap(map)) return wrongType(out, field, map, 'a map of string keys to string values');
  for (const [k, v] of Object.entries(map)) {
    for (const msg of qualifiedNameErrors(key === 'annotations' ? k.toLowerCase() : k))
      bad(out, field, k, msg);
    if (typeof v !== 'string') {
      wrongType(out, field, v, 'a string');
      continue;
    }
    if (key === 'labels' && v.length > 63) bad(out, field, v, 'must be no more than 63 characters');
    else if (key === 'labels' && !LABEL_VALUE.test(v)) bad(out, field, v, VALUE);
  }
  if (key === 'annotations' && annotationBytes(map) > MAX_ANNOTATION_BYTES)
    out.push({
      field,
      reason: 'FieldValueTooLong',
      message: `Too long: must have at most ${MAX_ANNOTATION_BYTES} bytes`,
    });
}

function checkFinalizers(out: FieldCause[], meta: ObjectMeta): void {
  const list = meta.finalizers as Json | undefined;
  if (list === undefined) return;
  if (!Array.isArray(list)) return wrongType(out, 'metadata.finalizers', list, 'a list of strings');
  list.forEach((f, i) => {
    if (typeof f !== 'string') wrongType(out, `metadata.finalizers[${i}]`, f, 'a string');
    else for (const msg of qualifiedNameErrors(f)) bad(out, 'metadata.finalizers', f, msg);
  });
  if (list.includes('orphan') && list.includes('foregroundDeletion'))
    bad(out, 'metadata.finalizers', list, 'finalizer orphan and foregroundDeletion cannot be both set');
}

function checkOwnerReferences(out: FieldCause[], meta: ObjectMeta): void {
  const field = 'metadata.ownerReferences';
  const list = meta.ownerReferences as Json | undefined;
  if (list === undefined) return;
  if (!Array.isArray(list)) return wrongType(out, field, list, 'a list of owner references');
  const controllers: string[] = [];
  list.forEach((ref, i) => {
    if (!isMap(ref)) return wrongType(out, `${field}[${i}]`, ref, 'an object');
    for (const k of ['apiVersion', 'kind', 'name', 'uid'])
      if (ref[k] !== undefined && ref[k] !== null && typeof ref[k] !== 'string')
        wrongType(out, `${field}[${i}].${k}`, ref[k], 'a string');
    for (const k of ['controller', 'blockOwnerDeletion'])
      if (ref[k] !== undefined && ref[k] !== null && typeof ref[k] !== 'boolean')
        wrongType(out, `${field}[${i}].${k}`, ref[k], 'a boolean');
    const text = (k: string): string => (typeof ref[k] === 'string' ? ref[k] : '');
    const gv = text('apiVersion').split('/');
    if (gv.length > 2 || (gv[gv.length - 1] ?? '') === '')
      bad(out, `${field}.apiVersion`, text('apiVersion'), 'version must not be empty');
    for (const k of ['kind', 'name', 'uid'])
      if (text(k) === '') bad(out, `${field}.${k}`, '', `${k} must not be empty`);
    if (ref['controller'] === true) controllers.push(`${text('kind')}/${text('name')}`);
  });
  if (controllers.length > 1)
    bad(
      out,
      field,
      list,
      `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(' and ')}`,
    );
}

function checkManagedFields(out: FieldCause[], meta: ObjectMeta): void {
  const field = 'metadata.managedFields';
  const list = meta.managedFields as Json | undefined;
  if (list === undefined) return;
  if (!Array.isArray(list)) return wrongType(out, field, list, 'a list of managed fields entries');
  list.forEach((e, i) => {
    if (!isMap(e)) return wrongType(out, `${field}[${i}]`, e, 'an object');
    if (e['operation'] !== 'Apply' && e['operation'] !== 'Update')
      bad(out, `${field}[${i}].operation`, e['operation'], 'must be `Apply` or `Update`');
    const type = e['fieldsType'];
    if (type !== undefined && type !== '' && type !== 'FieldsV1')
      bad(out, `${field}[${i}].fieldsType`, type, 'must be `FieldsV1`');
    if (e['manager'] !== undefined && typeof e['manager'] !== 'string')
      wrongType(out, `${field}[${i}].manager`, e['manager'], 'a string');
    if (e['fieldsV1'] !== undefined && !isMap(e['fieldsV1']))
      wrongType(out, `${field}[${i}].fieldsV1`, e['fieldsV1'], 'an object');
  });
}

/**
 * What is wrong with `meta` (an empty list when nothing is). Null-valued fields are removed
 * first, as Go decodes `null` to the zero value: `name: null` is a missing name.
 */
export function objectMetaErrors(meta: ObjectMeta): FieldCause[] {
  for (const [k, v] of Object.entries(meta)) if (v === null) delete meta[k];
  const out: FieldCause[] = [];
  for (const k of STRING_FIELDS)
    if (meta[k] !== undefined && typeof meta[k] !== 'string')
      wrongType(out, `metadata.${k}`, meta[k], 'a string');
  for (const k of INTEGER_FIELDS)
    if (meta[k] !== undefined && !Number.isInteger(meta[k]))
      wrongType(out, `metadata.${k}`, meta[k], 'an integer');
  checkStringMap(out, meta, 'labels');
  checkStringMap(out, meta, 'annotations');
  checkFinalizers(out, meta);
  checkOwnerReferences(out, meta);
  checkManagedFields(out, meta);
  return out;
}

/** The finalizers of `meta` that are strings (a malformed list reads as none). */
export function finalizersOf(meta: ObjectMeta): string[] {
  const list = meta.finalizers as Json | undefined;
  return Array.isArray(list) ? list.filter((f): f is string => typeof f === 'string') : [];
}

/** The owner references of `meta` that name an owner by uid (malformed ones are skipped). */
export function ownerRefsOf(meta: ObjectMeta): OwnerReference[] {
  const list = meta.ownerReferences as Json | undefined;
  if (!Array.isArray(list)) return [];
  return list.filter((r) => isMap(r) && typeof r['uid'] === 'string') as unknown as OwnerReference[];
}
