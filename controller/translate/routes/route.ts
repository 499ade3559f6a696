/**
 * One HTTPRoute or GRPCRoute read from the World: identity, tie-break data, its Service
 * parents (resolved) and its rules (compiled once, whatever the parents).
 */
import type { SourceRef } from '../../../common/ir/index.ts';
import type { CustomObject } from '../world.ts';
import type { RefContext } from './backends.ts';
import type { ParentResolution } from './parents.ts';
import { resolveParent } from './parents.ts';
import { int, list } from './read.ts';
import type { CompiledRule } from './rules.ts';
import { compileRule } from './rules.ts';
import type { ServiceInfo } from './services.ts';
import type { Problem } from './status.ts';

/** A parentRef naming a Service, echoed as written, with what it resolved to. */
export interface ServiceParent {
  readonly ref: Readonly<Record<string, unknown>>;
  readonly resolution: Exclude<ParentResolution, { kind: 'ignored' }>;
}

/** A rule dropped as invalid. */
export interface RuleFailure extends Problem {
  readonly index: number;
}

/** A route with Service parents, ready to attach. */
export interface RouteInput {
  readonly kind: 'HTTPRoute' | 'GRPCRoute';
  readonly source: SourceRef;
  readonly generation: number;
  readonly createdMs: number;
  readonly parents: readonly ServiceParent[];
  readonly rules: readonly CompiledRule[];
  readonly failures: readonly RuleFailure[];
}

function createdMs(v: unknown): number {
  const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isFinite(ms) ? ms : Number.MAX_SAFE_INTEGER;
}

/**
 * Reads a route; undefined when it has no name/namespace or no Service parent (then it is
 * none of our business and gets no status from us).
 */
export function readRoute(
  obj: CustomObject,
  kind: 'HTTPRoute' | 'GRPCRoute',
  services: ReadonlyMap<string, ServiceInfo>,
  grants: readonly CustomObject[],
): RouteInput | undefined {
  const namespace = obj.metadata.namespace;
  const name = obj.metadata.name;
  if (typeof namespace !== 'string' || typeof name !== 'string') return undefined;
  const parents: ServiceParent[] = [];
  for (const raw of list(obj.spec?.['parentRefs'])) {
    const resolution = resolveParent(raw, namespace, services);
    if (resolution.kind !== 'ignored')
      parents.push({ ref: raw as Readonly<Record<string, unknown>>, resolution });
  }
  if (parents.length === 0) return undefined;
  const ctx: RefContext = { routeKind: kind, routeNamespace: namespace, services, grants, problems: [] };
  // CRD default: a route without rules has one rule matching every request.
  const rawRules = obj.spec?.['rules'] === undefined ? [{}] : list(obj.spec['rules']);
  const rules: CompiledRule[] = [];
  const failures: RuleFailure[] = [];
  rawRules.forEach((raw, index) => {
    const r = compileRule(raw, index, ctx);
    if (r.ok) rules.push(r.value);
    else failures.push({ index, reason: r.reason, message: r.message });
  });
  return {
    kind,
    source: { group: 'gateway.networking.k8s.io', kind, namespace, name },
    generation: int(obj.metadata.generation) ?? 0,
    createdMs: createdMs(obj.metadata.creationTimestamp),
    parents,
    rules,
    failures,
  };
}
