/**
 * Label selectors (equality and set-based) and field selectors, parsed from their query-string
 * form and matched against objects. Pure.
 */
import { ApiError, type Json, type KubeObject } from './types.ts';

/** One label requirement. */
export type LabelRequirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };

/** One field requirement (`=`/`==` → eq, `!=` → neq). */
export interface FieldRequirement {
  op: 'eq' | 'neq';
  field: string;
  value: string;
}

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((p) => p.trim()).filter((p) => p !== '');
}

const KEY = /^([A-Za-z0-9][-A-Za-z0-9_.]*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string, whole: string): string {
  if (!KEY.test(key))
    throw new ApiError(
      400,
      'BadRequest',
      `unable to parse requirement: invalid label key "${key}" in "${whole}"`,
    );
  return key;
}

function checkValue(value: string, whole: string): string {
  if (!VALUE.test(value) || value.length > 63) {
    throw new ApiError(
      400,
      'BadRequest',
      `unable to parse requirement: invalid label value "${value}" in "${whole}"`,
    );
  }
  return value;
}

/** Parses a `labelSelector` query value. Throws ApiError 400 on syntax errors. */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  const reqs: LabelRequirement[] = [];
  for (const part of splitTopLevel(selector)) {
    const set = /^(!?)\s*([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (set !== null) {
      const values = (set[4] ?? '').split(',').map((v) => checkValue(v.trim(), part));
      if (set[1] === '!') throw new ApiError(400, 'BadRequest', `unable to parse requirement: "${part}"`);
      reqs.push({ op: set[3] === 'in' ? 'in' : 'notin', key: checkKey(set[2] ?? '', part), values });
      continue;
    }
    const eq = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)$/.exec(part);
    if (eq !== null) {
      reqs.push({
        op: eq[2] === '!=' ? 'neq' : 'eq',
        key: checkKey(eq[1] ?? '', part),
        value: checkValue(eq[3] ?? '', part),
      });
      continue;
    }
    const ex = /^(!?)\s*([^\s!=()]+)$/.exec(part);
    if (ex !== null) {
      reqs.push({ op: ex[1] === '!' ? 'notexists' : 'exists', key: checkKey(ex[2] ?? '', part) });
      continue;
    }
    throw new ApiError(400, 'BadRequest', `unable to parse requirement: "${part}"`);
  }
  return reqs;
}

/** True when `labels` satisfy every requirement. */
export function matchLabels(
  reqs: readonly LabelRequirement[],
  labels: Record<string, string> | undefined,
): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'eq':
        return has && v === r.value;
      case 'neq':
        return !has || v !== r.value;
      case 'in':
        return has && r.values.includes(v ?? '');
      case 'notin':
        return !has || !r.values.includes(v ?? '');
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
  });
}

const COMMON_FIELDS = ['metadata.name', 'metadata.namespace'];
const KIND_FIELDS: Record<string, string[]> = {
  Pod: [
    'spec.nodeName',
    'status.phase',
    'spec.serviceAccountName',
    'spec.schedulerName',
    'status.podIP',
    'spec.restartPolicy',
  ],
  Event: [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  Secret: ['type'],
  Namespace: ['status.phase'],
  Node: ['spec.unschedulable'],
};

/** Parses a `fieldSelector` for `kind`; unsupported fields → 400 like upstream. */
export function parseFieldSelector(selector: string, kind: string): FieldRequirement[] {
  const allowed = new Set([...COMMON_FIELDS, ...(KIND_FIELDS[kind] ?? [])]);
  const reqs: FieldRequirement[] = [];
  for (const part of splitTopLevel(selector)) {
    const m = /^([^\s!=]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (m === null) throw new ApiError(400, 'BadRequest', `invalid field selector: "${part}"`);
    const field = m[1] ?? '';
    if (!allowed.has(field)) {
      throw new ApiError(
        400,
        'BadRequest',
        `"${field}" is not a known field selector: only "${[...allowed].join('", "')}"`,
      );
    }
    reqs.push({ op: m[2] === '!=' ? 'neq' : 'eq', field, value: (m[3] ?? '').trim() });
  }
  return reqs;
}

/** The string value of a dotted field path (missing → ''; `source` of Events → source.component). */
export function fieldValue(obj: KubeObject, field: string): string {
  const path = field === 'source' ? ['source', 'component'] : field.split('.');
  let cur: Json | undefined = obj as unknown as Json;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return '';
    cur = cur[p];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

/** True when `obj` satisfies every field requirement. */
export function matchFields(reqs: readonly FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) === (r.op === 'eq'));
}

/** A compiled selector pair. */
export interface Selector {
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

/** Compiles the two query parameters (absent = match all). */
export function compileSelector(
  labelSelector: string | null,
  fieldSelector: string | null,
  kind: string,
): Selector {
  return {
    labels: labelSelector === null || labelSelector === '' ? [] : parseLabelSelector(labelSelector),
    fields: fieldSelector === null || fieldSelector === '' ? [] : parseFieldSelector(fieldSelector, kind),
  };
}

/** True when `obj` satisfies both parts of `sel`. */
export function matches(sel: Selector, obj: KubeObject): boolean {
  return matchLabels(sel.labels, obj.metadata.labels) && matchFields(sel.fields, obj);
}
