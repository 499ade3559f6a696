/**
 * The waypoint program's pure parts and its process: settings from flags and environment,
 * snapshot compilation (acceptance rule, indexes), the upstream connector's identity rule, and
 * `waypoint/main.ts` started as a process from a snapshot file with a static identity.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { inMemoryRootCa, issueLocalIdentity } from '../../../certs/index.ts';
import { MeshError } from '../../../common/errors.ts';
import { HboneClient } from '../../../common/hbone/index.ts';
import type { WaypointSnapshot } from '../../../common/ir/snapshots.ts';
import { compileWaypointConfig, limitsOf } from '../../../waypoint/program/config.ts';
import { certFromPem } from '../../../waypoint/program/identity.ts';
import { parseWaypointSettings } from '../../../waypoint/program/options.ts';
import { HboneUpstream } from '../../../waypoint/upstream-hbone.ts';

const GW = { namespace: 'shop', name: 'waypoint' };
const ROUTE = { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop', name: 'r' };

function snapshot(o: Partial<WaypointSnapshot> = {}): WaypointSnapshot {
  const binding = {
    gateway: GW,
    addresses: ['10.96.0.2'],
    identity: 'spiffe://cluster.local/ns/shop/sa/waypoint',
  };
  return {
    kind: 'waypoint',
    version: 'v1',
    trustDomain: 'cluster.local',
    waypoint: GW,
    services: [
      {
        key: 'shop/a',
        namespace: 'shop',
        name: 'a',
        clusterIPs: ['10.96.0.10'],
        ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }],
        endpoints: [
          {
            workloadUid: 'u1',
            identity: 'spiffe://cluster.local/ns/shop/sa/a',
            ip: '10.1.0.5',
            node: 'n',
            ready: true,
            ports: { 80: 8080 },
          },
        ],
        waypoint: binding,
        source: { group: '', kind: 'Service', namespace: 'shop', name: 'a' },
      },
      {
        key: 'shop/b',
        namespace: 'shop',
        name: 'b',
        clusterIPs: ['10.96.0.11'],
        ports: [{ name: 'tcp', port: 5432, protocol: 'TCP', appProtocol: 'tcp' }],
        endpoints: [],
        source: { group: '', kind: 'Service', namespace: 'shop', name: 'b' },
      },
    ],
    routes: [
      {
        service: 'shop/a',
        port: 80,
        protocol: 'http',
        producer: [
          {
            id: 'httproute/shop/r/rule/0/match/0',
            route: ROUTE,
            rule: '0',
            match: { kind: 'http', headers: [], queryParams: [] },
            filters: [],
            backends: [{ kind: 'service', service: 'shop/a', port: 80, weight: 1, filters: [] }],
            timeouts: {},
          },
        ],
        consumers: {},
      },
    ],
    policies: [],
    rateLimits: [
      {
        id: 'ratelimitpolicy/shop/rl/limit/0',
        source: { group: 'waymesh.io', kind: 'RateLimitPolicy', namespace: 'shop', name: 'rl' },
        target: { kind: 'route', route: ROUTE },
        requests: 1,
        periodSeconds: 1,
        key: { type: 'source' },
      },
    ],
    ...o,
  };
}

describe('waypoint program: settings', () => {
  const env = {
    WAYMESH_GATEWAY: 'shop/waypoint',
    POD_NAMESPACE: 'shop',
    SERVICE_ACCOUNT: 'waypoint',
    WAYMESH_CA_ROOT: '-----BEGIN CERTIFICATE-----x',
  };

  it('reads the pod environment the controller sets, with the documented defaults', () => {
    const s = parseWaypointSettings(['--controller', 'ctl:15012'], env);
    assert.deepEqual(s.gateway, GW);
    assert.equal(s.spiffeId, 'spiffe://cluster.local/ns/shop/sa/waypoint');
    assert.equal(s.controller, 'ctl:15012');
    assert.deepEqual(s.hbone, { host: '0.0.0.0', port: 15008 });
    assert.equal(s.adminPort, 15000);
    assert.equal(s.metricsPort, 15020);
    assert.equal(s.readyPort, 15021);
    assert.equal(s.redis, undefined);
    assert.equal(s.traceSampling, 1);
    assert.equal(s.rateLimitFailureMode, 'open');
  });

  it('takes the rate-limit failure mode from the flag, else the environment the controller sets', () => {
    const fromEnv = { ...env, WAYMESH_RATELIMIT_FAILURE_MODE: 'closed' };
    assert.equal(parseWaypointSettings([], fromEnv).rateLimitFailureMode, 'closed');
    assert.equal(
      parseWaypointSettings(['--ratelimit-failure-mode', 'open'], fromEnv).rateLimitFailureMode,
      'open',
    );
    assert.throws(
      () => parseWaypointSettings([], { ...env, WAYMESH_RATELIMIT_FAILURE_MODE: 'shut' }),
      /WAYMESH_RATELIMIT_FAILURE_MODE\) must be open or closed, got "shut"/,
    );
  });

  it('takes Redis and OTLP from flags or environment', () => {
    const s = parseWaypointSettings(['--redis', '127.0.0.1:6379', '--otlp-protocol', 'http/protobuf'], {
      ...env,
      WAYMESH_OTLP_ENDPOINT: 'http://sink:4318',
    });
    assert.deepEqual(s.redis, { host: '127.0.0.1', port: 6379 });
    assert.equal(s.otlpEndpoint, 'http://sink:4318');
    assert.equal(s.otlpProtocol, 'http/protobuf');
  });

  it('takes the path normalization from the flag, else the environment the controller sets', () => {
    assert.equal(parseWaypointSettings([], env).pathNormalization, 'base');
    const fromEnv = { ...env, WAYMESH_PATH_NORMALIZATION: 'merge-slashes' };
    assert.equal(parseWaypointSettings([], fromEnv).pathNormalization, 'merge-slashes');
    assert.equal(
      parseWaypointSettings(['--path-normalization', 'decode-and-merge-slashes'], fromEnv).pathNormalization,
      'decode-and-merge-slashes',
    );
    assert.throws(
      () => parseWaypointSettings(['--path-normalization', 'MERGE_SLASHES'], env),
      /WAYMESH_PATH_NORMALIZATION\) must be one of base, merge-slashes, decode-and-merge-slashes, got "MERGE_SLASHES"/,
    );
  });

  it('takes Redis TLS and its CA from the environment, and refuses settings that would go unused', () => {
    const tls = { ...env, WAYMESH_REDIS_ADDRESS: 'redis:6380', WAYMESH_REDIS_TLS: 'true' };
    assert.deepEqual(parseWaypointSettings([], tls).redis, { host: 'redis', port: 6380, tls: {} });
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    assert.deepEqual(parseWaypointSettings([], { ...tls, WAYMESH_REDIS_CA: ca }).redis?.tls, { ca });
    assert.equal(parseWaypointSettings([], { ...tls, WAYMESH_REDIS_TLS: 'false' }).redis?.tls, undefined);
    const refused: Array<[NodeJS.ProcessEnv, RegExp]> = [
      [{ ...tls, WAYMESH_REDIS_TLS: 'yes' }, /WAYMESH_REDIS_TLS must be true or false, got "yes"/],
      [{ ...tls, WAYMESH_REDIS_TLS: 'false', WAYMESH_REDIS_CA: ca }, /WAYMESH_REDIS_CA is set but/],
      [{ ...env, WAYMESH_REDIS_TLS: 'true' }, /WAYMESH_REDIS_TLS is set but no Redis is configured/],
    ];
    for (const [e, message] of refused) assert.throws(() => parseWaypointSettings([], e), message);
  });

  it('takes the Redis AUTH credentials from the environment only', () => {
    const auth = { ...env, WAYMESH_REDIS_ADDRESS: 'redis:6379', WAYMESH_REDIS_PASSWORD: 's3cret' };
    assert.deepEqual(parseWaypointSettings([], auth).redis, {
      host: 'redis',
      port: 6379,
      password: 's3cret',
    });
    assert.deepEqual(parseWaypointSettings([], { ...auth, WAYMESH_REDIS_USERNAME: 'waypoints' }).redis, {
      host: 'redis',
      port: 6379,
      username: 'waypoints',
      password: 's3cret',
    });
    // Empty values, as an optional Secret key the kubelet found empty gives, mean unset.
    assert.deepEqual(parseWaypointSettings([], { ...auth, WAYMESH_REDIS_USERNAME: '' }).redis, {
      host: 'redis',
      port: 6379,
      password: 's3cret',
    });
    assert.throws(() => parseWaypointSettings(['--redis-password', 'x'], env), /redis-password/);
    // What a Secret's content gets wrong reaches the rate limiter, which warns: refusing it here
    // would take the whole waypoint down (see the auth-tls integration test).
    assert.deepEqual(
      parseWaypointSettings(['--redis', 'redis:6379'], { ...env, WAYMESH_REDIS_USERNAME: 'waypoints' }).redis,
      { host: 'redis', port: 6379, username: 'waypoints' },
    );
    assert.deepEqual(
      parseWaypointSettings([], { ...auth, WAYMESH_REDIS_TLS: 'true', WAYMESH_REDIS_CA: 'x' }).redis,
      {
        host: 'redis',
        port: 6379,
        password: 's3cret',
        tls: { ca: 'x' },
      },
    );
    assert.throws(
      () => parseWaypointSettings([], { ...env, WAYMESH_REDIS_PASSWORD: 's3cret' }),
      /WAYMESH_REDIS_PASSWORD is set but no Redis is configured/,
    );
  });

  it('refuses bad or missing settings with WAYPOINT_CONFIG', () => {
    const bad: Array<[string[], NodeJS.ProcessEnv]> = [
      [[], { ...env, WAYMESH_GATEWAY: 'no-slash' }],
      [[], { ...env, SERVICE_ACCOUNT: '' }],
      [[], { ...env, WAYMESH_CA_ROOT: '' }],
      [['--ratelimit-failure-mode', 'maybe'], env],
      [['--trace-sampling', '2'], env],
      [['--cert-file', 'a'], env],
      [['--bogus'], env],
    ];
    for (const [argv, e] of bad) {
      assert.throws(
        () => parseWaypointSettings(argv, e),
        (err: unknown) => err instanceof MeshError && err.code === 'WAYPOINT_CONFIG',
        argv.join(' '),
      );
    }
  });
});

describe('waypoint program: snapshot compilation', () => {
  it('rejects a snapshot for another waypoint or trust domain', () => {
    assert.throws(
      () => compileWaypointConfig(snapshot({ waypoint: { namespace: 'x', name: 'y' } }), GW, 'cluster.local'),
      /SNAPSHOT_WRONG_WAYPOINT|is for waypoint x\/y/,
    );
    assert.throws(() => compileWaypointConfig(snapshot(), GW, 'other.td'), /trust domain/);
  });

  it('indexes targets with their binding, endpoint identities and route-targeted limits', () => {
    const c = compileWaypointConfig(snapshot(), GW, 'cluster.local');
    assert.equal(c.targets.get('10.96.0.10:80')?.bound, true);
    assert.equal(c.targets.get('10.96.0.11:5432')?.bound, false);
    assert.equal(c.targets.get('10.96.0.10:81'), undefined);
    assert.equal(c.endpointIdentities.get('10.1.0.5'), 'spiffe://cluster.local/ns/shop/sa/a');
    const limits = limitsOf(c, 'shop/a');
    assert.equal(limits.service.length, 0);
    assert.equal(limits.routes.get('httproute/shop/r')?.length, 1);
    assert.equal(limitsOf(c, 'shop/b').routes.size, 0);
  });

  it('keeps a snapshot whose route entries do not compile, listing what it dropped', () => {
    const s = snapshot();
    const table = s.routes[0]!;
    const badEntry = {
      ...table.producer[0]!,
      id: 'httproute/shop/r/rule/1/match/0',
      match: {
        kind: 'http' as const,
        path: { type: 'RegularExpression' as const, value: '(' },
        headers: [],
        queryParams: [],
      },
    };
    const c = compileWaypointConfig(
      { ...s, routes: [{ ...table, producer: [...table.producer, badEntry] }] },
      GW,
      'cluster.local',
    );
    assert.equal(c.dropped.length, 1);
    assert.match(c.dropped[0]!, /httproute\/shop\/r\/rule\/1\/match\/0/);
  });
});

describe('waypoint program: certificates', () => {
  it('refuses an issued certificate that does not match its private key', () => {
    const ca = inMemoryRootCa('cluster.local');
    const id = 'spiffe://cluster.local/ns/shop/sa/waypoint';
    const one = issueLocalIdentity(ca, id);
    const other = issueLocalIdentity(ca, id);
    assert.equal(certFromPem(id, one.keyPem, one.certChainPem, one.bundle).spiffeId, id);
    assert.throws(
      () => certFromPem(id, other.keyPem, one.certChainPem, one.bundle),
      (err: unknown) => err instanceof MeshError && err.code === 'WAYPOINT_CERT_KEY_MISMATCH',
    );
  });
});

describe('waypoint program: upstream connector', () => {
  it('refuses endpoints without a workload identity before connecting', async () => {
    const ca = inMemoryRootCa('cluster.local');
    const id = issueLocalIdentity(ca, 'spiffe://cluster.local/ns/shop/sa/waypoint');
    const client = new HboneClient();
    const upstream = new HboneUpstream({
      client,
      tls: () => ({
        material: { key: id.keyPem, cert: id.certChainPem.join(''), ca: id.bundle.toPem(), identityKey: 'k' },
        bundle: id.bundle,
      }),
      identityOf: () => undefined,
    });
    const ep = { ip: '127.0.0.1', port: 1, workloadUid: 'u', service: 'shop/a' as const, servicePort: 80 };
    await assert.rejects(
      upstream.connect(ep, new AbortController().signal),
      (err: unknown) => err instanceof MeshError && err.code === 'UPSTREAM_IDENTITY_UNKNOWN',
    );
    assert.equal(client.stats().sessions, 0);
    await client.close();
  });
});

describe('waypoint program: the process', function () {
  this.timeout(30_000);
  let dir: string;
  let child: ChildProcess | undefined;

  after(() => {
    child?.kill('SIGKILL');
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('starts from a snapshot file with a static identity, becomes ready, drains on SIGTERM', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wmt-waypoint-main-'));
    const ca = inMemoryRootCa('cluster.local');
    const id = issueLocalIdentity(ca, 'spiffe://cluster.local/ns/shop/sa/waypoint');
    writeFileSync(join(dir, 'cert.pem'), id.certChainPem.join(''));
    writeFileSync(join(dir, 'key.pem'), id.keyPem);
    writeFileSync(join(dir, 'ca.pem'), id.bundle.toPem());
    writeFileSync(join(dir, 'snapshot.json'), JSON.stringify(snapshot()));
    const args = ['--import', 'tsx', 'waypoint/main.ts', '--config-file', join(dir, 'snapshot.json')];
    for (const f of ['cert', 'key', 'ca']) args.push(`--${f}-file`, join(dir, `${f}.pem`));
    args.push(
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--admin-port',
      '0',
      '--metrics-port',
      '0',
      '--ready-port',
      '0',
    );
    child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        WAYMESH_GATEWAY: 'shop/waypoint',
        POD_NAMESPACE: 'shop',
        SERVICE_ACCOUNT: 'waypoint',
        WAYMESH_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = child;
    let out = '';
    proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    const readyPort = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no readiness listener in time:\n${out}`)), 20_000);
      const check = (): void => {
        const line = out.split('\n').find((l) => l.includes('"paths":["/ready","/healthz"]'));
        const port = line === undefined ? undefined : (JSON.parse(line) as { port: number }).port;
        if (port !== undefined) {
          clearTimeout(timer);
          resolve(port);
        } else setTimeout(check, 50);
      };
      check();
    });
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await fetch(`http://127.0.0.1:${readyPort}/ready`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 200, out);
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    child = undefined;
  });
});
