import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { TokenSigner, serviceAccountUser } from '../../../../lab/apiserver/auth.ts';
import { parseApiPath } from '../../../../lab/apiserver/paths.ts';
import { jsonPatch, mergePatch } from '../../../../lab/apiserver/rfc-patch.ts';
import { prepareCreate, prepareUpdate } from '../../../../lab/apiserver/rules.ts';
import { compileSelector, matches, parseLabelSelector } from '../../../../lab/apiserver/selectors.ts';
import { ServiceIpAllocator } from '../../../../lab/apiserver/service-ip.ts';
import { BUILTIN_DEFS } from '../../../../lab/apiserver/builtin-kinds.ts';
import { ApiError, type Json, type KubeObject, type ResourceDef } from '../../../../lab/apiserver/types.ts';

const def = (plural: string): ResourceDef => {
  const d = BUILTIN_DEFS.find((x) => x.plural === plural);
  assert.ok(d);
  return d;
};

describe('lab/apiserver paths', () => {
  const cases: [string, unknown][] = [
    [
      '/api/v1/namespaces/ns1/pods/p/status',
      {
        type: 'resource',
        group: '',
        version: 'v1',
        namespace: 'ns1',
        resource: 'pods',
        name: 'p',
        subresource: 'status',
      },
    ],
    [
      '/api/v1/namespaces/ns1',
      {
        type: 'resource',
        group: '',
        version: 'v1',
        namespace: undefined,
        resource: 'namespaces',
        name: 'ns1',
        subresource: undefined,
      },
    ],
    [
      '/api/v1/namespaces/ns1/status',
      {
        type: 'resource',
        group: '',
        version: 'v1',
        namespace: undefined,
        resource: 'namespaces',
        name: 'ns1',
        subresource: 'status',
      },
    ],
    [
      '/api/v1/namespaces/ns1/configmaps',
      {
        type: 'resource',
        group: '',
        version: 'v1',
        namespace: 'ns1',
        resource: 'configmaps',
        name: undefined,
        subresource: undefined,
      },
    ],
    [
      '/apis/apps/v1/deployments',
      {
        type: 'resource',
        group: 'apps',
        version: 'v1',
        namespace: undefined,
        resource: 'deployments',
        name: undefined,
        subresource: undefined,
      },
    ],
    ['/apis/apps/v1', { type: 'group-resources', group: 'apps', version: 'v1' }],
    ['/apis/apps', { type: 'group', group: 'apps' }],
    ['/openapi/v3/apis/apps/v1', { type: 'openapi-v3-gv', group: 'apps', version: 'v1' }],
    ['/readyz', { type: 'health', check: 'readyz' }],
    ['/nope', { type: 'unknown', path: '/nope' }],
  ];
  for (const [path, want] of cases) it(`parses ${path}`, () => assert.deepEqual(parseApiPath(path), want));
});

describe('lab/apiserver selectors', () => {
  const obj = (labels: Record<string, string>, extra: Partial<KubeObject> = {}): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'n', labels },
    ...extra,
  });
  const cases: [string, Record<string, string>, boolean][] = [
    ['app=web', { app: 'web' }, true],
    ['app==web', { app: 'db' }, false],
    ['app!=web', {}, true],
    ['tier in (a, b)', { tier: 'b' }, true],
    ['tier notin (a,b)', { tier: 'b' }, false],
    ['tier notin (a,b)', {}, true],
    ['!tier', { tier: 'x' }, false],
    ['tier', { tier: 'x' }, true],
    ['app=web,tier in (a)', { app: 'web', tier: 'c' }, false],
  ];
  for (const [sel, labels, want] of cases)
    it(`${sel} on ${JSON.stringify(labels)} → ${want}`, () =>
      assert.equal(matches(compileSelector(sel, null, 'Pod'), obj(labels)), want));
  it('rejects malformed label selectors', () => assert.throws(() => parseLabelSelector('a in b'), ApiError));
  it('matches field selectors on pods and events', () => {
    const pod = obj({}, { spec: { nodeName: 'n1' }, status: { phase: 'Running' } });
    assert.equal(matches(compileSelector(null, 'spec.nodeName=n1,status.phase!=Failed', 'Pod'), pod), true);
    assert.equal(matches(compileSelector(null, 'metadata.name==q', 'Pod'), pod), false);
    const ev: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'e', namespace: 'n' },
      involvedObject: { name: 'cfg', namespace: 'n', uid: 'u1' },
      type: 'Normal',
    };
    assert.equal(
      matches(
        compileSelector(null, 'involvedObject.name=cfg,involvedObject.uid=u1,type=Normal', 'Event'),
        ev,
      ),
      true,
    );
  });
  it('refuses unknown field selectors with 400', () => {
    assert.throws(
      () => compileSelector(null, 'spec.foo=1', 'ConfigMap'),
      (e: unknown) => e instanceof ApiError && e.code === 400,
    );
  });
});

describe('lab/apiserver write rules', () => {
  const env = { now: new Date('2025-01-01T00:00:00.123Z'), uid: 'u-1', suffix: 'abcde' };
  it('fills metadata on create and honours generateName', () => {
    const o = prepareCreate(
      def('configmaps'),
      'v1',
      'ns',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'cfg-', resourceVersion: '9' } },
      env,
    );
    assert.equal(o.metadata.name, 'cfg-abcde');
    assert.equal(o.metadata.uid, 'u-1');
    assert.equal(o.metadata.generation, 1);
    assert.equal(o.metadata.creationTimestamp, '2025-01-01T00:00:00Z');
    assert.equal(o.metadata.resourceVersion, undefined);
  });
  it('rejects invalid names with 422 and causes', () => {
    assert.throws(
      () =>
        prepareCreate(
          def('configmaps'),
          'v1',
          'ns',
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Bad_Name' } },
          env,
        ),
      (e: unknown) =>
        e instanceof ApiError && e.code === 422 && JSON.stringify(e.details).includes('metadata.name'),
    );
  });
  const live: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', namespace: 'n', uid: 'u', resourceVersion: '5', generation: 2 },
    spec: { replicas: 1 },
    status: { ready: 1 },
  };
  it('bumps generation on spec changes only', () => {
    const d = def('deployments');
    assert.equal(
      prepareUpdate(d, live, { ...live, spec: { replicas: 3 } }, { status: false, hasStatus: true }).metadata
        .generation,
      3,
    );
    assert.equal(
      prepareUpdate(
        d,
        live,
        { ...live, metadata: { ...live.metadata, labels: { a: 'b' } } },
        { status: false, hasStatus: true },
      ).metadata.generation,
      2,
    );
    const st = prepareUpdate(
      d,
      live,
      { ...live, spec: { replicas: 9 }, status: { ready: 7 } },
      { status: true, hasStatus: true },
    );
    assert.deepEqual(st['spec'], { replicas: 1 });
    assert.deepEqual(st['status'], { ready: 7 });
    assert.equal(st.metadata.generation, 2);
  });
  it('ignores status on main-resource writes of kinds with a status subresource', () => {
    const next = prepareUpdate(
      def('deployments'),
      live,
      { ...live, status: { ready: 100 } },
      { status: false, hasStatus: true },
    );
    assert.deepEqual(next['status'], { ready: 1 });
  });
  it('answers a stale resourceVersion with 409 Conflict', () => {
    assert.throws(
      () =>
        prepareUpdate(
          def('deployments'),
          live,
          { ...live, metadata: { ...live.metadata, resourceVersion: '4' } },
          { status: false, hasStatus: true },
        ),
      (e: unknown) => e instanceof ApiError && e.code === 409 && e.reason === 'Conflict',
    );
  });
});

describe('lab/apiserver RFC patches', () => {
  it('merge patch (RFC 7386)', () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] }), {
      a: 1,
      b: { d: 3, e: 4 },
      f: [1],
    });
  });
  it('json patch (RFC 6902) add/remove/replace/move/copy/test', () => {
    const out = jsonPatch({ a: [1, 2], b: { c: 1 } }, [
      { op: 'add', path: '/a/-', value: 3 },
      { op: 'remove', path: '/a/0' },
      { op: 'replace', path: '/b/c', value: 5 },
      { op: 'copy', from: '/b/c', path: '/x' },
      { op: 'move', from: '/x', path: '/y~1z' },
      { op: 'test', path: '/a', value: [2, 3] },
    ]);
    assert.deepEqual(out, { a: [2, 3], b: { c: 5 }, 'y/z': 5 });
  });
  it('json patch failures are 422', () => {
    assert.throws(
      () => jsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }]),
      (e: unknown) => e instanceof ApiError && e.code === 422,
    );
    assert.throws(
      () => jsonPatch({ a: 1 }, [{ op: 'remove', path: '/nope' }]),
      (e: unknown) => e instanceof ApiError && e.code === 422,
    );
  });
  it('json patch never reaches Object.prototype (422 for __proto__ and inherited names)', () => {
    const doc = { data: { a: 'x' } };
    for (const path of ['/__proto__/polluted', '/data/__proto__', '/constructor/prototype/polluted']) {
      const ops: Json[] = [
        { op: 'add', path, value: 'yes' },
        { op: 'replace', path, value: 'yes' },
        { op: 'copy', from: '/data/a', path },
      ];
      for (const op of ops) {
        assert.throws(
          () => jsonPatch(doc, [op]),
          (e: unknown) => e instanceof ApiError && e.code === 422,
          JSON.stringify(op),
        );
        assert.equal(({} as Record<string, unknown>)['polluted'], undefined, JSON.stringify(op));
      }
    }
    assert.throws(
      () => jsonPatch(doc, [{ op: 'test', path: '/data/toString', value: null }]),
      (e: unknown) => e instanceof ApiError && e.code === 422 && /missing path/.test(e.message),
    );
  });
  it('merge patch keeps a "__proto__" key as an ordinary key', () => {
    const out = mergePatch(
      { data: { a: '1' } },
      JSON.parse('{"data":{"__proto__":{"polluted":"yes"}}}') as Json,
    );
    const data = (out as { data: Record<string, unknown> }).data;
    assert.ok(Object.hasOwn(data, '__proto__'));
    assert.deepEqual(data['__proto__'], { polluted: 'yes' });
    assert.equal(Object.getPrototypeOf(data), Object.prototype);
    assert.equal(data['polluted'], undefined);
  });
});

describe('lab/apiserver ClusterIP allocation', () => {
  it('reserves .1, allocates lowest free, honours and rejects requests, releases', () => {
    const a = new ServiceIpAllocator('10.96.0.0/16');
    assert.equal(a.apiServerIp, '10.96.0.1');
    assert.equal(a.reserve('10.96.0.1'), true);
    assert.equal(a.allocate(), '10.96.0.2');
    assert.equal(a.reserve('10.96.0.2'), false);
    assert.equal(a.reserve('10.97.0.5'), false);
    assert.equal(a.reserve('10.96.0.3'), true);
    assert.equal(a.allocate(), '10.96.0.4');
    a.release('10.96.0.2');
    assert.equal(a.allocate(), '10.96.0.2');
  });
});

describe('lab/apiserver service-account JWTs', () => {
  const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const signer = new TokenSigner(pem, 'https://iss');
  const now = new Date('2025-01-01T00:00:00Z');
  const claim = {
    namespace: 'n',
    serviceaccount: { name: 'sa', uid: 'su' },
    pod: { name: 'p', uid: 'pu' },
    node: { name: 'node1', uid: 'nu' },
  };
  it('issues ES256 tokens that verify, with bound-token claims', () => {
    const { token } = signer.issue(claim, ['aud1'], 3600, now);
    const v = signer.verify(token, now);
    assert.ok('claims' in v);
    assert.equal(v.claims.sub, 'system:serviceaccount:n:sa');
    assert.equal(v.claims.exp - v.claims.iat, 3600);
    const user = serviceAccountUser(v.claims);
    assert.deepEqual(user.extra['authentication.kubernetes.io/pod-name'], ['p']);
    assert.deepEqual(user.extra['authentication.kubernetes.io/node-name'], ['node1']);
  });
  it('rejects expired, tampered and foreign tokens', () => {
    const { token } = signer.issue(claim, ['aud1'], 600, now);
    assert.deepEqual(signer.verify(token, new Date(now.getTime() + 601_000)), { error: 'token has expired' });
    const [h, b, s] = token.split('.');
    const body = JSON.parse(Buffer.from(b ?? '', 'base64url').toString()) as Record<string, unknown>;
    body['sub'] = 'system:serviceaccount:kube-system:admin';
    assert.deepEqual(
      signer.verify(`${h}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${s}`, now),
      { error: 'invalid signature' },
    );
    const other = new TokenSigner(
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
      'https://iss',
    );
    assert.deepEqual(other.verify(token, now), { error: 'invalid signature' });
  });
  it('refuses non-P-256 keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    assert.throws(() => new TokenSigner(rsa, 'x'), /EC P-256/);
  });
});
