// Container environment: the lab's standard variables, env values, fieldRef paths,
// ConfigMap and Secret references (optional or not), envFrom with prefixes, and the errors.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type {
  V1ConfigMap,
  V1Container,
  V1EnvVar,
  V1EnvFromSource,
  V1Pod,
  V1Secret,
} from '@kubernetes/client-node';

import { isMeshError } from '../../../../common/errors.ts';
import { containerEnv, type EnvSources } from '../../../../lab/kubelet/env.ts';

const POD: V1Pod = {
  metadata: {
    name: 'web-1',
    namespace: 'shop',
    uid: 'uid-123',
    labels: { app: 'web', 'app.kubernetes.io/version': 'v2' },
    annotations: { note: 'hello' },
  },
  spec: { nodeName: 'node-2', serviceAccountName: 'web-sa', containers: [] },
  status: { hostIP: '10.0.0.2' },
};

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function sources(configMaps: V1ConfigMap[] = [], secrets: V1Secret[] = []): EnvSources {
  return {
    configMap: (name) => Promise.resolve(configMaps.find((c) => c.metadata?.name === name)),
    secret: (name) => Promise.resolve(secrets.find((s) => s.metadata?.name === name)),
  };
}

const SETTINGS: V1ConfigMap = { metadata: { name: 'settings' }, data: { LEVEL: 'debug', MODE: 'fast' } };
const CREDS: V1Secret = { metadata: { name: 'creds' }, data: { user: b64('alice'), pass: b64('s3cr3t') } };
const TYPED: V1Secret = { metadata: { name: 'typed' }, stringData: { token: 'plain' } };

function c(env?: V1EnvVar[], envFrom?: V1EnvFromSource[]): V1Container {
  return {
    name: 'app',
    ...(env === undefined ? {} : { env }),
    ...(envFrom === undefined ? {} : { envFrom }),
  };
}

function run(container: V1Container, pod: V1Pod = POD): Promise<Record<string, string>> {
  return containerEnv(pod, container, '10.244.2.7', '10.0.0.2', sources([SETTINGS], [CREDS, TYPED]));
}

function field(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isMeshError(err, code), `expected MeshError ${code}, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

describe('lab/kubelet/env containerEnv', () => {
  it('sets the standard variables', async () => {
    const env = await run(c());
    assert.deepEqual(env, {
      PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      POD_NAME: 'web-1',
      POD_NAMESPACE: 'shop',
      NODE_NAME: 'node-2',
      POD_IP: '10.244.2.7',
      HOST_IP: '10.0.0.2',
      SERVICE_ACCOUNT: 'web-sa',
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT: '443',
    });
  });

  it('defaults the service account to "default"', async () => {
    const env = await run(c(), { metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [] } });
    assert.equal(env['SERVICE_ACCOUNT'], 'default');
    assert.equal(env['NODE_NAME'], '');
  });

  it('sets plain values, an unset value as empty, and lets env override standard variables', async () => {
    const env = await run(
      c([{ name: 'GREETING', value: 'hi' }, { name: 'EMPTY' }, { name: 'HOME', value: '/home/app' }]),
    );
    assert.equal(env['GREETING'], 'hi');
    assert.equal(env['EMPTY'], '');
    assert.equal(env['HOME'], '/home/app');
  });

  const fieldCases: { path: string; want: string }[] = [
    { path: 'metadata.name', want: 'web-1' },
    { path: 'metadata.namespace', want: 'shop' },
    { path: 'metadata.uid', want: 'uid-123' },
    { path: 'spec.nodeName', want: 'node-2' },
    { path: 'spec.serviceAccountName', want: 'web-sa' },
    { path: 'status.podIP', want: '10.244.2.7' },
    { path: 'status.podIPs', want: '10.244.2.7' },
    { path: 'status.hostIP', want: '10.0.0.2' },
    { path: "metadata.labels['app']", want: 'web' },
    { path: "metadata.labels['app.kubernetes.io/version']", want: 'v2' },
    { path: "metadata.labels['missing']", want: '' },
    { path: "metadata.annotations['note']", want: 'hello' },
  ];
  for (const f of fieldCases) {
    it(`fieldRef ${f.path}`, async () => {
      const env = await run(c([field('V', f.path)]));
      assert.equal(env['V'], f.want);
    });
  }

  it('refuses an unsupported fieldRef path', async () => {
    await rejectsWith(
      run(c([field('V', 'metadata.generation')])),
      'ENV_FIELD_UNSUPPORTED',
      /metadata\.generation/,
    );
  });

  it('reads configMapKeyRef and secretKeyRef (base64 data and stringData)', async () => {
    const env = await run(
      c([
        { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'settings', key: 'LEVEL' } } },
        { name: 'USER', valueFrom: { secretKeyRef: { name: 'creds', key: 'user' } } },
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'typed', key: 'token' } } },
      ]),
    );
    assert.equal(env['LEVEL'], 'debug');
    assert.equal(env['USER'], 'alice');
    assert.equal(env['TOKEN'], 'plain');
  });

  it('skips optional references that are missing', async () => {
    const env = await run(
      c([
        { name: 'A', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k', optional: true } } },
        { name: 'B', valueFrom: { configMapKeyRef: { name: 'settings', key: 'nope', optional: true } } },
        { name: 'C', valueFrom: { secretKeyRef: { name: 'nope', key: 'k', optional: true } } },
        { name: 'D', valueFrom: { secretKeyRef: { name: 'creds', key: 'nope', optional: true } } },
      ]),
    );
    for (const k of ['A', 'B', 'C', 'D']) assert.equal(Object.hasOwn(env, k), false, k);
  });

  const missing: { name: string; env?: V1EnvVar[]; envFrom?: V1EnvFromSource[]; message: RegExp }[] = [
    {
      name: 'a missing ConfigMap',
      env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k' } } }],
      message: /^key k of configmap "nope" not found for container app$/,
    },
    {
      name: 'a missing ConfigMap key',
      env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'settings', key: 'nope' } } }],
      message: /^key nope of configmap "settings" not found/,
    },
    {
      name: 'a missing Secret',
      env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } }],
      message: /^key k of secret "nope" not found/,
    },
    {
      name: 'a missing Secret key',
      env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'creds', key: 'nope', optional: false } } }],
      message: /^key nope of secret "creds" not found/,
    },
    {
      name: 'a missing envFrom ConfigMap',
      envFrom: [{ configMapRef: { name: 'nope' } }],
      message: /^configmap "nope" not found for container app$/,
    },
    {
      name: 'a missing envFrom Secret',
      envFrom: [{ secretRef: { name: 'nope' } }],
      message: /^secret "nope" not found for container app$/,
    },
  ];
  for (const m of missing) {
    it(`fails with CreateContainerConfigError on ${m.name}`, async () => {
      await rejectsWith(run(c(m.env, m.envFrom)), 'CreateContainerConfigError', m.message);
    });
  }

  it('refuses valueFrom sources the lab does not support', async () => {
    await rejectsWith(
      run(c([{ name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } }])),
      'CreateContainerConfigError',
      /^env CPU: only fieldRef, configMapKeyRef and secretKeyRef are supported/,
    );
  });

  it('imports whole ConfigMaps and Secrets with envFrom, with and without a prefix', async () => {
    const env = await run(
      c(undefined, [
        { configMapRef: { name: 'settings' } },
        { prefix: 'DB_', secretRef: { name: 'creds' } },
        { prefix: 'CFG_', configMapRef: { name: 'settings' } },
      ]),
    );
    assert.equal(env['LEVEL'], 'debug');
    assert.equal(env['MODE'], 'fast');
    assert.equal(env['DB_user'], 'alice');
    assert.equal(env['DB_pass'], 's3cr3t');
    assert.equal(env['CFG_LEVEL'], 'debug');
  });

  it('imports the stringData keys of a Secret with envFrom, as secretKeyRef reads them', async () => {
    // Regression: envFrom only listed `data` keys, so a Secret written with stringData was empty.
    const env = await run(c(undefined, [{ secretRef: { name: 'typed' } }]));
    assert.equal(env['token'], 'plain');
  });

  it('lets stringData win over data for the same key, as the API server merges them', async () => {
    const both: V1Secret = { metadata: { name: 'both' }, data: { k: b64('old') }, stringData: { k: 'new' } };
    const src = sources([], [both]);
    const env = await containerEnv(
      POD,
      c(
        [{ name: 'K', valueFrom: { secretKeyRef: { name: 'both', key: 'k' } } }],
        [{ secretRef: { name: 'both' } }],
      ),
      '10.244.2.7',
      '10.0.0.2',
      src,
    );
    assert.equal(env['K'], 'new');
    assert.equal(env['k'], 'new');
  });

  it('skips optional envFrom sources that are missing', async () => {
    const env = await run(
      c(undefined, [
        { configMapRef: { name: 'nope', optional: true } },
        { secretRef: { name: 'nope', optional: true } },
      ]),
    );
    assert.equal(env['POD_NAME'], 'web-1');
  });

  it('lets env win over envFrom for the same name', async () => {
    const env = await run(c([{ name: 'LEVEL', value: 'info' }], [{ configMapRef: { name: 'settings' } }]));
    assert.equal(env['LEVEL'], 'info');
  });
});
