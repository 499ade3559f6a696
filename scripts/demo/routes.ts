/**
 * Pure reading of route statuses (`kubectl get httproute,grpcroute -o json`): one line per
 * route and parent with its conditions, and a check that the mesh controller accepted them.
 */
import { MeshError } from '../../common/errors.ts';

/** The parts of a route object the demo reads. */
interface RouteObject {
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly status?: {
    readonly parents?: readonly {
      readonly controllerName?: string;
      readonly parentRef?: { readonly kind?: string; readonly name?: string; readonly port?: number };
      readonly conditions?: readonly {
        readonly type?: string;
        readonly status?: string;
        readonly reason?: string;
        readonly message?: string;
      }[];
    }[];
  };
}

/** One route's status on one parent. */
export interface RouteStatusRow {
  /** `HTTPRoute demo/echo`. */
  readonly route: string;
  /** `Service echo:80`. */
  readonly parent: string;
  readonly controller: string;
  /** `Accepted=True (Accepted)`, … in the order the controller wrote them. */
  readonly conditions: readonly string[];
  /** Accepted and ResolvedRefs both True. */
  readonly ok: boolean;
}

/** The rows of a `kubectl get … -o json` list of routes. */
export function routeStatusRows(listJson: string): RouteStatusRow[] {
  const list = JSON.parse(listJson) as { items?: readonly RouteObject[] };
  const rows: RouteStatusRow[] = [];
  for (const item of list.items ?? []) {
    const route = `${item.kind ?? '?'} ${item.metadata?.namespace ?? ''}/${item.metadata?.name ?? ''}`;
    const parents = item.status?.parents ?? [];
    if (parents.length === 0) {
      rows.push({ route, parent: '-', controller: '-', conditions: ['no status yet'], ok: false });
      continue;
    }
    for (const p of parents) {
      const conds = p.conditions ?? [];
      const isTrue = (type: string): boolean => conds.some((c) => c.type === type && c.status === 'True');
      rows.push({
        route,
        parent: `${p.parentRef?.kind ?? '?'} ${p.parentRef?.name ?? '?'}${p.parentRef?.port === undefined ? '' : `:${p.parentRef.port}`}`,
        controller: p.controllerName ?? '',
        conditions: conds.map((c) => `${c.type ?? '?'}=${c.status ?? '?'} (${c.reason ?? ''})`),
        ok: isTrue('Accepted') && isTrue('ResolvedRefs'),
      });
    }
  }
  return rows;
}

/** Throws unless every expected route has a row and every row is accepted with resolved refs. */
export function checkRoutes(rows: readonly RouteStatusRow[], expected: readonly string[]): void {
  for (const route of expected) {
    if (!rows.some((r) => r.route === route))
      throw new MeshError('DEMO_ROUTES', `${route} is missing or has no status`, {
        hint: 'is the controller running? `kubectl -n waymesh-system get pods`',
      });
  }
  const bad = rows.find((r) => !r.ok);
  if (bad !== undefined)
    throw new MeshError(
      'DEMO_ROUTES',
      `${bad.route} on ${bad.parent} is not accepted: ${bad.conditions.join(', ')}`,
      {
        hint: `kubectl describe ${bad.route.toLowerCase().replace(' ', ' -n ').replace('/', ' ')}`,
      },
    );
}
