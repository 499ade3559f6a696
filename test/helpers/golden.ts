/**
 * Golden tests for the controller's pure stages: each `<case>.in.yaml` (kubectl-appliable
 * objects) is translated and compared with `<case>.<what>.yaml`. Set UPDATE_GOLDEN=1 to
 * rewrite the expected files after a deliberate change (then review the diff).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { WireObject } from '../../controller/kube/resources.ts';
import { worldFromLists } from '../../controller/kube/world-lists.ts';
import type { World } from '../../controller/translate/world.ts';

/** The `.in.yaml` cases of a directory: `[name, path]`, sorted. */
export function goldenCases(dir: string): [string, string][] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.in.yaml'))
    .sort()
    .map((f) => [f.slice(0, -'.in.yaml'.length), join(dir, f)]);
}

/** Compares `actual` (as YAML) with `<dir>/<name>.<what>.yaml`, or writes it under UPDATE_GOLDEN=1. */
export function expectGolden(dir: string, name: string, what: string, actual: unknown): void {
  const file = join(dir, `${name}.${what}.yaml`);
  const text = yaml.dump(JSON.parse(JSON.stringify(actual)) as unknown, {
    noRefs: true,
    sortKeys: false,
    lineWidth: 120,
  });
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
    if (process.env['CI'] === 'true' && !existsSync(file))
      assert.fail(`golden file ${file} is missing; run with UPDATE_GOLDEN=1`);
    writeFileSync(file, text);
    return;
  }
  assert.equal(text, readFileSync(file, 'utf8'), `${file} differs (UPDATE_GOLDEN=1 rewrites it)`);
}

const BUCKETS: Readonly<Record<string, keyof Omit<World, 'trustDomain' | 'waypointReadyReplicas'>>> = {
  Namespace: 'namespaces',
  Pod: 'pods',
  Service: 'services',
  ServiceAccount: 'serviceAccounts',
  EndpointSlice: 'endpointSlices',
  GatewayClass: 'gatewayClasses',
  Gateway: 'gateways',
  HTTPRoute: 'httpRoutes',
  GRPCRoute: 'grpcRoutes',
  ReferenceGrant: 'referenceGrants',
  AuthorizationPolicy: 'authorizationPolicies',
  RateLimitPolicy: 'rateLimitPolicies',
};

/**
 * Builds a World from multi-document YAML. Objects without a namespace get `default` (for
 * namespaced kinds), missing uids/creationTimestamps get deterministic values, and a document
 * `kind: WaypointStatus` with `ready: {ns/name: replicas}` sets waypointReadyReplicas.
 */
export function worldFromYaml(text: string, trustDomain = 'cluster.local'): World {
  const lists: Record<string, unknown[]> = {};
  let ready: Record<string, number> = {};
  let n = 0;
  for (const doc of yaml.loadAll(text)) {
    if (doc === null || typeof doc !== 'object') continue;
    const o = doc as { kind?: string; metadata?: Record<string, unknown>; ready?: Record<string, number> };
    if (o.kind === 'WaypointStatus') {
      ready = o.ready ?? {};
      continue;
    }
    const bucket = BUCKETS[o.kind ?? ''];
    if (bucket === undefined) throw new Error(`golden input: unsupported kind ${String(o.kind)}`);
    n++;
    const meta = { ...(o.metadata ?? {}) };
    if (o.kind !== 'Namespace' && o.kind !== 'GatewayClass' && meta['namespace'] === undefined)
      meta['namespace'] = 'default';
    meta['uid'] ??= `uid-${String(n).padStart(4, '0')}`;
    meta['creationTimestamp'] ??= new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();
    meta['generation'] ??= 1;
    (lists[bucket] ??= []).push(Object.freeze({ ...o, metadata: meta }));
  }
  // The controller's own assembly, with the lists in file order (the cases fix their order) and
  // the ready replicas from the WaypointStatus document instead of Deployments.
  const world = worldFromLists(trustDomain, (field) => (lists[field] ?? []) as WireObject[]);
  return Object.freeze({ ...world, waypointReadyReplicas: ready });
}
