/**
 * Pure reading of the proxies' Prometheus text (port 15020, DESIGN.md §7) into the mTLS
 * identities each side of a hop saw: the waypoint's `waymesh_requests_total` (the caller's
 * SPIFFE id, per route) and the node agents' `waymesh_tcp_connections_opened_total` (both
 * principals of every tunnel).
 */
import { MeshError } from '../../common/errors.ts';

/** One sample of a counter. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of `names` in a Prometheus text exposition (comments and other metrics skipped). */
export function parseMetrics(text: string, names: ReadonlySet<string>): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (m === null || !names.has(m[1] ?? '')) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, '$1');
    out.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return out;
}

/** One line of the identity report: who called whom on one hop, as one proxy saw it. */
export interface IdentityRow {
  /** `client → waypoint`, `waypoint → echo`, … */
  readonly hop: string;
  /** Which proxy saw it. */
  readonly seenBy: string;
  readonly source: string;
  readonly destination: string;
  /** Requests (waypoint) or tunnels (node agents). */
  readonly count: number;
  readonly unit: 'requests' | 'tunnels';
}

/** `spiffe://td/ns/demo/sa/client` → `client`. */
const account = (principal: string): string => principal.split('/sa/')[1] ?? (principal || '?');

const short = (workload: string): string =>
  workload.split('/')[1]?.replace(/-[a-z0-9]+-[a-z0-9]+$/, '') ?? workload;

/**
 * Sums the samples into identity rows for namespace `ns`: node-agent tunnels (outbound from the
 * client's agent, inbound at the backends' agents) and waypoint requests per route.
 */
export function identityRows(samples: readonly MetricSample[], ns: string): IdentityRow[] {
  const rows = new Map<string, IdentityRow>();
  const add = (row: IdentityRow): void => {
    const key = `${row.hop}|${row.seenBy}|${row.source}|${row.destination}|${row.unit}`;
    const old = rows.get(key);
    rows.set(key, old === undefined ? row : { ...old, count: old.count + row.count });
  };
  for (const s of samples) {
    const l = s.labels;
    if (s.name === 'waymesh_requests_total') {
      add({
        hop: `${account(l['source_principal'] ?? '')} → ${l['destination_service'] ?? '?'}`,
        seenBy: `waypoint (${l['route'] ?? '?'})`,
        source: l['source_principal'] ?? '',
        destination: l['destination_service'] ?? '',
        count: s.value,
        unit: 'requests',
      });
      continue;
    }
    const src = l['source_workload'] ?? '';
    const dst = l['destination_workload'] ?? '';
    if (!src.startsWith(`${ns}/`) && !dst.startsWith(`${ns}/`)) continue;
    const inbound = l['direction'] === 'inbound';
    const to = inbound ? short(dst) : `${l['destination_service'] ?? '?'}`;
    add({
      hop: `${short(src)} → ${to}`,
      seenBy: `node agent (${inbound ? 'inbound' : 'outbound'})`,
      source: l['source_principal'] ?? '',
      destination: l['destination_principal'] ?? '',
      count: s.value,
      unit: 'tunnels',
    });
  }
  // In the order of the data path: the client's agent, the waypoint, the backends' agents.
  const rank = (r: IdentityRow): number =>
    r.seenBy.includes('outbound') ? 0 : r.seenBy.startsWith('waypoint') ? 1 : 2;
  return [...rows.values()].sort(
    (a, b) => rank(a) - rank(b) || a.hop.localeCompare(b.hop) || a.seenBy.localeCompare(b.seenBy),
  );
}

/**
 * Throws unless the waypoint saw the client's SPIFFE id and the backends' agents terminated
 * tunnels as the echo identity: the proof that both hops were mutually authenticated.
 */
export function checkIdentities(rows: readonly IdentityRow[], ns: string): void {
  const client = `/ns/${ns}/sa/client`;
  const echo = `/ns/${ns}/sa/echo`;
  if (!rows.some((r) => r.unit === 'requests' && r.source.endsWith(client)))
    throw new MeshError(
      'DEMO_IDENTITY',
      `no waypoint counted a request from a SPIFFE id ending in ${client}`,
      {
        hint: 'is the client pod captured (annotation waymesh.io/redirection)? see `waymesh status`',
      },
    );
  if (!rows.some((r) => r.seenBy.includes('inbound') && r.destination.endsWith(echo)))
    throw new MeshError(
      'DEMO_IDENTITY',
      `no node agent counted an inbound tunnel to a SPIFFE id ending in ${echo}`,
      {
        hint: 'are the echo pods captured? `kubectl -n demo get pods -o yaml | grep redirection`',
      },
    );
}
