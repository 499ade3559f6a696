/**
 * The pure half of `waymesh waypoint`: the waypoint Gateway object, which namespaces and
 * Services use which waypoint (labels `waymesh.io/use-waypoint` and
 * `waymesh.io/use-waypoint-namespace`, DESIGN.md §2), and the `list` table.
 */
import { NAMES } from '../controller/translate/world.ts';
import type { Condition } from './kube-ops.ts';
import type { ManifestObject } from './manifest.ts';

/** The waypoint Gateway `namespace/name` (DESIGN.md §2: class waymesh-waypoint, HBONE on 15008). */
export function waypointGateway(namespace: string, name: string): ManifestObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace },
    spec: {
      gatewayClassName: NAMES.waypointClass,
      listeners: [{ name: 'mesh', port: NAMES.hbonePort, protocol: 'HBONE' }],
    },
  };
}

/** A Gateway as `waypoint list` reads it. */
export interface GatewayView {
  readonly namespace: string;
  readonly name: string;
  readonly className: string;
  readonly conditions: readonly Condition[];
  readonly addresses: readonly string[];
}

/** A labelled Namespace or Service (`namespace` is its own for a Service, its name for a Namespace). */
export interface LabelledView {
  readonly kind: 'Namespace' | 'Service';
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The waypoint `namespace/name` that `o`'s labels point at, or undefined when they point at none. */
export function waypointOf(o: LabelledView): string | undefined {
  const name = o.labels[NAMES.useWaypointLabel];
  if (name === undefined || name === '' || name === 'none') return undefined;
  const ns = o.labels[NAMES.useWaypointNamespaceLabel];
  return `${ns === undefined || ns === '' ? o.namespace : ns}/${name}`;
}

/** The objects of `users` whose labels point at waypoint `namespace/name`. */
export function usersOf(users: readonly LabelledView[], namespace: string, name: string): LabelledView[] {
  const key = `${namespace}/${name}`;
  return users.filter((u) => waypointOf(u) === key);
}

function cell(text: string): string {
  return text === '' ? '-' : text;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '));
}

/** The `waypoint list` table: NAMESPACE NAME PROGRAMMED ADDRESS USED-BY (waymesh waypoints only, sorted). */
export function renderWaypointList(
  gateways: readonly GatewayView[],
  users: readonly LabelledView[],
): string[] {
  const ours = gateways
    .filter((g) => g.className === NAMES.waypointClass)
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  if (ours.length === 0) return ['No waypoints found.'];
  return table([
    ['NAMESPACE', 'NAME', 'PROGRAMMED', 'ADDRESS', 'USED-BY'],
    ...ours.map((g) => {
      const programmed = g.conditions.find((c) => c.type === 'Programmed')?.status ?? 'Unknown';
      const usedBy = usersOf(users, g.namespace, g.name)
        .map((u) => (u.kind === 'Namespace' ? `namespace/${u.name}` : `service/${u.namespace}/${u.name}`))
        .sort();
      return [g.namespace, g.name, programmed, cell(g.addresses.join(',')), cell(usedBy.join(', '))];
    }),
  ]);
}

/** One line per condition, for a `--wait` timeout: `Programmed=False (Pending): waiting for …`. */
export function formatConditions(conditions: readonly Condition[]): string {
  if (conditions.length === 0) return '  (no conditions yet: is the waymesh controller running?)';
  return conditions
    .map((c) => `  ${c.type ?? '?'}=${c.status ?? '?'} (${c.reason ?? ''}): ${c.message ?? ''}`)
    .join('\n');
}
