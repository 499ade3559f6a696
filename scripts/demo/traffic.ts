/**
 * Pure analysis of the sample client's output (one JSON line per request, docs/apps.md): which
 * backend version answered, how that compares with the configured weights, latency percentiles.
 */
import { MeshError } from '../../common/errors.ts';

/** One request as the demo needs it. */
export interface Sample {
  /** HTTP status, or the numeric gRPC status (0 = OK). */
  readonly status: number;
  /** The echo pod that answered (`body.pod`). */
  readonly pod: string;
  /** True when the request reached echo through a waypoint (it added a `traceparent`). */
  readonly viaWaypoint: boolean;
  readonly latencyMs: number;
}

/** Parses the client's stdout; a transport failure or an unreadable line is an error. */
export function parseClientOutput(stdout: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new MeshError(
        'DEMO_TRAFFIC',
        `the client printed a line that is not JSON: ${line.slice(0, 200)}`,
      );
    }
    const r = value as {
      status?: number;
      error?: { code: string; message: string };
      latencyMs?: number;
      body?: { pod?: string; headers?: Record<string, unknown>; metadata?: Record<string, unknown> };
    };
    if (r.error !== undefined || typeof r.status !== 'number' || typeof r.latencyMs !== 'number') {
      throw new MeshError(
        'DEMO_TRAFFIC',
        `a request failed in transport: ${r.error?.code ?? '?'} ${r.error?.message ?? line.slice(0, 200)}`,
        { hint: "see `waymesh status` and the node agents' logs" },
      );
    }
    const seen = r.body?.headers ?? r.body?.metadata ?? {};
    samples.push({
      status: r.status,
      pod: r.body?.pod ?? '',
      viaWaypoint: 'traceparent' in seen,
      latencyMs: r.latencyMs,
    });
  }
  return samples;
}

/** `echo-v2-7cce8847ea-n2q9b` → `v2`: the version in the pod name (Deployment echo-<version>). */
export function versionOf(pod: string): string {
  return /^echo-(v\d+)-/.exec(pod)?.[1] ?? (pod === '' ? 'none' : pod);
}

/** Answers per backend version, sorted by version. */
export function countVersions(samples: readonly Sample[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(versionOf(s.pod), (counts.get(versionOf(s.pod)) ?? 0) + 1);
  return new Map([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

/** One row of the split report. */
export interface SplitRow {
  readonly version: string;
  readonly count: number;
  readonly observedPct: number;
  readonly configuredPct: number;
}

/** Observed shares of `samples` per version against the configured `weights`, in percent. */
export function splitRows(samples: readonly Sample[], weights: Readonly<Record<string, number>>): SplitRow[] {
  const counts = countVersions(samples);
  const total = samples.length;
  const weightSum = Object.values(weights).reduce((a, b) => a + b, 0);
  const versions = [...new Set([...Object.keys(weights), ...counts.keys()])].sort();
  return versions.map((version) => ({
    version,
    count: counts.get(version) ?? 0,
    observedPct: total === 0 ? 0 : (100 * (counts.get(version) ?? 0)) / total,
    configuredPct: weightSum === 0 ? 0 : (100 * (weights[version] ?? 0)) / weightSum,
  }));
}

/** Throws when a version's observed share is more than `tolerancePct` points off its configured one. */
export function checkSplit(rows: readonly SplitRow[], tolerancePct: number): void {
  const total = rows.reduce((a, r) => a + r.count, 0);
  const off = rows.find((r) => Math.abs(r.observedPct - r.configuredPct) > tolerancePct);
  if (off !== undefined)
    throw new MeshError(
      'DEMO_SPLIT',
      `echo-${off.version} got ${off.observedPct.toFixed(1)}% of ${total} requests, configured ${off.configuredPct.toFixed(0)}% (tolerance ±${tolerancePct} points)`,
      { hint: 'check the HTTPRoute status and `waymesh status` (is every proxy SYNCED?)' },
    );
}

/** Latency percentiles (nearest rank) of the samples, in ms. */
export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentiles; throws on an empty list. */
export function percentiles(latenciesMs: readonly number[]): Percentiles {
  if (latenciesMs.length === 0) throw new MeshError('DEMO_TRAFFIC', 'no requests were measured');
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
  return { p50: at(50), p90: at(90), p99: at(99), max: sorted[sorted.length - 1] ?? 0 };
}
