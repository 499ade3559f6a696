/**
 * Pure formatting of the demo's result sections: identities, the split, route statuses,
 * latency, and the commands to explore a kept lab.
 */
import type { IdentityRow } from './metrics.ts';
import type { RouteStatusRow } from './routes.ts';
import type { Percentiles, SplitRow } from './traffic.ts';

/** Left-aligned columns separated by two spaces. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** The identity section: one row per hop and observer. */
export function identityLines(rows: readonly IdentityRow[]): string[] {
  return table([
    ['HOP', 'SEEN BY', 'SOURCE (peer certificate)', 'DESTINATION', 'COUNT'],
    ...rows.map((r) => [
      r.hop,
      r.seenBy,
      r.source,
      r.destination,
      `${r.count} ${r.count === 1 ? r.unit.slice(0, -1) : r.unit}`,
    ]),
  ]);
}

/** The split section: observed against configured, per version. */
export function splitLines(rows: readonly SplitRow[], headerHits: number, headerTotal: number): string[] {
  const total = rows.reduce((a, r) => a + r.count, 0);
  return [
    `rule 1 (no header): ${total} requests to http://echo.demo/`,
    ...table([
      ['BACKEND', 'CONFIGURED', 'OBSERVED', 'REQUESTS'],
      ...rows.map((r) => [
        `echo-${r.version}`,
        `${r.configuredPct.toFixed(0)}%`,
        `${r.observedPct.toFixed(1)}%`,
        String(r.count),
      ]),
    ]).map((l) => `  ${l}`),
    `rule 0 (x-version: v2): ${headerHits}/${headerTotal} requests answered by echo-v2`,
  ];
}

/** The route status section. */
export function routeLines(rows: readonly RouteStatusRow[]): string[] {
  return rows.flatMap((r) => [
    `${r.route} → ${r.parent} (${r.controller})`,
    ...r.conditions.map((c) => `    ${c}`),
  ]);
}

/** The latency section for one batch. */
export function latencyLine(label: string, count: number, p: Percentiles): string {
  const f = (v: number): string => `${v.toFixed(1)} ms`;
  return `${label} (${count} requests): p50 ${f(p.p50)}  p90 ${f(p.p90)}  p99 ${f(p.p99)}  max ${f(p.max)}`;
}

/** What to run to look around a lab left up by `--keep`. */
export function exploreLines(labName: string, kubeconfig: string): string[] {
  const n = labName === 'lab' ? '' : ` --name ${labName}`;
  return [
    `export KUBECONFIG=${kubeconfig}`,
    'kubectl -n demo get pods,svc,gateway,httproute,grpcroute',
    `npx waymesh lab exec demo/client${n} -- curl -s -H 'x-version: v2' http://echo.demo/`,
    `npx waymesh lab exec demo/client${n} -- node --import tsx apps/client/main.ts http://echo.demo/ --count 20`,
    'npx waymesh status',
    `npx waymesh lab traces${n}`,
    `npx waymesh lab down${n}`,
  ];
}
