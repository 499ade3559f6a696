/**
 * GAMMA route translation: every golden case under test/golden/routes (tables + statuses), and
 * focused tests of match precedence and of behaviour goldens cannot show (determinism, frozen
 * input, malformed objects).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GrpcMatch, HttpMatch, ServiceKey, WaypointBinding } from '../../../common/ir/index.ts';
import { compareGrpc, compareHttp } from '../../../controller/translate/routes/precedence.ts';
import { translateRoutes } from '../../../controller/translate/routes/index.ts';
import type { World } from '../../../controller/translate/world.ts';
import { expectGolden, goldenCases, worldFromYaml } from '../../helpers/golden.ts';

const DIR = fileURLToPath(new URL('../../golden/routes', import.meta.url));

/** Test stand-in for the mesh directory's waypoint lookup: the Service's use-waypoint label. */
function waypointsFromLabels(world: World): { waypointOf(s: ServiceKey): WaypointBinding | undefined } {
  return {
    waypointOf(key) {
      const svc = world.services.find((s) => `${s.metadata?.namespace}/${s.metadata?.name}` === key);
      const name = svc?.metadata?.labels?.['waymesh.io/use-waypoint'];
      if (svc === undefined || name === undefined) return undefined;
      const namespace = svc.metadata?.namespace ?? 'default';
      return {
        gateway: { namespace, name },
        addresses: ['10.96.100.1'],
        identity: `spiffe://${world.trustDomain}/ns/${namespace}/sa/${name}`,
      };
    },
  };
}

function run(yamlText: string) {
  const world = worldFromYaml(yamlText);
  return translateRoutes(world, waypointsFromLabels(world));
}

describe('controller/translate/routes golden cases', () => {
  const cases = goldenCases(DIR);
  it('has cases', () => assert.ok(cases.length >= 10));
  for (const [name, file] of cases) {
    it(name, () => {
      const out = run(readFileSync(file, 'utf8'));
      expectGolden(DIR, name, 'tables', out.tables);
      expectGolden(DIR, name, 'status', out.statuses);
    });
  }
});

const http = (m: Partial<HttpMatch>): HttpMatch => ({ kind: 'http', headers: [], queryParams: [], ...m });
const grpc = (m: Partial<GrpcMatch>): GrpcMatch => ({ kind: 'grpc', headers: [], ...m });
const header = { name: 'x', type: 'Exact', value: 'y' } as const;

describe('controller/translate/routes precedence', () => {
  const httpCases: [string, HttpMatch, HttpMatch][] = [
    [
      'Exact beats a longer PathPrefix',
      http({ path: { type: 'Exact', value: '/a' } }),
      http({ path: { type: 'PathPrefix', value: '/abcdef' } }),
    ],
    [
      'Exact beats RegularExpression',
      http({ path: { type: 'Exact', value: '/a' } }),
      http({ path: { type: 'RegularExpression', value: '/a.*' } }),
    ],
    [
      'RegularExpression beats PathPrefix',
      http({ path: { type: 'RegularExpression', value: '/a' } }),
      http({ path: { type: 'PathPrefix', value: '/abc' } }),
    ],
    [
      'longer PathPrefix first',
      http({ path: { type: 'PathPrefix', value: '/ab' } }),
      http({ path: { type: 'PathPrefix', value: '/a' } }),
    ],
    [
      'longer Exact first',
      http({ path: { type: 'Exact', value: '/ab' } }),
      http({ path: { type: 'Exact', value: '/a' } }),
    ],
    ['method beats more headers', http({ method: 'GET' }), http({ headers: [header, header] })],
    [
      'more headers beat more query params',
      http({ headers: [header] }),
      http({ queryParams: [header, header] }),
    ],
    ['more query params first', http({ queryParams: [header, header] }), http({ queryParams: [header] })],
    ['a missing path is PathPrefix /', http({ path: { type: 'PathPrefix', value: '/x' } }), http({})],
  ];
  for (const [name, first, second] of httpCases) {
    it(`HTTP: ${name}`, () => {
      assert.ok(compareHttp(first, second) < 0);
      assert.ok(compareHttp(second, first) > 0);
    });
  }
  it('HTTP: identical matches tie', () => assert.equal(compareHttp(http({}), http({})), 0));

  const grpcCases: [string, GrpcMatch, GrpcMatch][] = [
    [
      'Exact beats RegularExpression',
      grpc({ method: { type: 'Exact', service: 'a' } }),
      grpc({ method: { type: 'RegularExpression', service: 'abcdef' } }),
    ],
    [
      'RegularExpression beats no method',
      grpc({ method: { type: 'RegularExpression', method: 'a' } }),
      grpc({ headers: [header, header] }),
    ],
    [
      'longer service first',
      grpc({ method: { type: 'Exact', service: 'a.Bc' } }),
      grpc({ method: { type: 'Exact', service: 'a.B', method: 'Long' } }),
    ],
    [
      'longer method first',
      grpc({ method: { type: 'Exact', service: 'a.B', method: 'Get' } }),
      grpc({ method: { type: 'Exact', service: 'a.B', method: 'Go' } }),
    ],
    [
      'more headers first',
      grpc({ method: { type: 'Exact', method: 'Go' }, headers: [header] }),
      grpc({ method: { type: 'Exact', method: 'Go' } }),
    ],
  ];
  for (const [name, first, second] of grpcCases) {
    it(`gRPC: ${name}`, () => {
      assert.ok(compareGrpc(first, second) < 0);
      assert.ok(compareGrpc(second, first) > 0);
    });
  }
});

describe('controller/translate/routes robustness', () => {
  const base = readFileSync(`${DIR}/precedence-ties.in.yaml`, 'utf8');

  it('is deterministic whatever the input order', () => {
    const world = worldFromYaml(base);
    const reversed: World = {
      ...world,
      httpRoutes: [...world.httpRoutes].reverse(),
      services: [...world.services].reverse(),
    };
    assert.deepEqual(
      translateRoutes(reversed, waypointsFromLabels(reversed)),
      translateRoutes(world, waypointsFromLabels(world)),
    );
  });

  it('does not throw on malformed objects and writes no status for nameless routes', () => {
    const world = worldFromYaml(base);
    const junk = [
      { metadata: {}, spec: { parentRefs: [{ group: '', kind: 'Service', name: 'reviews' }] } },
      { metadata: { name: 'weird', namespace: 'default' }, spec: { parentRefs: 'reviews', rules: 5 } },
      {
        metadata: { name: 'odd', namespace: 'default' },
        spec: {
          parentRefs: [null, 7, { group: '', kind: 'Service', name: 'reviews', port: 'http' }],
          rules: [null, 'x'],
        },
      },
    ];
    const messy: World = Object.freeze({
      ...world,
      httpRoutes: [...world.httpRoutes, ...junk] as World['httpRoutes'],
    });
    const out = translateRoutes(messy, waypointsFromLabels(messy));
    const odd = out.statuses.find((s) => s.source.name === 'odd');
    assert.ok(odd !== undefined && odd.kind === 'route');
    assert.equal(odd.parents.length, 1);
    assert.equal(odd.parents[0]?.conditions[0]?.reason, 'NoMatchingParent');
    assert.equal(
      out.statuses.find((s) => s.source.name === 'weird'),
      undefined,
    );
  });

  it('observedGeneration follows metadata.generation and Accepted/ResolvedRefs are always present', () => {
    const out = run(readFileSync(`${DIR}/invalid-values.in.yaml`, 'utf8'));
    for (const s of out.statuses) {
      assert.ok(s.kind === 'route');
      for (const p of s.parents) {
        const types = p.conditions.map((c) => c.type);
        assert.ok(types.includes('Accepted') && types.includes('ResolvedRefs'), types.join());
        assert.ok(p.conditions.every((c) => c.observedGeneration === (s.source.name === 'broken' ? 7 : 1)));
      }
    }
  });
});
