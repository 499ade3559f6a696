import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import type { ServiceKey, WaypointBinding } from '../../../common/ir/index.ts';
import { translatePolicies, type PolicyContext } from '../../../controller/translate/policies/index.ts';
import { MAX_REQUESTS } from '../../../controller/translate/policies/ratelimit.ts';
import * as check from '../../../controller/translate/policies/validate.ts';
import { NAMES, type World } from '../../../controller/translate/world.ts';
import { expectGolden, goldenCases, worldFromYaml } from '../../helpers/golden.ts';

const DIR = fileURLToPath(new URL('../../golden/policies/', import.meta.url));
const CRDS = fileURLToPath(new URL('../../../manifests/crds/', import.meta.url));

/**
 * Waypoint bindings as DESIGN.md §2 defines them (Service label wins over the Namespace's,
 * `use-waypoint-namespace` for a waypoint elsewhere), bound only to an existing waypoint Gateway.
 */
function contextOf(world: World): PolicyContext {
  return {
    waypointOf(key: ServiceKey): WaypointBinding | undefined {
      const [ns = '', name = ''] = key.split('/');
      const svc = world.services.find((s) => s.metadata?.namespace === ns && s.metadata.name === name);
      if (svc === undefined) return undefined;
      const nsObj = world.namespaces.find((n) => n.metadata?.name === ns);
      const labels =
        svc.metadata?.labels?.[NAMES.useWaypointLabel] !== undefined
          ? svc.metadata.labels
          : nsObj?.metadata?.labels;
      const gwName = labels?.[NAMES.useWaypointLabel];
      if (gwName === undefined) return undefined;
      const gwNs = labels?.[NAMES.useWaypointNamespaceLabel] ?? ns;
      const gw = world.gateways.find((g) => g.metadata.namespace === gwNs && g.metadata.name === gwName);
      if (gw?.spec?.['gatewayClassName'] !== NAMES.waypointClass) return undefined;
      return {
        gateway: { namespace: gwNs, name: gwName },
        addresses: [],
        identity: `spiffe://${world.trustDomain}/ns/${gwNs}/sa/${gwName}`,
      };
    },
  };
}

/** Freezes every nested object, so a stage that mutated its input would throw in strict mode. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function translateFile(file: string): ReturnType<typeof translatePolicies> {
  const world = deepFreeze(worldFromYaml(readFileSync(file, 'utf8')));
  return translatePolicies(world, contextOf(world));
}

describe('controller/translate/policies', () => {
  describe('golden cases', () => {
    const cases = goldenCases(DIR);
    for (const [name, file] of cases) {
      it(name, () => {
        const out = translateFile(file);
        expectGolden(DIR, name, 'policies', { authorization: out.authorization, rateLimits: out.rateLimits });
        expectGolden(DIR, name, 'status', out.statuses);
      });
    }
    it('has a case for every reason', () => {
      assert.ok(cases.length >= 8, `only ${cases.length} cases`);
      const text = cases.map(([name]) => readFileSync(`${DIR}${name}.status.yaml`, 'utf8')).join('\n');
      for (const reason of ['Accepted', 'TargetNotFound', 'Conflicted', 'Invalid'])
        assert.match(text, new RegExp(`reason: ${reason}\\n`), `no golden case reports ${reason}`);
    });
  });

  describe('invariants', () => {
    for (const [name, file] of goldenCases(DIR)) {
      it(`${name}: deterministic, input order does not matter, ids unique per layer`, () => {
        const world = worldFromYaml(readFileSync(file, 'utf8'));
        const a = translatePolicies(world, contextOf(world));
        const reversed: World = {
          ...world,
          services: [...world.services].reverse(),
          authorizationPolicies: [...world.authorizationPolicies].reverse(),
          rateLimitPolicies: [...world.rateLimitPolicies].reverse(),
        };
        assert.deepEqual(translatePolicies(reversed, contextOf(reversed)), a);
        const keys = a.authorization.map((p) => `${p.id}#${p.layer}`);
        assert.equal(new Set(keys).size, keys.length, `duplicate authorization ids: ${keys.join(', ')}`);
        const ids = a.rateLimits.map((l) => l.id);
        assert.equal(new Set(ids).size, ids.length, `duplicate rate limit ids: ${ids.join(', ')}`);
      });
    }

    it('L7 rules on a Service without a waypoint are made stricter at L4, never dropped', () => {
      const out = translateFile(`${DIR}authz-no-waypoint.in.yaml`);
      assert.deepEqual(
        out.authorization.filter((p) => p.layer === 'L7'),
        [],
        'no waypoint serves data/db, so nothing may be sent to one',
      );
      const byName = (n: string) => out.authorization.find((p) => p.source.name === n);
      const deny = byName('deny-writes');
      assert.equal(deny?.action, 'DENY');
      // The DELETE-only rule from namespace batch on 5432 becomes "deny batch on 5432".
      assert.ok(
        deny?.rules.some(
          (r) =>
            r.from[0]?.namespaces.values[0] === 'batch' &&
            r.to[0]?.ports.values[0] === '5432' &&
            r.to[0].methods.values.length === 0,
        ),
        JSON.stringify(deny?.rules),
      );
      // An ALLOW policy whose only rule needs L7 allows nothing until a waypoint serves the Service.
      assert.deepEqual(byName('allow-reads')?.rules, []);
      assert.equal(byName('allow-reads')?.layer, 'L4');
    });

    it('never throws on malformed objects', () => {
      const junk = [
        { metadata: { name: 'x', namespace: 'n' }, spec: { rules: [null, 3] } },
        { metadata: { name: 'y', namespace: 'n' }, spec: { targetRefs: 'svc', limits: 'many' } },
        {
          metadata: { name: 'z', namespace: 'n' },
          spec: { targetRefs: [null, { kind: 7 }], rules: [{ from: 'a' }] },
        },
        { metadata: {} },
      ];
      const world: World = { ...worldFromYaml(''), authorizationPolicies: junk, rateLimitPolicies: junk };
      const out = translatePolicies(world, contextOf(world));
      // Rejected AuthorizationPolicies fail closed: x and y (targetRefs not a list) allow nothing
      // in namespace n; z's targetRefs resolve to nothing, so it has no scope.
      assert.deepEqual(
        out.authorization.map((p) => [p.id, p.action, p.scope.kind, p.rules.length]),
        [
          ['authorizationpolicy/n/x', 'ALLOW', 'namespace', 0],
          ['authorizationpolicy/n/y', 'ALLOW', 'namespace', 0],
        ],
      );
      assert.deepEqual(out.rateLimits, []);
      // Three named objects of each kind get a status; the nameless one cannot carry one.
      assert.equal(out.statuses.length, 6);
      for (const s of out.statuses) {
        assert.equal(s.kind, 'policy');
        if (s.kind !== 'policy') continue;
        for (const a of s.ancestors) assert.equal(a.conditions[0]?.reason, 'Invalid', JSON.stringify(a));
      }
    });
  });

  describe('validators', () => {
    const table: [string, (v: string) => check.Checked, string, string | undefined][] = [
      ['principal', check.principal, 'spiffe://cluster.local/ns/a/sa/b', 'spiffe://cluster.local/ns/a/sa/b'],
      ['principal', check.principal, 'cluster.local/ns/a/sa/b', 'spiffe://cluster.local/ns/a/sa/b'],
      ['principal', check.principal, '*', '*'],
      ['principal', check.principal, 'spiffe://td/ns/a/*', 'spiffe://td/ns/a/*'],
      ['principal', check.principal, '*/sa/admin', '*/sa/admin'],
      ['principal', check.principal, 'spiffe://td/ns/*/sa/b', undefined],
      ['principal', check.principal, 'spiffe://TD/ns/a', undefined],
      ['principal', check.principal, 'spiffe://td', undefined],
      ['namespace', check.namespaceName, 'prod-*', 'prod-*'],
      ['namespace', check.namespaceName, 'Prod', undefined],
      ['port', check.port, '08080', '8080'],
      ['port', check.port, '65535', '65535'],
      ['port', check.port, '65536', undefined],
      ['port', check.port, '0', undefined],
      ['port', check.port, 'http', undefined],
      ['method', check.method, 'PATCH', 'PATCH'],
      ['method', check.method, 'GE T', undefined],
      ['path', check.path, '/api/*', '/api/*'],
      ['path', check.path, '*.js', '*.js'],
      ['path', check.path, '/a b', undefined],
      ['path', check.path, 'a', undefined],
      ['path', check.path, '**', undefined],
      // Compared with normalized request paths (waypoint/http/target.ts), so normalized alike.
      ['path', check.path, '/a%2fb/%7Euser', '/a%2Fb/~user'],
      ['path', check.path, '*%2e%2ehtml', '*..html'],
      ['path', check.path, '/a%zz', undefined],
      ['path', check.path, '/public/../admin', undefined],
      ['path', check.path, '/a/%2E/b', undefined],
      ['path', check.path, '/a/./*', undefined],
      ['host', check.host, '*.Example.com', '*.example.com'],
      ['host', check.host, 'a b', undefined],
      ['header', check.headerName, 'X-Id', 'x-id'],
      ['header', check.headerName, 'x id', undefined],
    ];
    for (const [what, fn, input, want] of table) {
      it(`${what} ${JSON.stringify(input)} → ${want ?? 'rejected'}`, () => {
        const got = fn(input);
        if (want === undefined) assert.equal(typeof got, 'object', `accepted as ${JSON.stringify(got)}`);
        else assert.equal(got, want);
      });
    }
  });

  describe('CRDs', () => {
    type Schema = Record<string, unknown>;
    const load = (file: string): Schema => yaml.load(readFileSync(`${CRDS}${file}`, 'utf8')) as Schema;
    const crds: [string, string, string, string][] = [
      ['authorizationpolicies.policy.waymesh.io.yaml', 'AuthorizationPolicy', 'authorizationpolicies', 'ap'],
      ['ratelimitpolicies.policy.waymesh.io.yaml', 'RateLimitPolicy', 'ratelimitpolicies', 'rlp'],
    ];

    /** Walks a structural schema; returns the paths of nodes that break a rule. */
    function problems(node: Schema, path: string): string[] {
      const out: string[] = [];
      const type = node['type'];
      if (typeof type !== 'string') out.push(`${path}: no type`);
      const props = node['properties'] as Record<string, Schema> | undefined;
      if (props !== undefined) {
        if (type !== 'object') out.push(`${path}: properties on a ${String(type)}`);
        for (const [k, v] of Object.entries(props)) out.push(...problems(v, `${path}.${k}`));
      }
      for (const r of (node['required'] as string[] | undefined) ?? [])
        if (props?.[r] === undefined) out.push(`${path}: required ${r} is not a property`);
      const items = node['items'] as Schema | undefined;
      if (type === 'array' && items === undefined) out.push(`${path}: array without items`);
      if (items !== undefined) out.push(...problems(items, `${path}[]`));
      const en = node['enum'] as unknown[] | undefined;
      if (en !== undefined && !en.every((e) => typeof e === type))
        out.push(`${path}: enum values of another type`);
      const def = node['default'];
      if (en !== undefined && def !== undefined && !en.includes(def))
        out.push(`${path}: default not in enum`);
      if (typeof node['pattern'] === 'string') {
        try {
          new RegExp(node['pattern']);
        } catch {
          out.push(`${path}: pattern does not compile`);
        }
      }
      return out;
    }

    for (const [file, kind, plural, short] of crds) {
      it(`${file} is a namespaced, structural CRD with status and printer columns`, () => {
        const crd = load(file);
        assert.equal(crd['apiVersion'], 'apiextensions.k8s.io/v1');
        assert.equal(crd['kind'], 'CustomResourceDefinition');
        assert.equal((crd['metadata'] as Schema)['name'], `${plural}.policy.waymesh.io`);
        const spec = crd['spec'] as Schema;
        assert.equal(spec['group'], 'policy.waymesh.io');
        assert.equal(spec['scope'], 'Namespaced');
        const names = spec['names'] as Schema;
        assert.equal(names['kind'], kind);
        assert.equal(names['plural'], plural);
        assert.deepEqual(names['shortNames'], [short]);
        const versions = spec['versions'] as Schema[];
        assert.equal(versions.length, 1);
        const v = versions[0] ?? {};
        assert.equal(v['name'], 'v1alpha1');
        assert.equal(v['storage'], true);
        assert.deepEqual(v['subresources'], { status: {} });
        const columns = (v['additionalPrinterColumns'] as Schema[]).map((c) => c['name']);
        assert.ok(columns.includes('Accepted') && columns.includes('Age'), columns.join(','));
        const root = (v['schema'] as Schema)['openAPIV3Schema'] as Schema;
        assert.deepEqual(problems(root, kind), []);
        const ancestor = ((
          (root['properties'] as Record<string, Schema>)['status']?.['properties'] as Record<string, Schema>
        )['ancestors']?.['items'] ?? {}) as Schema;
        assert.deepEqual(ancestor['required'], ['ancestorRef', 'controllerName', 'conditions']);
      });
    }

    it('agrees with the translator on enums and bounds', () => {
      const specOf = (file: string): Record<string, Schema> => {
        const v = ((load(file)['spec'] as Schema)['versions'] as Schema[])[0] ?? {};
        const root = (v['schema'] as Schema)['openAPIV3Schema'] as Schema;
        return ((root['properties'] as Record<string, Schema>)['spec']?.['properties'] ?? {}) as Record<
          string,
          Schema
        >;
      };
      const ap = specOf('authorizationpolicies.policy.waymesh.io.yaml');
      assert.deepEqual(ap['action']?.['enum'], ['ALLOW', 'DENY']);
      assert.equal(ap['action']?.['default'], 'ALLOW');
      const rl = specOf('ratelimitpolicies.policy.waymesh.io.yaml');
      const limit = (rl['limits']?.['items'] as Schema)['properties'] as Record<string, Schema>;
      assert.deepEqual(limit['unit']?.['enum'], ['Second', 'Minute', 'Hour']);
      assert.equal(limit['requests']?.['minimum'], 1);
      assert.equal(limit['requests']?.['maximum'], MAX_REQUESTS);
      const key = limit['key']?.['properties'] as Record<string, Schema>;
      assert.deepEqual(key['type']?.['enum'], ['Source', 'Header', 'Target']);
      assert.deepEqual(rl['targetRefs']?.['minItems'], 1);
    });
  });
});
