/**
 * NodeAgent reconcile with in-memory effects: a fake config source, Pod API, identity manager
 * and proxy handler around the real CaptureManager (fake iptables executor and listeners), so
 * capture, release, annotation patches, adoption and NACKs are checked together.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { afterEach, describe, it } from 'mocha';
import type { TrustBundle } from '../../../certs/bundle.ts';
import { MeshError } from '../../../common/errors.ts';
import type { NodeSnapshot, Workload } from '../../../common/ir/index.ts';
import { Registry } from '../../../common/metrics/index.ts';
import { NodeAgent, type IdentityControl } from '../../../node-agent/agent.ts';
import type {
  CaptureInspection,
  CaptureTarget,
  RemoveOutcome,
} from '../../../node-agent/capture/iptables.ts';
import type { CaptureFds } from '../../../node-agent/capture/listeners.ts';
import {
  CaptureManager,
  REDIRECTION_ANNOTATION,
  type RulesExecutor,
} from '../../../node-agent/capture/manager.ts';
import type { IdentityStatus } from '../../../node-agent/identity/index.ts';
import { podAnnotator, type PodApi, type PodInfo } from '../../../node-agent/kube.ts';
import type { ApplySnapshot, ConfigSource } from '../../../node-agent/program/config-source.ts';

const TD = 'cluster.local';
const NODE = 'node-a';

function workload(name: string, over: Partial<Workload> = {}): Workload {
  return {
    uid: `uid-${name}`,
    name,
    namespace: 'shop',
    node: NODE,
    ips: [`10.250.1.${name.length + 10}`],
    serviceAccount: name,
    identity: `spiffe://${TD}/ns/shop/sa/${name}`,
    captured: true,
    labels: {},
    namedPorts: {},
    ...over,
  };
}

function snapshot(version: string, workloads: Workload[]): NodeSnapshot {
  return { kind: 'node', version, trustDomain: TD, node: NODE, workloads, services: [], policies: [] };
}

class FakeConfig implements ConfigSource {
  apply: ApplySnapshot | undefined;
  stopped = false;
  start(apply: ApplySnapshot): void {
    this.apply = apply;
  }
  async push(s: NodeSnapshot): Promise<void> {
    if (this.apply === undefined) throw new Error('not started');
    await this.apply(s);
  }
  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
  status(): Record<string, unknown> {
    return { source: 'fake' };
  }
}

class FakePods implements PodApi {
  readonly pods = new Map<string, PodInfo>();
  readonly patches: string[] = [];
  failGets = 0;
  add(w: Workload, annotations: Record<string, string> = {}): void {
    this.pods.set(`${w.namespace}/${w.name}`, {
      uid: w.uid,
      namespace: w.namespace,
      name: w.name,
      annotations,
      ips: w.ips,
    });
  }
  get(namespace: string, name: string): Promise<PodInfo | undefined> {
    if (this.failGets > 0) {
      this.failGets--;
      return Promise.reject(new MeshError('KUBE_API_ERROR', 'GET pod: no answer'));
    }
    return Promise.resolve(this.pods.get(`${namespace}/${name}`));
  }
  setRedirection(namespace: string, name: string, enabled: boolean): Promise<void> {
    this.patches.push(`${namespace}/${name}=${enabled ? 'enabled' : 'removed'}`);
    return Promise.resolve();
  }
}

class FakeIdentities implements IdentityControl {
  readonly held = new Set<string>();
  readonly events: string[] = [];
  stopped = false;
  prefetch(id: string): void {
    this.held.add(id);
    this.events.push(`prefetch ${id}`);
  }
  forget(id: string): void {
    this.held.delete(id);
    this.events.push(`forget ${id}`);
  }
  status(): IdentityStatus[] {
    return [];
  }
  bundle(): TrustBundle | undefined {
    return undefined;
  }
  stop(): void {
    this.stopped = true;
  }
}

class FakeIptables implements RulesExecutor {
  readonly installed = new Set<string>();
  readonly inspected: string[] = [];
  readonly removed: string[] = [];
  applied = 0;
  apply(t: CaptureTarget): Promise<void> {
    this.applied++;
    this.installed.add(t.pod);
    return Promise.resolve();
  }
  remove(t: CaptureTarget): Promise<RemoveOutcome> {
    this.removed.push(t.pod);
    return Promise.resolve(this.installed.delete(t.pod) ? 'removed' : 'absent');
  }
  inspect(t: CaptureTarget): Promise<CaptureInspection> {
    this.inspected.push(t.pod);
    const s = this.installed.has(t.pod) ? 'current' : 'absent';
    return Promise.resolve({ ipv4: s, ipv6: 'absent', present: s !== 'absent', current: s === 'current' });
  }
}

const until = async (what: string, check: () => boolean, ms = 2_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('NodeAgent reconcile', () => {
  const running: NodeAgent[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((a) => a.stop({ deadlineMs: 100 })));
  });

  function setup(opts: { ops?: boolean; iptables?: FakeIptables } = {}) {
    const config = new FakeConfig();
    const pods = new FakePods();
    const identities = new FakeIdentities();
    const iptables = opts.iptables ?? new FakeIptables();
    const served: string[] = [];
    const drained: number[] = [];
    const handler = {
      serve: (pod: { name: string }, _ns: string, fds: CaptureFds) => {
        served.push(pod.name);
        return Promise.resolve({
          close: () => {
            for (const fd of [fds.outbound, fds.inbound, fds.hbone]) closeSync(fd);
            return Promise.resolve();
          },
        });
      },
      drain: (o: { deadlineMs: number }) => {
        drained.push(o.deadlineMs);
        return Promise.resolve();
      },
    };
    const capture = new CaptureManager({
      handler,
      executor: iptables,
      findNetns: (pod) => Promise.resolve(`/fake/${pod.uid}`),
      openListener: () => openSync('/dev/null', 'r'),
      annotator: podAnnotator(pods),
    });
    const registry = new Registry();
    const agent = new NodeAgent({
      node: NODE,
      trustDomain: TD,
      config,
      capture,
      handler,
      identities,
      pods,
      registry,
      ops: opts.ops === true ? { adminPort: 0, metricsPort: 0, readyPort: 0 } : false,
      retry: { initialMs: 20, maxMs: 40 },
    });
    running.push(agent);
    return { agent, config, pods, identities, iptables, served, drained, capture, registry };
  }

  it('captures local captured workloads only, annotates them and prefetches their identities', async () => {
    const t = setup();
    const [a, b] = [workload('a'), workload('b')];
    const remote = workload('remote', { node: 'node-b' });
    const plain = workload('plain', { captured: false });
    for (const w of [a, b, plain]) t.pods.add(w);
    await t.agent.start();
    assert.equal(t.agent.readiness().ready, false);
    await t.config.push(snapshot('v1', [a, b, remote, plain]));
    await until('two captures', () => t.capture.captured().length === 2);
    assert.deepEqual(
      t.capture.captured().map((c) => c.pod),
      ['shop/a', 'shop/b'],
    );
    assert.deepEqual([...t.iptables.installed].sort(), ['shop/a', 'shop/b']);
    await until('annotations', () => t.pods.patches.length === 2);
    assert.deepEqual(t.pods.patches.sort(), ['shop/a=enabled', 'shop/b=enabled']);
    assert.deepEqual([...t.identities.held].sort(), [a.identity, b.identity]);
    assert.equal(t.agent.readiness().ready, true);
    assert.equal(t.agent.state().version, 'v1');
  });

  it('releases a pod that leaves the mesh, removes its annotation and forgets its identity', async () => {
    const t = setup();
    const [a, b] = [workload('a'), workload('b')];
    t.pods.add(a);
    t.pods.add(b);
    await t.agent.start();
    await t.config.push(snapshot('v1', [a, b]));
    await until('captured', () => t.capture.captured().length === 2);
    await t.config.push(snapshot('v2', [a, { ...b, captured: false }]));
    await until('released', () => t.capture.captured().length === 1);
    assert.deepEqual(t.iptables.removed, ['shop/b']);
    await until('annotation removed', () => t.pods.patches.includes('shop/b=removed'));
    assert.deepEqual(t.identities.events.slice(-1), [`forget ${b.identity}`]);
    await t.config.push(snapshot('v3', [a]));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(t.iptables.removed, ['shop/b'], 'a pod already released is not released again');
  });

  it('rejects an invalid snapshot (NACK) and keeps the last good state', async () => {
    const t = setup();
    const a = workload('a');
    t.pods.add(a);
    await t.agent.start();
    await t.config.push(snapshot('v1', [a]));
    await until('captured', () => t.capture.captured().length === 1);
    await assert.rejects(t.config.push(snapshot('v2', [a, a])), /NODE_SNAPSHOT_INVALID|appears twice/);
    await assert.rejects(t.config.push({ ...snapshot('v3', []), node: 'node-z' }), /node-z/);
    assert.equal(t.agent.state().version, 'v1');
    assert.equal(t.capture.captured().length, 1, 'captures untouched by a rejected snapshot');
    const text = t.registry.render();
    assert.match(text, /^waymesh_config_rejected_total\{version="v2"\} 1$/m);
    assert.match(text, /^waymesh_config_version_info\{version="v1"\} 1$/m);
  });

  it('adopts pods captured by a previous agent and releases leftovers that left the mesh', async () => {
    const iptables = new FakeIptables();
    iptables.installed.add('shop/a');
    iptables.installed.add('shop/old');
    const t = setup({ iptables });
    const a = workload('a');
    const old = workload('old', { captured: false });
    t.pods.add(a, { [REDIRECTION_ANNOTATION]: 'enabled' });
    t.pods.add(old, { [REDIRECTION_ANNOTATION]: 'enabled' });
    await t.agent.start();
    await t.config.push(snapshot('v1', [a, old]));
    await until('ready', () => t.agent.readiness().ready);
    assert.deepEqual(iptables.inspected, ['shop/a'], 'the wanted pod went through adoption');
    assert.deepEqual(iptables.removed, ['shop/old'], 'the leftover was released');
    assert.deepEqual(t.pods.patches, ['shop/old=removed'], 'the adopted pod keeps its annotation untouched');
    assert.deepEqual(
      t.capture.captured().map((c) => c.pod),
      ['shop/a'],
    );
  });

  it('retries a capture whose Pod read failed', async () => {
    const t = setup();
    const a = workload('a');
    t.pods.add(a);
    t.pods.failGets = 2;
    await t.agent.start();
    await t.config.push(snapshot('v1', [a]));
    await until('captured after retries', () => t.capture.captured().length === 1);
    assert.equal(t.pods.failGets, 0);
    assert.deepEqual(t.agent.configDump()['captureFailures'], {});
  });

  it('re-applies rules when a pod gets new addresses, and only then', async () => {
    const t = setup();
    const a = workload('a');
    t.pods.add(a);
    await t.agent.start();
    await t.config.push(snapshot('v1', [a]));
    await until('captured', () => t.iptables.applied === 1);
    await t.config.push(snapshot('v2', [a, workload('other', { node: 'node-b' })]));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(t.iptables.applied, 1, 'an unrelated change does not touch the pod');
    const moved = { ...a, ips: ['10.250.9.9'] };
    t.pods.add(moved);
    await t.config.push(snapshot('v3', [moved]));
    await until('rules applied again', () => t.iptables.applied === 2);
  });

  it('serves /ready, /metrics and /config_dump, and stop drains but keeps the rules', async () => {
    const t = setup({ ops: true });
    const a = workload('a');
    t.pods.add(a);
    await t.agent.start();
    const ops = t.agent.ops;
    assert.ok(ops !== undefined);
    assert.equal((await fetch(`${ops.ready.url}/ready`)).status, 503);
    await t.config.push(snapshot('v1', [a]));
    await until('captured', () => t.capture.captured().length === 1);
    assert.equal((await fetch(`${ops.ready.url}/ready`)).status, 200);
    assert.match(
      await (await fetch(`${ops.metrics.url}/metrics`)).text(),
      /waymesh_config_version_info\{version="v1"\} 1/,
    );
    const dump = (await (await fetch(`${ops.admin.url}/config_dump`)).json()) as Record<string, unknown>;
    assert.equal(dump['version'], 'v1');
    assert.deepEqual(
      (dump['captured'] as { pod: string }[]).map((c) => c.pod),
      ['shop/a'],
    );
    assert.equal((dump['workloads'] as unknown[]).length, 1);
    assert.ok(!JSON.stringify(dump).includes('PRIVATE KEY'));
    running.splice(running.indexOf(t.agent), 1);
    await t.agent.stop({ deadlineMs: 300 });
    assert.deepEqual(t.drained, [300]);
    assert.equal(t.config.stopped, true);
    assert.equal(t.identities.stopped, true);
    assert.deepEqual(t.iptables.removed, [], 'rules stay for the next agent');
    assert.deepEqual([...t.iptables.installed], ['shop/a']);
    await assert.rejects(fetch(`${ops.ready.url}/ready`));
  });
});
