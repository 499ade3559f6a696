/**
 * Reading and validating an AuthorizationPolicy spec into IR rules, each classified by the
 * layer that can enforce it: a rule using only principals, namespaces and ports is L4; a rule
 * with any method, path, host or header condition is L7 as a whole (never split, so its
 * conditions keep their AND meaning).
 */
import type { AuthzFrom, AuthzRule, AuthzTo, AuthzWhen, MatchSet } from '../../../common/ir/index.ts';
import { invalid, obj, ok, optionalList, str, stringList, type Result } from './read.ts';
import * as check from './validate.ts';
import type { Checked } from './validate.ts';

/** A validated rule with the layer it needs. */
export interface ParsedRule {
  readonly index: number;
  readonly rule: AuthzRule;
  readonly layer: 'L4' | 'L7';
}

/** A validated AuthorizationPolicy spec. */
export interface AuthzSpec {
  readonly action: 'ALLOW' | 'DENY';
  readonly targetRefs: readonly unknown[];
  readonly rules: readonly ParsedRule[];
}

const SOURCE_FIELDS = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'] as const;
const OPERATION_FIELDS = [
  'ports',
  'notPorts',
  'methods',
  'notMethods',
  'paths',
  'notPaths',
  'hosts',
  'notHosts',
] as const;
const HEADER_KEY = /^request\.headers\[([^\]]+)\]$/;

/** Reads `values` and `not<Values>` of `o` into a MatchSet. */
function matchSet(
  o: Readonly<Record<string, unknown>>,
  key: string,
  field: string,
  fn: (s: string) => Checked,
): Result<MatchSet> {
  const notKey = `not${key[0]?.toUpperCase() ?? ''}${key.slice(1)}`;
  // Istio writes ports as strings; numbers are accepted too.
  const norm = (v: unknown): unknown =>
    Array.isArray(v) ? (v as unknown[]).map((x) => (typeof x === 'number' ? String(x) : x)) : v;
  const values = stringList(norm(o[key]), `${field}.${key}`, fn);
  if (!values.ok) return values;
  const not = stringList(norm(o[notKey]), `${field}.${notKey}`, fn);
  if (!not.ok) return not;
  return ok({ values: values.value, not: not.value });
}

/** Fails unless `o` is an object setting at least one of `fields` (Istio rejects empty ones). */
function nonEmpty(
  v: unknown,
  field: string,
  fields: readonly string[],
): Result<Readonly<Record<string, unknown>>> {
  const o = obj(v);
  if (o === undefined) return invalid(field, 'must be an object');
  const unknown = unknownField(o, field, fields);
  if (unknown !== undefined) return unknown;
  if (!fields.some((f) => Array.isArray(o[f]) && (o[f] as unknown[]).length > 0))
    return invalid(field, `must set at least one of ${fields.join(', ')}`);
  return ok(o);
}

function readFrom(v: unknown, field: string): Result<AuthzFrom> {
  const source = nonEmpty(obj(v)?.['source'], `${field}.source`, SOURCE_FIELDS);
  if (!source.ok) return source;
  const principals = matchSet(source.value, 'principals', `${field}.source`, check.principal);
  if (!principals.ok) return principals;
  const namespaces = matchSet(source.value, 'namespaces', `${field}.source`, check.namespaceName);
  if (!namespaces.ok) return namespaces;
  return ok({ principals: principals.value, namespaces: namespaces.value });
}

function readTo(v: unknown, field: string): Result<AuthzTo> {
  const op = nonEmpty(obj(v)?.['operation'], `${field}.operation`, OPERATION_FIELDS);
  if (!op.ok) return op;
  const at = `${field}.operation`;
  const ports = matchSet(op.value, 'ports', at, check.port);
  if (!ports.ok) return ports;
  const methods = matchSet(op.value, 'methods', at, check.method);
  if (!methods.ok) return methods;
  const paths = matchSet(op.value, 'paths', at, check.path);
  if (!paths.ok) return paths;
  const hosts = matchSet(op.value, 'hosts', at, check.host);
  if (!hosts.ok) return hosts;
  return ok({ ports: ports.value, methods: methods.value, paths: paths.value, hosts: hosts.value });
}

/**
 * The first field of `o` not in `known`, as a failed Result. The API server prunes unknown
 * fields, but a copied Istio field (`selector`, `ipBlocks`, …) silently ignored would change
 * what the policy means, so it is rejected wherever it slips through.
 */
function unknownField(
  o: Readonly<Record<string, unknown>>,
  field: string,
  known: readonly string[],
): Result<never> | undefined {
  const k = Object.keys(o).find((key) => !known.includes(key));
  return k === undefined
    ? undefined
    : invalid(`${field}.${k}`, `unknown field; expected one of ${known.join(', ')}`);
}

function readWhen(v: unknown, field: string): Result<AuthzWhen> {
  const o = obj(v);
  if (o === undefined) return invalid(field, 'must be an object');
  const unknown = unknownField(o, field, ['key', 'values', 'notValues']);
  if (unknown !== undefined) return unknown;
  const key = str(o['key']) ?? '';
  const m = HEADER_KEY.exec(key);
  if (m === null)
    return invalid(
      `${field}.key`,
      `${JSON.stringify(key)} is not supported; only request.headers[<name>] is`,
    );
  const header = check.headerName(m[1] ?? '');
  if (typeof header !== 'string') return invalid(`${field}.key`, header.error);
  const values = stringList(o['values'], `${field}.values`, check.headerValue);
  if (!values.ok) return values;
  const notValues = stringList(o['notValues'], `${field}.notValues`, check.headerValue);
  if (!notValues.ok) return notValues;
  if (values.value.length === 0 && notValues.value.length === 0)
    return invalid(field, 'must set values or notValues');
  return ok({ header, values: values.value, notValues: notValues.value });
}

function each<T>(v: unknown, field: string, read: (item: unknown, at: string) => Result<T>): Result<T[]> {
  const items = optionalList(v, field);
  if (!items.ok) return items;
  const out: T[] = [];
  for (const [i, item] of items.value.entries()) {
    const r = read(item, `${field}[${i}]`);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return ok(out);
}

function isL7(rule: AuthzRule): boolean {
  const used = (m: MatchSet): boolean => m.values.length > 0 || m.not.length > 0;
  return rule.when.length > 0 || rule.to.some((t) => used(t.methods) || used(t.paths) || used(t.hosts));
}

/** Validates a spec; the first problem is returned with its field path (the policy is then rejected whole). */
export function readAuthzSpec(spec: Readonly<Record<string, unknown>> | undefined): Result<AuthzSpec> {
  const s = spec ?? {};
  const unknown = unknownField(s, 'spec', ['targetRefs', 'action', 'rules']);
  if (unknown !== undefined) return unknown;
  const rawAction = s['action'] ?? 'ALLOW';
  if (rawAction !== 'ALLOW' && rawAction !== 'DENY')
    return invalid('spec.action', `${JSON.stringify(rawAction)} is not supported; use ALLOW or DENY`);
  const targetRefs = optionalList(s['targetRefs'], 'spec.targetRefs');
  if (!targetRefs.ok) return targetRefs;
  const rawRules = optionalList(s['rules'], 'spec.rules');
  if (!rawRules.ok) return rawRules;
  const rules: ParsedRule[] = [];
  for (const [index, raw] of rawRules.value.entries()) {
    const field = `spec.rules[${index}]`;
    const r = obj(raw);
    if (r === undefined) return invalid(field, 'must be an object');
    const unknownInRule = unknownField(r, field, ['from', 'to', 'when']);
    if (unknownInRule !== undefined) return unknownInRule;
    const from = each(r['from'], `${field}.from`, readFrom);
    if (!from.ok) return from;
    const to = each(r['to'], `${field}.to`, readTo);
    if (!to.ok) return to;
    const when = each(r['when'], `${field}.when`, readWhen);
    if (!when.ok) return when;
    const rule: AuthzRule = { from: from.value, to: to.value, when: when.value };
    rules.push({ index, rule, layer: isL7(rule) ? 'L7' : 'L4' });
  }
  return ok({ action: rawAction, targetRefs: targetRefs.value, rules });
}

/**
 * The L4 stand-in of an L7 DENY rule where no waypoint can enforce it: the same sources and
 * ports, without the L7 conditions, so it denies a superset of what the rule denies.
 */
export function denyAtL4(rule: AuthzRule): AuthzRule {
  const none: MatchSet = { values: [], not: [] };
  return {
    from: rule.from,
    to: rule.to.map((t) => ({ ports: t.ports, methods: none, paths: none, hosts: none })),
    when: [],
  };
}
