/**
 * Local snapshot files (`--config-file`, DESIGN.md §5): the same schema as the snapshots the
 * controller pushes (`ir/snapshots.ts`), as JSON or YAML. The shape is checked enough that a
 * hand-written file fails with the path and field at fault instead of deep inside a proxy;
 * the result is deep-frozen and versioned like a pushed snapshot.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname } from 'node:path';
import yaml from 'js-yaml';
import { errorMessage, MeshError } from './errors.ts';
import type { NodeSnapshot, ProxySnapshot, WaypointSnapshot } from './ir/snapshots.ts';

/** Snapshot kind → type. */
export interface SnapshotKinds {
  node: NodeSnapshot;
  waypoint: WaypointSnapshot;
}

type Obj = Record<string, unknown>;
type Check = (v: unknown, at: string) => void;

class ShapeError extends Error {}

const bad = (at: string, want: string, v: unknown): never => {
  const got = v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v;
  throw new ShapeError(`${at}: expected ${want}, got ${got}`);
};
const obj = (v: unknown, at: string): Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : bad(at, 'an object', v);
const str: Check = (v, at) => void (typeof v === 'string' ? v : bad(at, 'a string', v));
const num: Check = (v, at) => void (typeof v === 'number' && Number.isFinite(v) ? v : bad(at, 'a number', v));
const bool: Check = (v, at) => void (typeof v === 'boolean' ? v : bad(at, 'true or false', v));
const oneOf =
  (...allowed: readonly unknown[]): Check =>
  (v, at) =>
    void (allowed.includes(v) ? v : bad(at, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, v));
const list =
  (each: Check): Check =>
  (v, at) => {
    if (!Array.isArray(v)) bad(at, 'a list', v);
    (v as unknown[]).forEach((e, i) => each(e, `${at}[${i}]`));
  };
const map =
  (each: Check): Check =>
  (v, at) => {
    for (const [k, e] of Object.entries(obj(v, at))) each(e, `${at}.${k}`);
  };
const fields =
  (spec: Readonly<Record<string, Check>>, optional: Readonly<Record<string, Check>> = {}): Check =>
  (v, at) => {
    const o = obj(v, at);
    for (const [k, check] of Object.entries(spec)) check(o[k], `${at}.${k}`);
    for (const [k, check] of Object.entries(optional)) if (o[k] !== undefined) check(o[k], `${at}.${k}`);
  };

const source = fields({ group: str, kind: str, namespace: str, name: str });
const strings = list(str);
const matchSet = fields({ values: strings, not: strings });
const workload = fields(
  {
    uid: str,
    name: str,
    namespace: str,
    node: str,
    ips: strings,
    serviceAccount: str,
    identity: str,
    captured: bool,
    labels: map(str),
    namedPorts: map(num),
  },
  { mtls: oneOf('STRICT', 'PERMISSIVE') },
);
const service = fields(
  {
    key: str,
    namespace: str,
    name: str,
    clusterIPs: strings,
    ports: list(fields({ name: str, port: num, protocol: oneOf('TCP', 'UDP', 'SCTP'), appProtocol: str })),
    endpoints: list(fields({ workloadUid: str, ip: str, node: str, ready: bool, ports: map(num) })),
    source,
  },
  { waypoint: fields({ gateway: fields({ namespace: str, name: str }), addresses: strings, identity: str }) },
);
const policy = fields({
  id: str,
  source,
  scope: fields({ kind: oneOf('namespace', 'service', 'waypoint') }),
  action: oneOf('ALLOW', 'DENY'),
  layer: oneOf('L4', 'L7'),
  rules: list(
    fields({
      from: list(fields({ principals: matchSet, namespaces: matchSet })),
      to: list(fields({ ports: matchSet, methods: matchSet, paths: matchSet, hosts: matchSet })),
      when: list(fields({ header: str, values: strings, notValues: strings })),
    }),
  ),
});
const entry = fields({
  id: str,
  route: source,
  rule: str,
  match: fields({ kind: oneOf('http', 'grpc'), headers: list(fields({ name: str, type: str, value: str })) }),
  filters: list(fields({ type: str })),
  backends: list(fields({ kind: oneOf('service', 'invalid'), weight: num })),
  timeouts: fields({}),
});
const routeTable = fields({
  service: str,
  port: num,
  protocol: oneOf('http', 'grpc'),
  producer: list(entry),
  consumers: map(list(entry)),
});
const rateLimit = fields({
  id: str,
  source,
  target: fields({ kind: oneOf('service', 'route') }),
  requests: num,
  periodSeconds: oneOf(1, 60, 3600),
  key: fields({ type: oneOf('source', 'header', 'target') }),
});

const SHAPES: Readonly<Record<keyof SnapshotKinds, Check>> = {
  node: fields({
    trustDomain: str,
    node: str,
    workloads: list(workload),
    services: list(service),
    policies: list(policy),
  }),
  waypoint: fields({
    trustDomain: str,
    waypoint: fields({ namespace: str, name: str }),
    services: list(service),
    routes: list(routeTable),
    policies: list(policy),
    rateLimits: list(rateLimit),
  }),
};

/** Canonical JSON (DESIGN.md §5): JSON.stringify with object keys sorted recursively. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v: unknown) => canonicalJson(v)).join(',')}]`;
  const o = value as Obj;
  const parts: string[] = [];
  for (const k of Object.keys(o).sort()) {
    if (o[k] !== undefined && typeof o[k] !== 'function')
      parts.push(`${JSON.stringify(k)}:${canonicalJson(o[k])}`);
  }
  return `{${parts.join(',')}}`;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const inner of Object.values(v as Obj)) deepFreeze(inner);
    Object.freeze(v);
  }
  return v;
}

function parseText(path: string, text: string): unknown {
  const ext = extname(path).toLowerCase();
  const asJson = ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && /^\s*[{[]/.test(text));
  return asJson ? JSON.parse(text) : yaml.load(text, { schema: yaml.CORE_SCHEMA, filename: path });
}

/**
 * Validates a parsed snapshot (what `readSnapshotFile` does after parsing), fills `version`
 * with sha256 of the canonical JSON of the rest when missing, and deep-freezes it.
 * Throws `SNAPSHOT_FILE_INVALID` naming `origin` and the bad field.
 */
export function checkSnapshot<K extends keyof SnapshotKinds>(
  data: unknown,
  kind: K,
  origin: string,
): SnapshotKinds[K] {
  const fail = (why: string): MeshError =>
    new MeshError('SNAPSHOT_FILE_INVALID', `snapshot file ${origin}: ${why}`, {
      hint: `it must be a ${kind} snapshot as in common/ir/snapshots.ts (JSON or YAML)`,
    });
  try {
    const o = obj(data, 'snapshot');
    if (o['kind'] !== kind) throw fail(`kind is ${JSON.stringify(o['kind'])}, expected "${kind}"`);
    if (o['version'] !== undefined) str(o['version'], 'snapshot.version');
    SHAPES[kind](o, 'snapshot');
    const { version, ...body } = o;
    const filled = typeof version === 'string' && version !== '' ? version : sha256Hex(canonicalJson(body));
    return deepFreeze({ ...o, version: filled }) as unknown as SnapshotKinds[K];
  } catch (err) {
    if (err instanceof ShapeError) throw fail(err.message);
    throw err;
  }
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Reads, parses (JSON or YAML by extension, else by content) and checks a snapshot file. */
export async function readSnapshotFile<K extends keyof SnapshotKinds>(
  path: string,
  kind: K,
): Promise<SnapshotKinds[K]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new MeshError(
      'SNAPSHOT_FILE_UNREADABLE',
      `cannot read snapshot file ${path}: ${errorMessage(err)}`,
      {
        hint: 'check the --config-file path and its permissions',
      },
    );
  }
  let data: unknown;
  try {
    data = parseText(path, text);
  } catch (err) {
    throw new MeshError(
      'SNAPSHOT_FILE_INVALID',
      `snapshot file ${path} is not valid JSON/YAML: ${errorMessage(err)}`,
    );
  }
  return checkSnapshot(data, kind, path);
}

/** A running watch; `current()` is the last good snapshot. */
export interface SnapshotWatch<S extends ProxySnapshot> {
  current(): S | undefined;
  stop(): void;
}

/**
 * Reads the file now and again whenever it changes (the directory is watched, so atomic
 * renames are seen; changes are debounced). `onSnapshot` gets each new version; a bad file
 * calls `onError` and the last good snapshot stays current.
 */
export function watchSnapshotFile<K extends keyof SnapshotKinds>(
  path: string,
  kind: K,
  onSnapshot: (snapshot: SnapshotKinds[K]) => void,
  onError: (err: MeshError) => void,
  options: { debounceMs?: number } = {},
): SnapshotWatch<SnapshotKinds[K]> {
  const name = basename(path);
  let current: SnapshotKinds[K] | undefined;
  let timer: NodeJS.Timeout | undefined;
  let reading = false;
  let again = false;
  let stopped = false;
  const reload = (): void => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    readSnapshotFile(path, kind)
      .then(
        (s) => {
          if (stopped || s.version === current?.version) return;
          current = s;
          onSnapshot(s);
        },
        (err: unknown) => {
          if (!stopped)
            onError(
              err instanceof MeshError ? err : new MeshError('SNAPSHOT_FILE_INVALID', errorMessage(err)),
            );
        },
      )
      .finally(() => {
        reading = false;
        if (again && !stopped) {
          again = false;
          reload();
        }
      });
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(path), (_event, file) => {
      if (stopped || (file !== null && file !== name)) return;
      clearTimeout(timer);
      timer = setTimeout(reload, options.debounceMs ?? 50);
    });
  } catch (err) {
    throw new MeshError('SNAPSHOT_FILE_UNREADABLE', `cannot watch ${dirname(path)}: ${errorMessage(err)}`, {
      hint: 'does the directory of --config-file exist?',
    });
  }
  watcher.on('error', (err) =>
    onError(new MeshError('SNAPSHOT_FILE_UNREADABLE', `watching ${path} failed: ${err.message}`)),
  );
  reload();
  return {
    current: () => current,
    stop() {
      stopped = true;
      clearTimeout(timer);
      watcher.close();
    },
  };
}
