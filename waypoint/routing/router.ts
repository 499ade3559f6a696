/**
 * `compileRouter`: a waypoint snapshot's route tables compiled once into first-match lists per
 * Service port (producer entries plus consumer entries by client namespace). Entries that cannot
 * be compiled are dropped — the spec's "drop invalid rules" for a partially invalid route — and
 * listed in `errors`, so the caller can log them and count a config problem; `decide()` never throws.
 */
import { MeshError, errorMessage } from '../../common/errors.ts';
import type { RouteEntry, RouteTable } from '../../common/ir/routes.ts';
import type { WaypointSnapshot } from '../../common/ir/snapshots.ts';
import type { ServiceKey } from '../../common/ir/source.ts';
import { CompiledEntry } from './entry.ts';
import { RequestView } from './request-view.ts';
import type { Random, RouteDecision, RouteRequest, RouteTarget, Router } from './types.ts';

/** A route entry the waypoint could not compile, and why. */
export interface RouteCompileError {
  /** The entry's IR id (`httproute/<ns>/<name>/rule/<i>/match/<j>`). */
  readonly entryId: string;
  /** `<namespace>/<service>:<port>` of the table it was in. */
  readonly table: string;
  readonly error: MeshError;
}

/** A {@link Router} plus the entries compilation dropped. */
export interface CompiledRouter extends Router {
  readonly errors: readonly RouteCompileError[];
}

const NO_MATCH: RouteDecision = Object.freeze({ kind: 'no-match' });

interface Table {
  readonly protocol: 'http' | 'grpc';
  readonly producer: readonly CompiledEntry[];
  readonly consumers: ReadonlyMap<string, readonly CompiledEntry[]>;
}

function compileEntries(
  entries: readonly RouteEntry[],
  table: string,
  errors: RouteCompileError[],
): readonly CompiledEntry[] {
  const out: CompiledEntry[] = [];
  for (const e of entries) {
    try {
      out.push(new CompiledEntry(e));
    } catch (err) {
      const error =
        err instanceof MeshError
          ? err
          : new MeshError(
              'ROUTE_ENTRY_INVALID',
              `route entry ${e.id} does not compile: ${errorMessage(err)}`,
            );
      errors.push({ entryId: e.id, table, error });
    }
  }
  return Object.freeze(out);
}

function compileTable(t: RouteTable, errors: RouteCompileError[]): Table {
  const name = `${t.service}:${t.port}`;
  const consumers = new Map<string, readonly CompiledEntry[]>();
  for (const ns of Object.keys(t.consumers).sort())
    consumers.set(ns, compileEntries(t.consumers[ns] ?? [], name, errors));
  return { protocol: t.protocol, producer: compileEntries(t.producer, name, errors), consumers };
}

class SnapshotRouter implements CompiledRouter {
  // Tables by service, then port: two lookups and no key string built per request.
  private readonly tables = new Map<ServiceKey, Map<number, Table>>();
  private readonly view = new RequestView();
  readonly errors: readonly RouteCompileError[];

  constructor(snapshot: WaypointSnapshot) {
    const errors: RouteCompileError[] = [];
    for (const t of snapshot.routes) {
      let ports = this.tables.get(t.service);
      if (ports === undefined) this.tables.set(t.service, (ports = new Map<number, Table>()));
      if (ports.has(t.port)) {
        errors.push({
          entryId: '',
          table: `${t.service}:${t.port}`,
          error: new MeshError(
            'ROUTE_TABLE_DUPLICATE',
            `the snapshot has two route tables for ${t.service}:${t.port}; the first is used`,
            { hint: 'this is a controller bug: report it with the snapshot from /config_dump' },
          ),
        });
        continue;
      }
      ports.set(t.port, compileTable(t, errors));
    }
    this.errors = Object.freeze(errors);
  }

  decide(target: RouteTarget, req: RouteRequest, random: Random): RouteDecision {
    const table = this.tables.get(target.service)?.get(target.port);
    if (table === undefined) return { kind: 'passthrough', service: target.service, port: target.port };
    const ns = target.sourceNamespace;
    const entries = (ns === undefined ? undefined : table.consumers.get(ns)) ?? table.producer;
    const view = this.view;
    view.reset(req);
    try {
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i] as CompiledEntry;
        if (e.matcher.test(view)) return e.decide(target, req, random);
      }
      return NO_MATCH;
    } finally {
      view.reset(RELEASED);
    }
  }

  protocolOf(service: ServiceKey, port: number): 'http' | 'grpc' | undefined {
    return this.tables.get(service)?.get(port)?.protocol;
  }
}

/** Stands in for the last request so the shared view does not keep it alive. */
const RELEASED: RouteRequest = {
  method: '',
  path: '',
  query: '',
  authority: '',
  header: () => undefined,
};

/** Compiles a waypoint snapshot's route tables once; see {@link CompiledRouter.errors}. */
export function compileRouter(snapshot: WaypointSnapshot): CompiledRouter {
  return new SnapshotRouter(snapshot);
}
