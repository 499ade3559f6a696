/** CaptureManager with in-memory executor, listeners, netns lookup and annotator. */
import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { MeshError, isMeshError } from '../../../common/errors.ts';
import type {
  CaptureInspection,
  CaptureTarget,
  RemoveOutcome,
} from '../../../node-agent/capture/iptables.ts';
import type { CaptureFds, CapturePod, PodListeners } from '../../../node-agent/capture/listeners.ts';
import {
  CaptureManager,
  REDIRECTION_ANNOTATION,
  type RulesExecutor,
} from '../../../node-agent/capture/manager.ts';
import type { CaptureRuleSet } from '../../../node-agent/capture/rules.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

class Fakes implements RulesExecutor {
  readonly events: string[] = [];
  readonly installed = new Map<string, CaptureRuleSet>();
  readonly fds = new Set<number>();
  failApply = new Set<string>();
  gone = new Set<string>();
  failListenPort: number | undefined;
  delayMs = 0;
  inspectState = new Map<string, 'current' | 'stale'>();
  listens: { nsPath: string; host: string; port: number }[] = [];
  served: CaptureFds[] = [];

  async apply(t: CaptureTarget, rules: CaptureRuleSet): Promise<void> {
    this.events.push(`apply-start ${t.pod}`);
    await tick(this.delayMs);
    if (this.failApply.has(t.pod)) throw new MeshError('CAPTURE_IPTABLES_FAILED', `pod ${t.pod}: boom`);
    this.installed.set(t.nsPath, rules);
    this.events.push(`apply-end ${t.pod}`);
  }
  async remove(t: CaptureTarget): Promise<RemoveOutcome> {
    this.events.push(`remove-start ${t.pod}`);
    await tick(this.delayMs);
    this.events.push(`remove-end ${t.pod}`);
    if (this.gone.has(t.nsPath)) return 'gone';
    return this.installed.delete(t.nsPath) ? 'removed' : 'absent';
  }
  inspect(t: CaptureTarget): Promise<CaptureInspection> {
    const s = this.inspectState.get(t.nsPath) ?? 'absent';
    return Promise.resolve({ ipv4: s, ipv6: 'absent', present: s !== 'absent', current: s === 'current' });
  }

  manager(): CaptureManager {
    return new CaptureManager({
      executor: this,
      findNetns: (pod) =>
        pod.name === 'ghost'
          ? Promise.reject(new MeshError('NETNS_NOT_FOUND', `no netns for ${pod.name}`))
          : Promise.resolve(`/fake/${pod.uid}`),
      openListener: (nsPath, host, port) => {
        if (port === this.failListenPort)
          throw Object.assign(new Error('bind EADDRINUSE'), {
            code: 'EADDRINUSE',
            errno: -98,
            syscall: 'bind',
          });
        const fd = openSync('/dev/null', 'r');
        this.fds.add(fd);
        this.listens.push({ nsPath, host, port });
        return fd;
      },
      handler: {
        serve: (pod: CapturePod, _ns: string, fds: CaptureFds): Promise<PodListeners> => {
          this.served.push(fds);
          this.events.push(`serve ${pod.namespace}/${pod.name}`);
          return Promise.resolve({
            close: () => {
              for (const fd of [fds.outbound, fds.inbound, fds.hbone]) {
                closeSync(fd);
                this.fds.delete(fd);
              }
              this.events.push(`close ${pod.namespace}/${pod.name}`);
              return Promise.resolve();
            },
          });
        },
      },
      annotator: {
        enabled: (pod) => {
          this.events.push(`annotate ${pod.name}`);
          return Promise.resolve();
        },
        disabled: (pod) => {
          this.events.push(`unannotate ${pod.name}`);
          return Promise.resolve();
        },
      },
    });
  }
}

const pod = (name: string, extra: Partial<CapturePod> = {}): CapturePod => ({
  uid: `uid-${name}`,
  namespace: 'shop',
  name,
  ips: ['10.244.1.5'],
  ...extra,
});

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

describe('node-agent/capture CaptureManager', () => {
  let f: Fakes;
  let m: CaptureManager;
  beforeEach(() => {
    f = new Fakes();
    m = f.manager();
  });
  afterEach(async () => {
    await m.stop({ deadlineMs: 1000 });
    assert.equal(f.fds.size, 0, 'every fd was closed');
  });

  it('capture opens 15001/15006/15008 first, then installs the rules, then annotates', async () => {
    await m.capture(pod('a'));
    assert.deepEqual(f.events, ['serve shop/a', 'apply-start shop/a', 'apply-end shop/a', 'annotate a']);
    assert.deepEqual(
      f.listens.map((l) => `${l.nsPath} ${l.host}:${l.port}`),
      ['/fake/uid-a 0.0.0.0:15001', '/fake/uid-a 0.0.0.0:15006', '/fake/uid-a 0.0.0.0:15008'],
    );
    assert.deepEqual(m.captured(), [{ uid: 'uid-a', pod: 'shop/a', nsPath: '/fake/uid-a' }]);
  });

  it('a dual-stack pod gets dual-stack listeners', async () => {
    await m.capture(pod('d', { ips: ['10.244.1.5', 'fd00::5'] }));
    assert.ok(f.listens.every((l) => l.host === '::'));
    assert.ok(f.installed.get('/fake/uid-d')?.ipv6 !== undefined);
  });

  it('re-capturing re-applies rules only; an annotated pod is not annotated again', async () => {
    await m.capture(pod('a'));
    await m.capture(
      pod('a', {
        annotations: { [REDIRECTION_ANNOTATION]: 'enabled', 'waymesh.io/exclude-inbound-ports': '9090' },
      }),
    );
    assert.equal(f.served.length, 1);
    assert.equal(f.events.filter((e) => e === 'annotate a').length, 1);
    assert.match(f.installed.get('/fake/uid-a')?.ipv4 ?? '', /--dport 9090/);
  });

  it('a failed rule install closes the listeners and does not affect another pod', async () => {
    f.failApply.add('shop/bad');
    const [bad, good] = await Promise.allSettled([m.capture(pod('bad')), m.capture(pod('good'))]);
    assert.equal(bad.status, 'rejected');
    assert.ok(bad.status === 'rejected' && isMeshError(bad.reason, 'CAPTURE_IPTABLES_FAILED'));
    assert.equal(good.status, 'fulfilled');
    assert.ok(f.events.includes('close shop/bad'));
    assert.deepEqual(
      m.captured().map((c) => c.pod),
      ['shop/good'],
    );
  });

  it('a port the app already uses fails with CAPTURE_LISTEN_FAILED, closing what was opened, no rules', async () => {
    f.failListenPort = 15006;
    await assert.rejects(m.capture(pod('a')), (err: unknown) => {
      assert.ok(isMeshError(err, 'CAPTURE_LISTEN_FAILED'));
      assert.match(err.message, /shop\/a.*15006/);
      assert.match(err.hint, /already uses port 15006/);
      return true;
    });
    assert.equal(f.listens.length, 1);
    assert.equal(isOpen([...f.fds][0] ?? -1), false);
    f.fds.clear();
    assert.equal(f.installed.size, 0);
  });

  it('a bad annotation is refused before anything is opened', async () => {
    const p = pod('a', { annotations: { 'waymesh.io/exclude-outbound-ports': 'http' } });
    await assert.rejects(m.capture(p), (err: unknown) => isMeshError(err, 'CAPTURE_BAD_ANNOTATION'));
    assert.equal(f.listens.length, 0);
  });

  it('release removes the rules, then closes the listeners, then removes the annotation', async () => {
    await m.capture(pod('a'));
    f.events.length = 0;
    assert.equal(await m.release('uid-a'), true);
    assert.deepEqual(f.events, ['remove-start shop/a', 'remove-end shop/a', 'close shop/a', 'unannotate a']);
    assert.equal(await m.release('uid-a'), false);
    assert.deepEqual(m.captured(), []);
  });

  it('release of a pod whose namespace is gone closes its listeners and skips the annotation', async () => {
    await m.capture(pod('a'));
    f.gone.add('/fake/uid-a');
    f.events.length = 0;
    assert.equal(await m.release('uid-a'), true);
    assert.ok(f.events.includes('close shop/a'));
    assert.ok(!f.events.includes('unannotate a'));
  });

  it('release of a pod captured by a previous agent removes its rules when given the pod', async () => {
    f.installed.set('/fake/uid-old', { ipv4: 'x' });
    assert.equal(await m.release('uid-old', pod('old')), true);
    assert.equal(f.installed.size, 0);
  });

  it('serialises operations on one pod, and runs different pods concurrently', async () => {
    f.delayMs = 20;
    const ops = [m.capture(pod('a')), m.release('uid-a'), m.capture(pod('b'))];
    await Promise.all(ops);
    const a = f.events.filter((e) => e.endsWith(' shop/a') || e.endsWith(' a'));
    assert.deepEqual(a, [
      'serve shop/a',
      'apply-start shop/a',
      'apply-end shop/a',
      'annotate a',
      'remove-start shop/a',
      'remove-end shop/a',
      'close shop/a',
      'unannotate a',
    ]);
    // b started while a's apply was still running.
    assert.ok(f.events.indexOf('apply-start shop/b') < f.events.indexOf('apply-end shop/a'));
  });

  it('adopt reports adopted, repaired, captured and failed per pod', async () => {
    f.inspectState.set('/fake/uid-a', 'current');
    f.inspectState.set('/fake/uid-b', 'stale');
    const results = await m.adopt([pod('a'), pod('b'), pod('c'), pod('ghost')]);
    assert.deepEqual(
      results.map((r) => [r.pod, r.outcome]),
      [
        ['shop/a', 'adopted'],
        ['shop/b', 'repaired'],
        ['shop/c', 'captured'],
        ['shop/ghost', 'failed'],
      ],
    );
    assert.match(results[3]?.error ?? '', /NETNS_NOT_FOUND/);
    assert.equal(m.captured().length, 3);
  });

  it('stop closes every listener but leaves the rules for the next agent', async () => {
    await m.capture(pod('a'));
    await m.stop({ deadlineMs: 100 });
    assert.ok(f.events.includes('close shop/a'));
    assert.ok(f.installed.has('/fake/uid-a'));
    assert.deepEqual(m.captured(), []);
  });
});
