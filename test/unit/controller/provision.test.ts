/** Waypoint provisioning: desired objects, drift, the reconciler and GatewayClass, in memory. */
import assert from 'node:assert/strict';
import {
  containsSubset,
  desiredWaypointObjects,
  driftAction,
  ensureGatewayClass,
  isWaypointParameterError,
  MemoryKubeClient,
  mergePatch,
  resourcePath,
  WaypointProvisioner,
  type KubeObjectLike,
  type LiveObject,
  type WaypointConfig,
} from '../../../controller/provision/index.ts';
import { silentLogger } from '../../../common/log.ts';
import { waypointParameterProblem } from '../../../controller/provision/objects.ts';
import type { CustomObject } from '../../../controller/translate/world.ts';

const config: WaypointConfig = {
  image: 'waymesh/waypoint:1.0',
  replicas: 2,
  controllerAddress: 'waymesh-controller.waymesh-system.svc:15012',
  trustDomain: 'cluster.local',
};

function gateway(
  name = 'wp',
  annotations?: Record<string, string>,
  extra: Partial<CustomObject> = {},
): CustomObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, ...(annotations ? { annotations } : {}) },
    spec: {
      gatewayClassName: 'waymesh-waypoint',
      listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
    },
    ...extra,
  };
}

function objects(gw: CustomObject, cfg: WaypointConfig = config): readonly KubeObjectLike[] {
  const r = desiredWaypointObjects(gw, cfg);
  if (isWaypointParameterError(r)) throw new Error(`unexpected error: ${r.message}`);
  return r;
}

type Rec = Record<string, unknown>;
const at = (o: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, k) => (v as Rec | unknown[] | undefined)?.[k as never], o);

describe('controller/provision desiredWaypointObjects', () => {
  it('builds ServiceAccount, Deployment and Service named after the Gateway, owned by it', () => {
    const objs = objects(gateway());
    assert.deepEqual(
      objs.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`),
      ['v1 ServiceAccount shop/wp', 'apps/v1 Deployment shop/wp', 'v1 Service shop/wp'],
    );
    for (const o of objs) {
      assert.deepEqual(o.metadata.labels, {
        'gateway.networking.k8s.io/gateway-name': 'wp',
        'waymesh.io/waypoint': 'true',
      });
      assert.deepEqual(o.metadata.ownerReferences, [
        {
          apiVersion: 'gateway.networking.k8s.io/v1',
          kind: 'Gateway',
          name: 'wp',
          uid: 'uid-wp',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
  });

  it('gives the Deployment uncaptured pods that dial the controller', () => {
    const dep = objects(gateway())[1];
    assert.equal(at(dep?.spec, 'replicas'), 2);
    assert.deepEqual(at(dep?.spec, 'selector'), {
      matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'wp' },
    });
    assert.deepEqual(at(dep?.spec, 'template', 'metadata', 'labels'), {
      'gateway.networking.k8s.io/gateway-name': 'wp',
      'waymesh.io/waypoint': 'true',
      'waymesh.io/dataplane-mode': 'none',
    });
    assert.equal(at(dep?.spec, 'template', 'spec', 'serviceAccountName'), 'wp');
    const c = at(dep?.spec, 'template', 'spec', 'containers', 0);
    assert.equal(at(c, 'image'), 'waymesh/waypoint:1.0');
    assert.deepEqual(at(c, 'args'), ['waypoint', '--controller', config.controllerAddress]);
    assert.deepEqual(
      (at(c, 'ports') as Rec[]).map((p) => [p['name'], p['containerPort']]),
      [
        ['hbone', 15008],
        ['metrics', 15020],
        ['readiness', 15021],
      ],
    );
    assert.deepEqual(at(c, 'readinessProbe', 'httpGet'), { path: '/ready', port: 15021 });
    const env = at(c, 'env') as Rec[];
    assert.ok(env.some((e) => e['name'] === 'WAYMESH_TRUST_DOMAIN' && e['value'] === 'cluster.local'));
  });

  it('gives the Service one TLS port 15008 named mesh', () => {
    const svc = objects(gateway())[2];
    assert.equal(at(svc?.spec, 'type'), 'ClusterIP');
    assert.deepEqual(at(svc?.spec, 'ports'), [
      { name: 'mesh', port: 15008, targetPort: 15008, protocol: 'TCP', appProtocol: 'https' },
    ]);
    assert.deepEqual(at(svc?.spec, 'selector'), { 'gateway.networking.k8s.io/gateway-name': 'wp' });
  });

  it('takes image and replicas from Gateway annotations over the config', () => {
    const dep = objects(
      gateway('wp', {
        'waymesh.io/waypoint-image': 'reg.local/wp:2@sha256:abc',
        'waymesh.io/waypoint-replicas': '20',
      }),
    )[1];
    assert.equal(at(dep?.spec, 'replicas'), 20);
    assert.equal(at(dep?.spec, 'template', 'spec', 'containers', 0, 'image'), 'reg.local/wp:2@sha256:abc');
  });

  it('hands the rate-limit failure mode from the Gateway annotation to the waypoint, only when set', () => {
    const envOf = (gw: CustomObject): Rec[] =>
      at(objects(gw)[1]?.spec, 'template', 'spec', 'containers', 0, 'env') as Rec[];
    const mode = (gw: CustomObject): unknown =>
      envOf(gw).find((e) => e['name'] === 'WAYMESH_RATELIMIT_FAILURE_MODE')?.['value'];
    assert.equal(mode(gateway('wp', { 'waymesh.io/ratelimit-failure-mode': 'closed' })), 'closed');
    assert.equal(mode(gateway('wp', { 'waymesh.io/ratelimit-failure-mode': 'open' })), 'open');
    assert.equal(mode(gateway()), undefined);
  });

  it('hands the path normalization from the Gateway annotation to the waypoint, only when set', () => {
    const normalization = (gw: CustomObject): unknown =>
      (at(objects(gw)[1]?.spec, 'template', 'spec', 'containers', 0, 'env') as Rec[]).find(
        (e) => e['name'] === 'WAYMESH_PATH_NORMALIZATION',
      )?.['value'];
    for (const v of ['base', 'merge-slashes', 'decode-and-merge-slashes'])
      assert.equal(normalization(gateway('wp', { 'waymesh.io/path-normalization': v })), v);
    assert.equal(normalization(gateway()), undefined);
    assert.equal(
      waypointParameterProblem(gateway('wp', { 'waymesh.io/path-normalization': 'base' })),
      undefined,
    );
    // The Gateway's status says so too (translate reports this as Accepted=False/InvalidParameters).
    assert.match(
      waypointParameterProblem(gateway('wp', { 'waymesh.io/path-normalization': 'none' })) ?? '',
      /path-normalization must be one of/,
    );
  });

  const bad: [string, CustomObject, RegExp][] = [
    [
      'path normalization not a known mode',
      gateway('wp', { 'waymesh.io/path-normalization': 'MERGE_SLASHES' }),
      /path-normalization must be one of base, merge-slashes, decode-and-merge-slashes, got "MERGE_SLASHES"/,
    ],
    [
      'failure mode not open or closed',
      gateway('wp', { 'waymesh.io/ratelimit-failure-mode': 'Closed' }),
      /ratelimit-failure-mode must be open or closed, got "Closed"/,
    ],
    ['replicas 0', gateway('wp', { 'waymesh.io/waypoint-replicas': '0' }), /1 to 20, got "0"/],
    ['replicas 21', gateway('wp', { 'waymesh.io/waypoint-replicas': '21' }), /1 to 20/],
    ['replicas not a number', gateway('wp', { 'waymesh.io/waypoint-replicas': 'two' }), /waypoint-replicas/],
    ['replicas fraction', gateway('wp', { 'waymesh.io/waypoint-replicas': '1.5' }), /waypoint-replicas/],
    ['empty image', gateway('wp', { 'waymesh.io/waypoint-image': '' }), /waypoint-image/],
    ['image with spaces', gateway('wp', { 'waymesh.io/waypoint-image': 'a b' }), /waypoint-image/],
    ['no uid', { ...gateway(), metadata: { name: 'wp', namespace: 'shop' } }, /no uid/],
    ['no namespace', { ...gateway(), metadata: { name: 'wp', uid: 'u' } }, /no name or namespace/],
    ['name not DNS-1035', gateway('Wp.x'), /DNS-1035/],
  ];
  for (const [name, gw, message] of bad) {
    it(`reports InvalidParameters for ${name}`, () => {
      const r = desiredWaypointObjects(gw, config);
      assert.ok(isWaypointParameterError(r), 'expected a parameter error');
      assert.equal(r.reason, 'InvalidParameters');
      assert.match(r.message, message);
    });
  }

  it('rejects out-of-range replicas in the controller config too', () => {
    const r = desiredWaypointObjects(gateway(), { ...config, replicas: 0 });
    assert.ok(isWaypointParameterError(r));
    assert.match(r.message, /controller config replicas/);
  });

  it('hands the configured Redis and OTLP endpoints to the waypoint, and nothing when unset', () => {
    const envOf = (cfg: WaypointConfig): Record<string, unknown> =>
      Object.fromEntries(
        (at(objects(gateway(), cfg)[1], 'spec', 'template', 'spec', 'containers', 0, 'env') as Rec[]).map(
          (e): [string, unknown] => [String(e['name']), e['value']],
        ),
      );
    const env = envOf({ ...config, redisAddress: 'redis:6379', otlpEndpoint: 'http://sink:4317' });
    assert.equal(env['WAYMESH_REDIS_ADDRESS'], 'redis:6379');
    assert.equal(env['WAYMESH_OTLP_ENDPOINT'], 'http://sink:4317');
    const plain = envOf(config);
    assert.ok(!('WAYMESH_REDIS_ADDRESS' in plain) && !('WAYMESH_OTLP_ENDPOINT' in plain));
  });

  it('fills the Redis credentials and CA from optional keys of the named Secret, and TLS, only with a Redis', () => {
    const envOf = (cfg: WaypointConfig): Rec[] =>
      at(objects(gateway(), cfg)[1], 'spec', 'template', 'spec', 'containers', 0, 'env') as Rec[];
    const env = envOf({ ...config, redisAddress: 'redis:6379', redisSecret: 'redis-auth', redisTls: true });
    const byName = (n: string): Rec | undefined => env.find((e) => e['name'] === n);
    // Optional, the Secret too: a waypoint without them still routes (its rate limiter says why
    // Redis refused it); a required key would keep the waypoint, and its Services, down.
    for (const [name, key] of [
      ['WAYMESH_REDIS_PASSWORD', 'password'],
      ['WAYMESH_REDIS_USERNAME', 'username'],
      ['WAYMESH_REDIS_CA', 'ca.crt'],
    ])
      assert.deepEqual(byName(name ?? '')?.['valueFrom'], {
        secretKeyRef: { name: 'redis-auth', key, optional: true },
      });
    assert.equal(byName('WAYMESH_REDIS_TLS')?.['value'], 'true');
    // The CA only with TLS: the waypoint refuses a CA it would not use.
    const plain = envOf({ ...config, redisAddress: 'redis:6379', redisSecret: 'redis-auth' }).map(
      (e) => e['name'],
    );
    assert.ok(plain.includes('WAYMESH_REDIS_PASSWORD') && !plain.includes('WAYMESH_REDIS_CA'));
    for (const cfg of [
      { ...config, redisSecret: 'redis-auth', redisTls: true },
      { ...config, redisAddress: 'redis:6379' },
    ]) {
      const names = envOf(cfg).map((e) => String(e['name']));
      assert.deepEqual(
        names.filter((n) => n.startsWith('WAYMESH_REDIS_') && n !== 'WAYMESH_REDIS_ADDRESS'),
        [],
      );
    }
  });

  it("caps the waypoint container's young generation, as the l7 benchmark runs it", () => {
    const env = at(objects(gateway())[1], 'spec', 'template', 'spec', 'containers', 0, 'env') as Rec[];
    const opts = env.find((e) => e['name'] === 'NODE_OPTIONS');
    assert.equal(opts?.['value'], '--max-semi-space-size=8');
  });

  it('is deterministic and does not share mutable metadata between objects', () => {
    const a = objects(gateway());
    assert.deepEqual(a, objects(gateway()));
    assert.notEqual(a[0]?.metadata.labels, a[1]?.metadata.labels);
  });
});

describe('controller/provision driftAction', () => {
  const dep = (): KubeObjectLike => objects(gateway())[1] as KubeObjectLike;
  // What the API server returns: our fields plus defaults and status.
  const liveOf = (o: KubeObjectLike): LiveObject =>
    mergePatch(o, {
      metadata: { resourceVersion: '7', labels: { extra: 'x' } },
      spec: { progressDeadlineSeconds: 600, template: { spec: { restartPolicy: 'Always' } } },
      status: { readyReplicas: 1 },
    }) as LiveObject;

  it('finds nothing to do when the live object only has extra defaulted fields', () => {
    assert.deepEqual(driftAction(dep(), liveOf(dep())), { type: 'none' });
  });

  it('patches a changed replica count and image with the whole desired spec', () => {
    const live = mergePatch(liveOf(dep()), { spec: { replicas: 5 } }) as LiveObject;
    const a = driftAction(dep(), live);
    assert.equal(a.type, 'patch');
    assert.deepEqual(a.type === 'patch' ? a.patch : undefined, { spec: dep().spec });
  });

  it('restores removed labels without touching the spec', () => {
    const live = mergePatch(liveOf(dep()), {
      metadata: { labels: { 'waymesh.io/waypoint': null } },
    }) as LiveObject;
    const a = driftAction(dep(), live);
    assert.deepEqual(a.type === 'patch' ? Object.keys(a.patch) : a.type, ['metadata']);
  });

  it('recreates a Deployment whose immutable selector changed', () => {
    const live = mergePatch(liveOf(dep()), {
      spec: { selector: { matchLabels: { app: 'other' } } },
    }) as LiveObject;
    assert.deepEqual(driftAction(dep(), live), { type: 'recreate' });
  });

  it('containsSubset compares arrays by length and position', () => {
    assert.equal(containsSubset([{ a: 1 }], [{ a: 1, b: 2 }]), true);
    assert.equal(containsSubset([{ a: 1 }], [{ a: 1 }, { a: 2 }]), false);
    assert.equal(containsSubset({ a: [1] }, { a: 'x' }), false);
  });
});

describe('controller/provision WaypointProvisioner (in memory)', () => {
  const paths = (kind: string): string => resourcePath(kind, 'shop', 'wp');
  const setup = (): { client: MemoryKubeClient; prov: WaypointProvisioner } => {
    const client = new MemoryKubeClient();
    return { client, prov: new WaypointProvisioner({ client, logger: silentLogger, config }) };
  };
  const liveFrom = (
    client: MemoryKubeClient,
  ): {
    deployments: LiveObject[];
    services: LiveObject[];
    serviceAccounts: LiveObject[];
  } => {
    const pick = (plural: string): LiveObject[] =>
      [...client.objects.entries()]
        .filter(([p]) => p.includes(`/${plural}/`))
        .map(([, o]) => o as LiveObject);
    return {
      deployments: pick('deployments'),
      services: pick('services'),
      serviceAccounts: pick('serviceaccounts'),
    };
  };

  it('creates the three objects, then is idempotent', async () => {
    const { client, prov } = setup();
    const r1 = await prov.reconcile([gateway()], liveFrom(client));
    assert.deepEqual(r1.created, ['Deployment/shop/wp', 'Service/shop/wp', 'ServiceAccount/shop/wp']);
    assert.ok(client.objects.has(paths('Deployment')));
    const r2 = await prov.reconcile([gateway()], liveFrom(client));
    assert.deepEqual([r2.created, r2.updated, r2.deleted, r2.errors], [[], [], [], []]);
  });

  it('brings back a deleted Deployment and patches a changed image', async () => {
    const { client, prov } = setup();
    await prov.reconcile([gateway()], liveFrom(client));
    client.objects.delete(paths('Deployment'));
    const svc = client.objects.get(paths('Service'));
    client.put(paths('Service'), mergePatch(svc, { spec: { ports: [{ name: 'x', port: 1 }] } }));
    const r = await prov.reconcile([gateway()], liveFrom(client));
    assert.deepEqual(r.created, ['Deployment/shop/wp']);
    assert.deepEqual(r.updated, ['Service/shop/wp']);
    assert.equal(at(client.objects.get(paths('Service')), 'spec', 'ports', 0, 'port'), 15008);
    const changed = gateway('wp', { 'waymesh.io/waypoint-image': 'img:2' });
    const r2 = await prov.reconcile([changed], liveFrom(client));
    assert.deepEqual(r2.updated, ['Deployment/shop/wp']);
    assert.ok(client.log.includes(`PATCH ${paths('Deployment')}`));
    assert.equal(
      at(client.objects.get(paths('Deployment')), 'spec', 'template', 'spec', 'containers', 0, 'image'),
      'img:2',
    );
  });

  it('deletes owned objects whose Gateway is gone or changed class, keeps foreign ones', async () => {
    const { client, prov } = setup();
    await prov.reconcile([gateway()], liveFrom(client));
    client.put(resourcePath('Deployment', 'shop', 'mine'), { metadata: { name: 'mine', namespace: 'shop' } });
    const other = { ...gateway(), spec: { gatewayClassName: 'istio-waypoint' } };
    const r = await prov.reconcile([other], liveFrom(client));
    assert.deepEqual(r.deleted, ['Deployment/shop/wp', 'Service/shop/wp', 'ServiceAccount/shop/wp']);
    assert.ok(client.objects.has(resourcePath('Deployment', 'shop', 'mine')));
    assert.equal(client.objects.size, 1);
  });

  it('keeps the last good waypoint of a Gateway with invalid parameters and reports it', async () => {
    const { client, prov } = setup();
    await prov.reconcile([gateway()], liveFrom(client));
    const r = await prov.reconcile(
      [gateway('wp', { 'waymesh.io/waypoint-replicas': '99' })],
      liveFrom(client),
    );
    assert.deepEqual(
      r.invalid.map((i) => [i.gateway, i.reason]),
      [['shop/wp', 'InvalidParameters']],
    );
    assert.deepEqual(r.deleted, []);
    assert.equal(at(client.objects.get(paths('Deployment')), 'spec', 'replicas'), 2);
  });

  it('does not adopt an object of the same name owned by someone else', async () => {
    const { client, prov } = setup();
    client.put(paths('Service'), { metadata: { name: 'wp', namespace: 'shop' }, spec: { ports: [] } });
    const r = await prov.reconcile([gateway()], liveFrom(client));
    assert.deepEqual(r.conflicts, ['Service/shop/wp']);
    assert.deepEqual(at(client.objects.get(paths('Service')), 'spec', 'ports'), []);
  });

  it('records API failures and goes on with the other objects', async () => {
    const { client, prov } = setup();
    client.failNext = [500];
    const r = await prov.reconcile([gateway()], liveFrom(client));
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0] ?? '', /^ServiceAccount\/shop\/wp: KUBE_API_ERROR/);
    assert.deepEqual(r.created, ['Deployment/shop/wp', 'Service/shop/wp']);
  });

  it('ignores Gateways being deleted', async () => {
    const { client, prov } = setup();
    const gw = gateway('wp', undefined, {});
    const deleting = { ...gw, metadata: { ...gw.metadata, deletionTimestamp: new Date(0) } };
    const r = await prov.reconcile([deleting], liveFrom(client));
    assert.deepEqual(r.created, []);
  });
});

describe('controller/provision ensureGatewayClass', () => {
  it('creates the class once, then sees it exists', async () => {
    const client = new MemoryKubeClient();
    assert.equal(await ensureGatewayClass(client), 'created');
    const gc = client.objects.get('/apis/gateway.networking.k8s.io/v1/gatewayclasses/waymesh-waypoint');
    assert.equal(at(gc, 'spec', 'controllerName'), 'waymesh.io/waypoint-controller');
    assert.equal(await ensureGatewayClass(client), 'exists');
  });

  it('leaves a class of another controller alone', async () => {
    const client = new MemoryKubeClient();
    client.put('/apis/gateway.networking.k8s.io/v1/gatewayclasses/waymesh-waypoint', {
      metadata: { name: 'waymesh-waypoint' },
      spec: { controllerName: 'example.com/other' },
    });
    assert.equal(await ensureGatewayClass(client), 'foreign');
    assert.equal(client.log.filter((l) => l.startsWith('POST')).length, 0);
  });
});
