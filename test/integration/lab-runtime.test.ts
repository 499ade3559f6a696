/**
 * Containers as host processes and the kubelet's probes, in a test network namespace: env,
 * hostname, service account files at the usual path, working directory, logs and exit codes;
 * stop with a grace period (SIGTERM trapped, or ignored so SIGKILL follows); adoption by a new
 * runtime on the same state directory; HTTP/TCP/exec probes with their failures and timeouts.
 * Network: loopback of a test namespace only. Needs root; never skipped.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'mocha';
import { isMeshError } from '../../common/errors.ts';
import { ContainerRuntime, type ContainerSpec, type RunningContainer } from '../../lab/runtime/container.ts';
import type { Probe, ProbeResult } from '../../lab/runtime/probes.ts';
import { assertRoot, useNetnsLab, type TestNetns } from '../helpers/netns.ts';

const execFileAsync = promisify(execFile);
const NODE = process.execPath;

describe('lab runtime (integration, root)', function () {
  this.timeout(30_000);
  const lab = useNetnsLab();
  const dir = mkdtempSync(join(tmpdir(), 'wm-runtime-'));
  const logDir = join(dir, 'logs');
  const stateDir = join(dir, 'state');
  const saDir = join(dir, 'sa');
  const workDir = join(dir, 'work');
  const started = new Set<RunningContainer>();
  let ns: TestNetns;
  let runtime: ContainerRuntime;

  const spec = (name: string, script: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
    podUid: '0b1c2d3e-0000-4000-8000-000000000001',
    podNamespace: 'default',
    podName: 'pod-a',
    containerName: name,
    netns: ns.name,
    command: ['/bin/sh', '-c', script],
    env: {},
    hostname: 'pod-a',
    ...extra,
  });
  const start = async (s: ContainerSpec, rt = runtime): Promise<RunningContainer> => {
    const c = await rt.start(s);
    started.add(c);
    return c;
  };

  before(async () => {
    assertRoot();
    ns = await lab.createNetns();
    mkdirSync(saDir, { recursive: true });
    mkdirSync(workDir, { recursive: true });
    writeFileSync(join(saDir, 'token'), 'tok-123');
    runtime = new ContainerRuntime({ logDir, stateDir });
    // Containers lead their own process groups; kill them even if the run is aborted.
    process.once('exit', () => {
      for (const c of started) {
        try {
          process.kill(-c.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    });
  });

  after(async () => {
    try {
      await Promise.all([...started].map((c) => c.stop(0)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs a container with env, hostname, SA files, working dir and netns, logging its output', async () => {
    const evil = 'a b;$(touch /tmp/wm-pwned)`id`';
    const c = await start(
      spec(
        'main',
        'echo "foo=$FOO"; hostname; cat /var/run/secrets/kubernetes.io/serviceaccount/token; echo; ' +
          'echo "sa=$WAYMESH_SA_DIR"; pwd; readlink /proc/self/ns/net; echo err >&2; exit 3',
        { env: { FOO: evil }, workingDir: workDir, files: { serviceAccountDir: saDir } },
      ),
    );
    const exit = await c.exited;
    assert.equal(exit.exitCode, 3);
    assert.equal(c.logFile, join(logDir, 'default_pod-a_main.log'));
    const lines = readFileSync(c.logFile, 'utf8').trim().split('\n');
    assert.deepEqual(lines, [
      `foo=${evil}`,
      'pod-a',
      'tok-123',
      `sa=${saDir}`,
      workDir,
      `net:[${statSync(`/var/run/netns/${ns.name}`).ino}]`,
      'err',
    ]);
    assert.notEqual(hostname(), 'pod-a', 'the host hostname changed');
    assert.throws(() => statSync('/tmp/wm-pwned'));
  });

  it('reports exit codes and refuses invalid specs', async () => {
    assert.equal((await (await start(spec('ok', 'exit 0'))).exited).exitCode, 0);
    await assert.rejects(start(spec('rel', '', { command: ['sh', '-c', 'true'] })), (e: unknown) =>
      isMeshError(e, 'CONTAINER_SPEC_INVALID'),
    );
    await assert.rejects(start(spec('wd', 'true', { workingDir: join(dir, 'missing') })), (e: unknown) =>
      isMeshError(e, 'CONTAINER_SPEC_INVALID'),
    );
    await assert.rejects(start(spec('ev', 'true', { env: { 'A=B': 'x' } })), (e: unknown) =>
      isMeshError(e, 'CONTAINER_SPEC_INVALID'),
    );
  });

  it('stops a container that traps SIGTERM within the grace period', async () => {
    const c = await start(
      spec('trap', `trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.1; done`),
    );
    await waitForLog(c.logFile, 'ready');
    const t = Date.now();
    await c.stop(10);
    assert.ok(Date.now() - t < 3000, `stop took ${Date.now() - t} ms`);
    assert.equal((await c.exited).exitCode, 0);
    assert.match(readFileSync(c.logFile, 'utf8'), /got-term/);
  });

  it('kills a container that ignores SIGTERM once the grace period is over', async () => {
    const c = await start(spec('stubborn', `trap '' TERM; echo ready; while :; do sleep 0.1; done`));
    await waitForLog(c.logFile, 'ready');
    const t = Date.now();
    await c.stop(1);
    const took = Date.now() - t;
    assert.ok(took >= 950 && took < 4000, `stop took ${took} ms`);
    assert.equal((await c.exited).signal, 'SIGKILL');
  });

  it('adopts running containers from the state dir, never a reused pid', async () => {
    const c = await start(spec('long', 'exec /bin/sleep 30'));
    writeFileSync(
      join(stateDir, 'stale_gone.json'),
      JSON.stringify({
        ...JSON.parse('{}'),
        pid: process.pid,
        startTime: '1',
        startedAt: new Date().toISOString(),
        logFile: 'x',
        podUid: 'u',
        podNamespace: 'n',
        podName: 'p',
        containerName: 'gone',
      }),
    );
    const restarted = new ContainerRuntime({ logDir, stateDir });
    const adopted = await restarted.adopt();
    assert.deepEqual(
      adopted.map((a) => [a.containerName, a.pid]),
      [['long', c.pid]],
    );
    assert.throws(() => statSync(join(stateDir, 'stale_gone.json')), 'stale pid file kept');
    const first = adopted[0]!;
    started.add(first);
    await first.stop(5);
    assert.deepEqual([(await first.exited).exitCode, (await first.exited).signal], [null, null]);
    assert.equal((await c.exited).signal, 'SIGTERM');
    assert.deepEqual(await new ContainerRuntime({ logDir, stateDir }).adopt(), []);
  });

  describe('probes', () => {
    let server: ChildProcess;
    // 8081: /ok 200, /redirect 302, /fail 500, /hdr 200 only with X-Probe: yes, /slow never answers. 8082 is closed.
    const SERVER = `const http=require('http');http.createServer((q,s)=>{if(q.url==='/slow')return;if(q.url==='/hdr'){s.writeHead(q.headers['x-probe']==='yes'?200:500);return s.end()}
s.writeHead(q.url==='/ok'?200:q.url==='/redirect'?302:500);s.end(q.url==='/fail'?'broken':'fine')})
.listen(8081,'127.0.0.1',()=>console.log('ready'));`;
    const RUNNER = `const [cases,mod,netns]=process.argv.slice(1);import(mod).then(async m=>{const out=[];
for(const c of JSON.parse(cases)){const t=Date.now();const r=await m.runProbe(c,{podIp:'127.0.0.1',netns});out.push({...r,ms:Date.now()-t})}
console.log(JSON.stringify(out))});`;

    before(async () => {
      server = lab.spawn(ns, NODE, ['-e', SERVER]);
      await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
    });

    /** Runs `probes` from inside the test namespace (where the kubelet would run them). */
    async function probeAll(probes: Probe[]): Promise<(ProbeResult & { ms: number })[]> {
      const mod = pathToFileURL(join(import.meta.dirname, '../../lab/runtime/probes.ts')).href;
      const { stdout } = await execFileAsync(
        'ip',
        [
          'netns',
          'exec',
          ns.name,
          NODE,
          '--import',
          'tsx',
          '-e',
          RUNNER,
          JSON.stringify(probes),
          mod,
          ns.name,
        ],
        { cwd: join(import.meta.dirname, '../..'), timeout: 20_000 },
      );
      return JSON.parse(stdout) as (ProbeResult & { ms: number })[];
    }

    it('HTTP 200/302 pass, 500/refused/timeout fail; TCP open/closed; exec ok/fail/timeout', async () => {
      const results = await probeAll([
        { httpGet: { path: '/ok', port: 8081 } },
        { httpGet: { path: '/redirect', port: 8081 } },
        { httpGet: { path: '/fail', port: 8081 } },
        { httpGet: { path: '/ok', port: 8082 } },
        { httpGet: { path: '/slow', port: 8081 }, timeoutSeconds: 1 },
        { tcpSocket: { port: 8081 } },
        { tcpSocket: { port: 8082 } },
        { exec: { command: ['/bin/sh', '-c', 'exit 0'] } },
        { exec: { command: ['/bin/sh', '-c', 'echo nope; exit 2'] } },
        { exec: { command: ['/bin/sleep', '5'] }, timeoutSeconds: 1 },
        {},
      ]);
      assert.deepEqual(
        results.map((r) => r.ok),
        [true, true, false, false, false, true, false, true, false, false, false],
        JSON.stringify(results, null, 1),
      );
      const [, , fail, refused, slow, , closed, , execFail, execSlow, none] = results;
      assert.match(fail!.message, /500 broken/);
      assert.match(refused!.message, /ECONNREFUSED/);
      assert.match(slow!.message, /timed out/);
      assert.ok(slow!.ms >= 950 && slow!.ms < 2500, `HTTP timeout took ${slow!.ms} ms`);
      assert.match(closed!.message, /ECONNREFUSED/);
      assert.match(execFail!.message, /exited with 2: nope/);
      assert.match(execSlow!.message, /timed out/);
      assert.ok(execSlow!.ms < 2500, `exec timeout took ${execSlow!.ms} ms`);
      assert.match(none!.message, /exactly one/);
    });

    it('sends the probe headers', async () => {
      const results = await probeAll([
        { httpGet: { path: '/hdr', port: 8081, httpHeaders: [{ name: 'X-Probe', value: 'yes' }] } },
        { httpGet: { path: '/hdr', port: 8081 } },
      ]);
      assert.deepEqual(
        results.map((r) => r.ok),
        [true, false],
      );
    });
  });
});

async function waitForLog(file: string, text: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if (readFileSync(file, 'utf8').includes(text)) return;
    } catch {
      // Not written yet.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${file} never showed ${text}`);
}
