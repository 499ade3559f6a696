import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSelector } from '../../../../lab/apiserver/selectors.ts';
import type { KubeObject } from '../../../../lab/apiserver/types.ts';
import { replay, WriteAheadLog } from '../../../../lab/apiserver/wal.ts';
import { frameFor, WatchHistory, WatchHub, type ChangeEvent } from '../../../../lab/apiserver/watch.ts';

const cm = (name: string, labels: Record<string, string> = {}, rv = '1'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'n', labels, resourceVersion: rv },
});

describe('lab/apiserver watch history', () => {
  const ev = (rv: number): ChangeEvent => ({
    rv,
    resource: 'configmaps',
    type: 'ADDED',
    object: cm(`c${rv}`),
    prev: undefined,
  });
  it('replays events after a resourceVersion and reports 410 once evicted', () => {
    const h = new WatchHistory(3, 10);
    assert.deepEqual(h.since(10), []);
    assert.equal(h.since(9), 'expired');
    for (const rv of [11, 12, 13, 14]) h.push(ev(rv));
    const got = h.since(11);
    assert.ok(Array.isArray(got));
    assert.deepEqual(
      got.map((e) => e.rv),
      [12, 13, 14],
    );
    assert.equal(h.since(10), 'expired');
  });
  it('sends objects leaving a selector as DELETED and entering as ADDED', () => {
    const filter = {
      resource: 'configmaps',
      namespace: 'n',
      selector: compileSelector('app=web', null, 'ConfigMap'),
    };
    const leave: ChangeEvent = {
      rv: 2,
      resource: 'configmaps',
      type: 'MODIFIED',
      object: cm('a', { app: 'db' }),
      prev: cm('a', { app: 'web' }),
    };
    assert.equal(frameFor(filter, leave)?.type, 'DELETED');
    const enter: ChangeEvent = { ...leave, object: cm('a', { app: 'web' }), prev: cm('a', { app: 'db' }) };
    assert.equal(frameFor(filter, enter)?.type, 'ADDED');
    assert.equal(
      frameFor(filter, { ...leave, object: cm('a', { app: 'x' }), prev: cm('a', { app: 'y' }) }),
      undefined,
    );
    assert.equal(frameFor({ ...filter, namespace: 'other' }, enter), undefined);
  });
});

describe('lab/apiserver watch hub', () => {
  it('ends a watcher whose delivery throws; the others still get the change', () => {
    const hub = new WatchHub(10, 0);
    const filter = {
      resource: 'configmaps',
      namespace: undefined,
      selector: compileSelector(null, null, 'ConfigMap'),
    };
    const got: string[] = [];
    let ended = 0;
    hub.subscribe({
      filter,
      deliver: () => {
        throw new Error('cannot render');
      },
      end: () => void ended++,
    });
    hub.subscribe({
      filter,
      deliver: (f) => void got.push(f.object.metadata.name ?? ''),
      end: () => undefined,
    });
    const ev = (rv: number, name: string): ChangeEvent => ({
      rv,
      resource: 'configmaps',
      type: 'ADDED',
      object: cm(name),
      prev: undefined,
    });
    assert.throws(() => hub.publish(ev(1, 'a')), /cannot render/);
    assert.deepEqual([got, ended, hub.size], [['a'], 1, 1]);
    hub.publish(ev(2, 'b'));
    assert.deepEqual(got, ['a', 'b']);
  });
});

describe('lab/apiserver write-ahead log', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wm-wal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replays puts and removes, keeping the highest resourceVersion', () => {
    const log = [
      { op: 'put', rv: 3, resource: 'configmaps', object: cm('a', {}, '3') },
      { op: 'put', rv: 4, resource: 'configmaps', object: cm('b', {}, '4') },
      { op: 'remove', rv: 5, resource: 'configmaps', namespace: 'n', name: 'a' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const s = replay(
      { resourceVersion: 2, entries: [{ resource: 'configmaps', object: cm('z', {}, '2') }] },
      log + '\n{"op":"pu',
    );
    assert.equal(s.resourceVersion, 5);
    assert.deepEqual(s.entries.map((e) => e.object.metadata.name).sort(), ['b', 'z']);
  });
  it('refuses corruption before the last line', () => {
    assert.throws(
      () => replay(undefined, 'garbage\n{"op":"remove","rv":1,"resource":"x","namespace":"","name":"a"}\n'),
      /LAB_WAL_CORRUPT|not valid JSON/,
    );
  });
  it('survives reopen and compaction', () => {
    const first = WriteAheadLog.open(dir, 2);
    assert.equal(
      first.wal.append({ op: 'put', rv: 1, resource: 'configmaps', object: cm('a', {}, '1') }),
      false,
    );
    assert.equal(
      first.wal.append({ op: 'put', rv: 2, resource: 'configmaps', object: cm('b', {}, '2') }),
      true,
    );
    first.wal.compact({
      resourceVersion: 2,
      entries: [
        { resource: 'configmaps', object: cm('a', {}, '1') },
        { resource: 'configmaps', object: cm('b', {}, '2') },
      ],
    });
    first.wal.append({ op: 'remove', rv: 3, resource: 'configmaps', namespace: 'n', name: 'a' });
    first.wal.close();
    assert.match(readFileSync(join(dir, 'wal.log'), 'utf8'), /"remove"/);
    appendFileSync(join(dir, 'wal.log'), '{"torn');
    const second = WriteAheadLog.open(dir, 100);
    second.wal.close();
    assert.equal(second.state.resourceVersion, 3);
    assert.deepEqual(
      second.state.entries.map((e) => e.object.metadata.name),
      ['b'],
    );
    assert.equal(readFileSync(join(dir, 'wal.log'), 'utf8'), '');
  });
  it('reports a damaged snapshot with a coded error', () => {
    writeFileSync(join(dir, 'snapshot.json'), '{nope');
    assert.throws(() => WriteAheadLog.open(dir, 10), /LAB_SNAPSHOT_CORRUPT|not valid JSON/);
  });
});
