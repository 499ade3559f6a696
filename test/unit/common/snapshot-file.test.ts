import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { after, before, describe, it } from 'mocha';
import { contentVersion } from '../../../controller/snapshots/canonical.ts';
import { isMeshError, type MeshError } from '../../../common/errors.ts';
import type { NodeSnapshot } from '../../../common/ir/index.ts';
import {
  canonicalJson,
  readSnapshotFile,
  watchSnapshotFile,
  type SnapshotWatch,
} from '../../../common/snapshot-file.ts';

const source = { group: '', kind: 'Service', namespace: 'default', name: 'web' };

function nodeSnapshot(node = 'node-a'): Record<string, unknown> {
  return {
    kind: 'node',
    trustDomain: 'cluster.local',
    node,
    workloads: [
      {
        uid: 'u1',
        name: 'web-1',
        namespace: 'default',
        node,
        ips: ['10.250.1.2'],
        serviceAccount: 'web',
        identity: 'spiffe://cluster.local/ns/default/sa/web',
        captured: true,
        labels: { app: 'web' },
        namedPorts: { http: 8080 },
      },
    ],
    services: [
      {
        key: 'default/web',
        namespace: 'default',
        name: 'web',
        clusterIPs: ['10.96.0.10'],
        ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }],
        endpoints: [{ workloadUid: 'u1', ip: '10.250.1.2', node, ready: true, ports: { 80: 8080 } }],
        source,
      },
    ],
    policies: [
      {
        id: 'authorizationpolicy/default/deny',
        source: {
          group: 'policy.waymesh.io',
          kind: 'AuthorizationPolicy',
          namespace: 'default',
          name: 'deny',
        },
        scope: { kind: 'namespace', namespace: 'default' },
        action: 'DENY',
        layer: 'L4',
        rules: [
          {
            from: [{ principals: { values: ['*'], not: [] }, namespaces: { values: [], not: [] } }],
            to: [],
            when: [],
          },
        ],
      },
    ],
  };
}

const waypointSnapshot = {
  kind: 'waypoint',
  trustDomain: 'cluster.local',
  waypoint: { namespace: 'default', name: 'waypoint' },
  services: [],
  routes: [
    {
      service: 'default/web',
      port: 80,
      protocol: 'http',
      producer: [
        {
          id: 'httproute/default/web/rule/0/match/0',
          route: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default', name: 'web' },
          rule: '0',
          match: { kind: 'http', path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
          filters: [],
          backends: [{ kind: 'service', service: 'default/web', port: 80, weight: 1, filters: [] }],
          timeouts: {},
        },
      ],
      consumers: {},
    },
  ],
  policies: [],
  rateLimits: [
    {
      id: 'ratelimitpolicy/default/rl/limit/0',
      source: { group: 'policy.waymesh.io', kind: 'RateLimitPolicy', namespace: 'default', name: 'rl' },
      target: { kind: 'service', service: 'default/web' },
      requests: 10,
      periodSeconds: 1,
      key: { type: 'source' },
    },
  ],
};

function isFrozenDeep(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  return Object.isFrozen(v) && Object.values(v).every(isFrozenDeep);
}

describe('common/snapshot-file', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wm-snapshot-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = async (name: string, text: string): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, text);
    return p;
  };

  describe('readSnapshotFile', () => {
    it('reads JSON, deep-freezes it and fills version as the controller computes it', async () => {
      const body = nodeSnapshot();
      const s = await readSnapshotFile(await file('node.json', JSON.stringify(body)), 'node');
      assert.equal(s.node, 'node-a');
      assert.equal(s.version, contentVersion(body));
      assert.match(s.version, /^[0-9a-f]{64}$/);
      assert.ok(isFrozenDeep(s));
    });

    it('YAML with keys in another order gives the same version', async () => {
      const body = nodeSnapshot();
      const reordered = Object.fromEntries(Object.entries(body).reverse());
      const fromJson = await readSnapshotFile(await file('a.json', JSON.stringify(body)), 'node');
      const fromYaml = await readSnapshotFile(await file('a.yaml', yaml.dump(reordered)), 'node');
      assert.equal(fromYaml.version, fromJson.version);
      assert.deepEqual(fromYaml, fromJson);
    });

    it('detects the format by content when the extension says nothing', async () => {
      const j = await readSnapshotFile(await file('snap-json', JSON.stringify(nodeSnapshot())), 'node');
      const y = await readSnapshotFile(await file('snap-yaml', yaml.dump(nodeSnapshot())), 'node');
      assert.equal(j.version, y.version);
    });

    it('keeps a version the file gives', async () => {
      const s = await readSnapshotFile(
        await file('v.json', JSON.stringify({ ...nodeSnapshot(), version: 'v7' })),
        'node',
      );
      assert.equal(s.version, 'v7');
    });

    it('reads a waypoint snapshot', async () => {
      const s = await readSnapshotFile(await file('wp.yml', yaml.dump(waypointSnapshot)), 'waypoint');
      assert.equal(s.routes[0]?.producer[0]?.rule, '0');
      assert.equal(s.rateLimits[0]?.periodSeconds, 1);
    });

    const broken: readonly { what: string; edit: (s: Record<string, unknown>) => unknown; why: RegExp }[] = [
      {
        what: 'kind mismatch',
        edit: (s) => ({ ...s, kind: 'waypoint' }),
        why: /kind is "waypoint", expected "node"/,
      },
      { what: 'not an object', edit: () => ['x'], why: /snapshot: expected an object, got a list/ },
      {
        what: 'missing workloads',
        edit: ({ workloads: _w, ...rest }) => rest,
        why: /snapshot\.workloads: expected a list, got undefined/,
      },
      {
        what: 'ips not a list',
        edit: (s) => ({ ...s, workloads: [{ ...(s['workloads'] as object[])[0], ips: '10.0.0.1' }] }),
        why: /snapshot\.workloads\[0\]\.ips: expected a list, got string/,
      },
      {
        what: 'bad port type',
        edit: (s) => {
          const svc = (s['services'] as Record<string, unknown>[])[0] ?? {};
          return {
            ...s,
            services: [
              { ...svc, ports: [{ name: 'http', port: '80', protocol: 'TCP', appProtocol: 'http' }] },
            ],
          };
        },
        why: /snapshot\.services\[0\]\.ports\[0\]\.port: expected a number, got string/,
      },
      {
        what: 'bad policy action',
        edit: (s) => ({ ...s, policies: [{ ...(s['policies'] as object[])[0], action: 'AUDIT' }] }),
        why: /snapshot\.policies\[0\]\.action: expected one of "ALLOW", "DENY"/,
      },
      {
        what: 'unknown mtls mode',
        edit: (s) => ({ ...s, workloads: [{ ...(s['workloads'] as object[])[0], mtls: 'strict' }] }),
        why: /snapshot\.workloads\[0\]\.mtls: expected one of "STRICT", "PERMISSIVE"/,
      },
      {
        what: 'version not a string',
        edit: (s) => ({ ...s, version: 3 }),
        why: /snapshot\.version: expected a string/,
      },
    ];
    for (const b of broken) {
      it(`names the path and the field: ${b.what}`, async () => {
        const p = await file('bad.json', JSON.stringify(b.edit(nodeSnapshot())));
        await assert.rejects(readSnapshotFile(p, 'node'), (err: unknown) => {
          assert.ok(isMeshError(err, 'SNAPSHOT_FILE_INVALID'), String(err));
          assert.ok(err.message.includes(p), err.message);
          assert.match(err.message, b.why);
          return true;
        });
      });
    }

    it('unparsable text and a missing file fail with their own codes', async () => {
      const p = await file('junk.yaml', 'kind: [unclosed');
      await assert.rejects(readSnapshotFile(p, 'node'), (err: unknown) =>
        isMeshError(err, 'SNAPSHOT_FILE_INVALID'),
      );
      await assert.rejects(readSnapshotFile(join(dir, 'absent.json'), 'node'), (err: unknown) =>
        isMeshError(err, 'SNAPSHOT_FILE_UNREADABLE'),
      );
    });

    it('canonicalJson sorts keys recursively and drops undefined members', () => {
      assert.equal(
        canonicalJson({ b: [{ d: 1, c: 2 }], a: undefined, e: null }),
        '{"b":[{"c":2,"d":1}],"e":null}',
      );
    });
  });

  describe('watchSnapshotFile', () => {
    let watch: SnapshotWatch<NodeSnapshot> | undefined;
    after(() => watch?.stop());

    /** Polls until `ok()` holds (file events arrive asynchronously, possibly several per write). */
    async function until(ok: () => boolean, what: string): Promise<void> {
      const deadline = Date.now() + 5000;
      while (!ok()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }

    it('delivers the first snapshot, each rewrite, keeps the last good one on a bad rewrite', async () => {
      const p = await file('watched.json', JSON.stringify(nodeSnapshot('n1')));
      const got: NodeSnapshot[] = [];
      const errors: MeshError[] = [];
      watch = watchSnapshotFile(
        p,
        'node',
        (s) => got.push(s),
        (e) => errors.push(e),
        { debounceMs: 30 },
      );
      await until(() => got.length === 1, 'the first snapshot');
      assert.equal(got[0]?.node, 'n1');

      await writeFile(p, JSON.stringify(nodeSnapshot('n2')));
      await until(() => got.at(-1)?.node === 'n2', 'the rewrite');

      await writeFile(p, '{ not json');
      await until(() => errors.length > 0, 'the bad rewrite to be reported');
      assert.ok(errors.every((e) => isMeshError(e, 'SNAPSHOT_FILE_INVALID')));
      assert.ok(errors.some((e) => /not valid JSON/.test(e.message)));
      assert.equal(watch.current()?.node, 'n2');

      // An atomic replace (write elsewhere, rename over) is seen too.
      const tmp = join(dir, 'watched.json.tmp');
      await writeFile(tmp, JSON.stringify(nodeSnapshot('n3')));
      await rename(tmp, p);
      await until(() => watch?.current()?.node === 'n3', 'the atomic replace');
      assert.deepEqual(
        got.map((s) => s.node),
        ['n1', 'n2', 'n3'],
      );
    });

    it('does not call back after stop()', async () => {
      const p = await file('stopped.json', JSON.stringify(nodeSnapshot('s1')));
      const got: string[] = [];
      const w = watchSnapshotFile(
        p,
        'node',
        (s) => got.push(s.node),
        () => undefined,
        { debounceMs: 10 },
      );
      await until(() => got.length === 1, 'the first snapshot');
      w.stop();
      await writeFile(p, JSON.stringify(nodeSnapshot('s2')));
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.deepEqual(got, ['s1']);
    });
  });
});
