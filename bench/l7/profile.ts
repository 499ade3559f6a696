/**
 * Top self-time functions of a V8 `.cpuprofile` (written by `node --cpu-prof`), for the bench's
 * report when the waypoint misses a target.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

/** One hot spot: `function (file:line)` and its share of the non-idle samples. */
export interface HotSpot {
  readonly where: string;
  readonly selfPercent: number;
}

/** The `top` functions by self samples in profile JSON `text`. */
export function hotSpots(text: string, top: number): HotSpot[] {
  const profile = JSON.parse(text) as { nodes: readonly ProfileNode[] };
  const byFrame = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    // Shares of busy time: idle samples say nothing about the hot path.
    if (functionName === '(idle)') continue;
    total += hits;
    const file = url.replace(/^file:\/\/.*?\/(?=(waypoint|common|certs|node_modules)\/)/, '');
    const key = `${functionName === '' ? '(anonymous)' : functionName} (${file === '' ? 'native' : `${file}:${lineNumber + 1}`})`;
    byFrame.set(key, (byFrame.get(key) ?? 0) + hits);
  }
  return [...byFrame.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, hits]) => ({ where, selfPercent: Number(((hits * 100) / Math.max(1, total)).toFixed(1)) }));
}

/** Hot spots of the first `.cpuprofile` in `dir` (empty when there is none). */
export function hotSpotsInDir(dir: string, top: number): HotSpot[] {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  return file === undefined ? [] : hotSpots(readFileSync(join(dir, file), 'utf8'), top);
}
