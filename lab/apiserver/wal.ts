/**
 * Durability: a write-ahead log of JSON lines under dataDir, fsynced before a write is
 * acknowledged, compacted into `snapshot.json` at startup and every N records. Replay tolerates a
 * torn final line (a crash mid-append) but refuses corruption elsewhere.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { MeshError } from '../../common/errors.ts';
import type { KubeObject } from './types.ts';

/** One log record. */
export type WalRecord =
  | { op: 'put'; rv: number; resource: string; object: KubeObject }
  | { op: 'remove'; rv: number; resource: string; namespace: string; name: string };

/** The state a snapshot holds. */
export interface Snapshot {
  resourceVersion: number;
  entries: { resource: string; object: KubeObject }[];
}

/** Replays snapshot + log text into a state (pure). */
export function replay(snapshot: Snapshot | undefined, logText: string): Snapshot {
  const map = new Map<string, { resource: string; object: KubeObject }>();
  const k = (r: string, ns: string, n: string): string => `${r}\u0000${ns}\u0000${n}`;
  let rv = snapshot?.resourceVersion ?? 0;
  for (const e of snapshot?.entries ?? [])
    map.set(k(e.resource, e.object.metadata.namespace ?? '', e.object.metadata.name ?? ''), e);
  const lines = logText.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: WalRecord;
    try {
      rec = JSON.parse(line) as WalRecord;
    } catch (err) {
      if (i === lines.length - 1) return; // torn final append: the write was never acknowledged
      throw new MeshError('LAB_WAL_CORRUPT', `write-ahead log line ${i + 1} is not valid JSON`, {
        hint: 'the lab data directory is damaged; remove it to start from an empty cluster',
        cause: err,
      });
    }
    if (rec.rv > rv) rv = rec.rv;
    if (rec.op === 'put') {
      map.set(k(rec.resource, rec.object.metadata.namespace ?? '', rec.object.metadata.name ?? ''), {
        resource: rec.resource,
        object: rec.object,
      });
    } else {
      map.delete(k(rec.resource, rec.namespace, rec.name));
    }
  });
  return { resourceVersion: rv, entries: [...map.values()] };
}

/** The log file handle with append/compact. */
export class WriteAheadLog {
  readonly #dir: string;
  readonly #compactEvery: number;
  #fd: number;
  #records = 0;

  private constructor(dir: string, compactEvery: number, fd: number) {
    this.#dir = dir;
    this.#compactEvery = compactEvery;
    this.#fd = fd;
  }

  /** Loads the persisted state, compacts it into a fresh snapshot and opens an empty log. */
  static open(dir: string, compactEvery: number): { wal: WriteAheadLog; state: Snapshot } {
    mkdirSync(dir, { recursive: true });
    const snapPath = join(dir, 'snapshot.json');
    const logPath = join(dir, 'wal.log');
    let snap: Snapshot | undefined;
    if (existsSync(snapPath)) {
      try {
        snap = JSON.parse(readFileSync(snapPath, 'utf8')) as Snapshot;
      } catch (err) {
        throw new MeshError('LAB_SNAPSHOT_CORRUPT', `${snapPath} is not valid JSON`, {
          hint: 'remove the lab data directory',
          cause: err,
        });
      }
    }
    const state = replay(snap, existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
    writeSnapshot(dir, state);
    const fd = openSync(logPath, 'w');
    fsyncSync(fd);
    return { wal: new WriteAheadLog(dir, compactEvery, fd), state };
  }

  /** Appends and fsyncs one record; returns true when the caller should compact now. */
  append(rec: WalRecord): boolean {
    writeSync(this.#fd, JSON.stringify(rec) + '\n');
    fsyncSync(this.#fd);
    this.#records += 1;
    return this.#records >= this.#compactEvery;
  }

  /** Writes `state` as the snapshot and truncates the log. */
  compact(state: Snapshot): void {
    writeSnapshot(this.#dir, state);
    closeSync(this.#fd);
    this.#fd = openSync(join(this.#dir, 'wal.log'), 'w');
    fsyncSync(this.#fd);
    this.#records = 0;
  }

  /** Flushes and closes the log. */
  close(): void {
    fsyncSync(this.#fd);
    closeSync(this.#fd);
  }
}

function writeSnapshot(dir: string, state: Snapshot): void {
  const tmp = join(dir, 'snapshot.json.tmp');
  const fd = openSync(tmp, 'w');
  writeSync(fd, JSON.stringify(state));
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, join(dir, 'snapshot.json'));
  const dfd = openSync(dir, 'r');
  fsyncSync(dfd);
  closeSync(dfd);
}
