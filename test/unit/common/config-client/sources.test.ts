// The snapshot sources both proxies share: a local file re-read when it changes, applied one
// snapshot at a time; a rejected snapshot or a bad file keeps the last good one and shows why.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'mocha';
import { fileConfigSource, tokenFileReader } from '../../../../common/config-client/sources.ts';
import type { NodeSnapshot } from '../../../../common/ir/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'wm-sources-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function snapshot(node: string): string {
  return JSON.stringify({
    kind: 'node',
    trustDomain: 'cluster.local',
    node,
    workloads: [],
    services: [],
    policies: [],
  });
}

/** Replaces `path` atomically, as a ConfigMap update does. */
async function put(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('common/config-client/sources', () => {
  it('applies each version of the file, one at a time: a newer one waits for a slow apply', async () => {
    const path = join(dir, 'serial.json');
    await put(path, snapshot('n1'));
    const started: string[] = [];
    const done: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const source = fileConfigSource('node', path);
    source.start(async (s: NodeSnapshot) => {
      started.push(s.node);
      if (s.node === 'n1') await gate;
      done.push(s.node);
    });
    await until(() => started.length === 1, 'the first snapshot');
    await put(path, snapshot('n2'));
    // Long enough for the watcher (50 ms debounce) to have read n2.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(started, ['n1'], 'n2 must wait until n1 is applied');
    release();
    await until(() => done.length === 2, 'the second snapshot');
    await source.stop();
    assert.deepEqual(started, ['n1', 'n2']);
    assert.deepEqual(done, ['n1', 'n2']);
    assert.deepEqual(source.status(), { source: 'file', path });
  });

  it('a rejected snapshot, then a bad file, keep the last good one and say why in status', async () => {
    const path = join(dir, 'rejected.json');
    await put(path, snapshot('good'));
    const applied: string[] = [];
    const source = fileConfigSource('node', path);
    source.start((s: NodeSnapshot) => {
      if (s.node === 'refused') throw new Error('node refused by the test');
      applied.push(s.node);
    });
    await until(() => applied.length === 1, 'the good snapshot');
    await put(path, snapshot('refused'));
    await until(() => source.status()['lastError'] !== undefined, 'the rejection');
    assert.equal(source.status()['lastError'], 'node refused by the test');
    await put(path, '{ not json');
    await until(() => /SNAPSHOT/.test(String(source.status()['lastError'])), 'the bad file');
    await source.stop();
    assert.deepEqual(applied, ['good']);
  });

  it('stop waits for a snapshot being applied, up to its deadline', async () => {
    const path = join(dir, 'stuck.json');
    await put(path, snapshot('stuck'));
    let started = false;
    const source = fileConfigSource('node', path);
    source.start(() => {
      started = true;
      return new Promise<void>(() => undefined);
    });
    await until(() => started, 'the apply to start');
    const t0 = Date.now();
    await source.stop({ deadlineMs: 100 });
    const waited = Date.now() - t0;
    assert.ok(waited >= 90 && waited < 2000, `stop waited ${waited} ms`);
  });

  it('reads the token file on every call and names the pod when it cannot', async () => {
    const path = join(dir, 'token');
    await writeFile(path, 'first\n');
    const read = tokenFileReader(path, 'the node agent');
    assert.equal(await read(), 'first');
    await writeFile(path, 'second');
    assert.equal(await read(), 'second');
    await assert.rejects(
      tokenFileReader(join(dir, 'missing'), 'the waypoint pod'),
      (err: Error & { code?: string; hint?: string }) => {
        return err.code === 'TOKEN_UNREADABLE' && /the waypoint pod needs/.test(err.hint ?? '');
      },
    );
  });
});
