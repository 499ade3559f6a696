import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeSnapshot, ProxySnapshot, WaypointSnapshot, Workload } from '../../../common/ir/index.ts';
import {
  buildSnapshots,
  canonicalJson,
  contentVersion,
  type SnapshotInput,
  type SnapshotSet,
} from '../../../controller/snapshots/index.ts';
import { expectGolden } from '../../helpers/golden.ts';

const DIR = fileURLToPath(new URL('../../golden/snapshots/', import.meta.url));

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Reads a `.in.json` case: the IR lists buildSnapshots() takes, checked for their presence. */
function readInput(file: string): SnapshotInput {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const list of [
    'workloads',
    'services',
    'tables',
    'authorization',
    'rateLimits',
    'nodes',
    'waypoints',
  ]) {
    assert.ok(Array.isArray(raw[list]), `${file}: "${list}" must be a list`);
  }
  assert.equal(typeof raw['trustDomain'], 'string', `${file}: "trustDomain" must be a string`);
  return deepFreeze(raw as unknown as SnapshotInput);
}

function plain(set: SnapshotSet): unknown {
  return { nodes: Object.fromEntries(set.nodes), waypoints: Object.fromEntries(set.waypoints) };
}

function withoutVersion(s: ProxySnapshot): Record<string, unknown> {
  const { version: _version, ...rest } = s;
  return rest;
}

function reversed(input: SnapshotInput): SnapshotInput {
  return {
    ...input,
    workloads: [...input.workloads].reverse(),
    services: [...input.services].reverse(),
    tables: [...input.tables].reverse(),
    authorization: [...input.authorization].reverse(),
    rateLimits: [...input.rateLimits].reverse(),
    nodes: [...input.nodes].reverse(),
    waypoints: [...input.waypoints].reverse(),
  };
}

function node(set: SnapshotSet, name: string): NodeSnapshot {
  const s = set.nodes.get(name);
  assert.ok(s, `no snapshot for node ${name}`);
  return s;
}

function waypoint(set: SnapshotSet, key: string): WaypointSnapshot {
  const s = set.waypoints.get(key);
  assert.ok(s, `no snapshot for waypoint ${key}`);
  return s;
}

const cases = readdirSync(DIR)
  .filter((f) => f.endsWith('.in.json'))
  .sort()
  .map((f) => [f.slice(0, -'.in.json'.length), join(DIR, f)] as const);

describe('controller/snapshots', () => {
  describe('golden cases', () => {
    it('has cases', () => assert.ok(cases.length >= 2));
    for (const [name, file] of cases) {
      it(name, () => {
        const input = readInput(file);
        const set = buildSnapshots(input);
        expectGolden(DIR, name, 'out', plain(set));
        // The same IR in another order gives byte-identical snapshots.
        assert.deepEqual(plain(buildSnapshots(reversed(input))), plain(set));
      });
    }
  });

  describe('canonicalJson', () => {
    const table: [string, unknown, string][] = [
      [
        'sorts keys at every depth',
        { b: 1, a: { d: [1, { z: 1, y: 2 }], c: 'x' } },
        '{"a":{"c":"x","d":[1,{"y":2,"z":1}]},"b":1}',
      ],
      [
        'drops undefined members, nulls undefined items',
        { a: undefined, b: [undefined, null] },
        '{"b":[null,null]}',
      ],
      ['escapes keys and strings as JSON does', { 'q"k': 'line\nbreak' }, '{"q\\"k":"line\\nbreak"}'],
      ['keeps array order', [3, 1, 2], '[3,1,2]'],
      ['writes non-finite numbers as null', [Number.NaN, Infinity], '[null,null]'],
    ];
    for (const [what, value, want] of table) it(what, () => assert.equal(canonicalJson(value), want));

    it('gives the same text with and without a memo, and for a value memoised twice', () => {
      const shared = { y: [1, 2], x: 'a' };
      const value = { one: shared, two: [shared, shared] };
      const memo = new WeakMap<object, string>();
      assert.equal(canonicalJson(value, memo), canonicalJson(value));
      assert.equal(
        canonicalJson(value, memo),
        '{"one":{"x":"a","y":[1,2]},"two":[{"x":"a","y":[1,2]},{"x":"a","y":[1,2]}]}',
      );
    });

    it('contentVersion is the sha256 of the canonical text, however deep the value', () => {
      const value = { k: [{ b: [{ d: 1, c: undefined }], a: 2 }], j: 'x', u: undefined };
      const want = createHash('sha256').update(canonicalJson(value)).digest('hex');
      assert.equal(contentVersion(value), want);
      assert.equal(contentVersion(value, new WeakMap()), want);
      assert.match(want, /^[0-9a-f]{64}$/);
    });
  });

  describe('versions', () => {
    const input = readInput(join(DIR, 'nodes.in.json'));
    const wpInput = readInput(join(DIR, 'waypoints.in.json'));

    it('is the sha256 of the canonical JSON of the snapshot without its version', () => {
      const set = buildSnapshots(input);
      for (const s of [...set.nodes.values(), ...buildSnapshots(wpInput).waypoints.values()]) {
        const want = createHash('sha256')
          .update(canonicalJson(withoutVersion(s)))
          .digest('hex');
        assert.equal(s.version, want);
      }
    });

    it('changes for the node whose local workload changed, not for others that see it remotely', () => {
      const before = buildSnapshots(input);
      const relabelled = input.workloads.map((w): Workload =>
        w.uid === 'u-web-1' ? { ...w, labels: { ...w.labels, version: 'v9' } } : w,
      );
      const after = buildSnapshots({ ...input, workloads: relabelled });
      assert.notEqual(node(after, 'node-a').version, node(before, 'node-a').version);
      assert.equal(node(after, 'node-b').version, node(before, 'node-b').version);
      assert.equal(node(after, 'node-c').version, node(before, 'node-c').version);
    });

    it('changes for a waypoint only when its own slice changes', () => {
      const before = buildSnapshots(wpInput);
      const rateLimits = wpInput.rateLimits.map((r) =>
        r.id === 'ratelimitpolicy/billing/ledger-limit/limit/0' ? { ...r, requests: 51 } : r,
      );
      const after = buildSnapshots({ ...wpInput, rateLimits });
      assert.notEqual(waypoint(after, 'billing/wp2').version, waypoint(before, 'billing/wp2').version);
      assert.equal(waypoint(after, 'shop/wp').version, waypoint(before, 'shop/wp').version);
    });
  });

  describe('node snapshots', () => {
    const set = buildSnapshots(readInput(join(DIR, 'nodes.in.json')));

    it('builds one snapshot per distinct node, sorted', () => {
      assert.deepEqual([...set.nodes.keys()], ['node-a', 'node-b', 'node-c']);
    });

    it('keeps local workloads in full and trims remote ones to what tunnels need', () => {
      const a = node(set, 'node-a');
      const web1 = a.workloads.find((w) => w.uid === 'u-web-1');
      const api1 = a.workloads.find((w) => w.uid === 'u-api-1');
      assert.deepEqual(web1?.labels, { app: 'web', version: 'v1' });
      assert.deepEqual(api1?.labels, {});
      assert.deepEqual(api1?.namedPorts, {});
      assert.equal(api1?.identity, 'spiffe://cluster.local/ns/shop/sa/api');
    });

    it('leaves out remote workloads that back no Service', () => {
      assert.equal(
        node(set, 'node-a').workloads.some((w) => w.uid === 'u-db-1'),
        false,
      );
      assert.equal(
        node(set, 'node-b').workloads.some((w) => w.uid === 'u-db-1'),
        true,
      );
    });

    it('gives every node every Service', () => {
      for (const s of set.nodes.values()) {
        assert.deepEqual(
          s.services.map((x) => x.key),
          ['billing/ledger', 'shop/api', 'shop/web'],
        );
      }
    });

    it('delivers only L4 policies of local namespaces and backed Services', () => {
      const ids = (n: string): string[] => node(set, n).policies.map((p) => `${p.id}#${p.layer}`);
      assert.deepEqual(ids('node-a'), ['authorizationpolicy/shop/allow-shop#L4']);
      assert.deepEqual(ids('node-b'), [
        'authorizationpolicy/billing/deny-shop#L4',
        'authorizationpolicy/shop/allow-shop#L4',
        'authorizationpolicy/shop/api-only-web#L4',
      ]);
      assert.deepEqual(ids('node-c'), []);
    });

    it('returns frozen snapshots', () => {
      const a = node(set, 'node-a');
      assert.ok(Object.isFrozen(a));
      assert.ok(Object.isFrozen(a.workloads));
      assert.ok(Object.isFrozen(a.policies));
    });
  });

  describe('waypoint snapshots', () => {
    const set = buildSnapshots(readInput(join(DIR, 'waypoints.in.json')));
    const wp = waypoint(set, 'shop/wp');

    it('carries the bound Services and every backend and mirror target of their routes', () => {
      assert.deepEqual(
        wp.services.map((s) => s.key),
        ['shop/api', 'shop/canary', 'shop/reviews', 'shop/shadow', 'shop/web'],
      );
      assert.deepEqual(
        wp.routes.map((t) => `${t.service}:${t.port}`),
        ['shop/api:80'],
      );
    });

    it('selects policies by waypoint, bound Service and bound namespace', () => {
      assert.deepEqual(
        wp.policies.map((p) => `${p.id}#${p.layer}`),
        [
          'authorizationpolicy/shop/api-get#L7',
          'authorizationpolicy/shop/ns-wide#L7',
          'authorizationpolicy/shop/wp-l4#L4',
          'authorizationpolicy/shop/wp-l7#L7',
        ],
      );
    });

    it('selects rate limits of bound Services and of routes in its tables, consumer routes included', () => {
      assert.deepEqual(
        wp.rateLimits.map((r) => r.id),
        ['ratelimitpolicy/frontend/canary-limit/limit/0', 'ratelimitpolicy/shop/api-limit/limit/0'],
      );
    });

    it('builds an empty snapshot for a waypoint that serves nothing', () => {
      const idle = waypoint(set, 'shop/idle');
      assert.deepEqual(
        [idle.services.length, idle.routes.length, idle.policies.length, idle.rateLimits.length],
        [0, 0, 0, 0],
      );
    });
  });
});
