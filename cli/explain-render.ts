/** Text rendering of an {@link Explanation} for `waymesh x explain` (pure). */
import type { BackendView, Explanation } from './explain-model.ts';

function backendLines(b: BackendView): string[] {
  const head =
    b.service === '-'
      ? `  ${b.share}%  ${b.status ?? ''} ${b.reason ?? ''}`
      : `  ${b.share}%  ${b.service}:${b.port}${b.pathAndQuery === undefined ? '' : `  ${b.pathAndQuery}`}` +
        (b.status === undefined ? '' : `  → ${b.status}: ${b.reason ?? ''}`);
  const out = [head.trimEnd()];
  for (const e of b.endpoints) {
    const l4 =
      e.l4 === 'none'
        ? e.reason
        : `L4 ${e.l4}${e.policy === undefined ? '' : ` by ${e.policy}`}: ${e.reason}`;
    out.push(
      `      ${e.ready ? 'ready    ' : 'not ready'} ${e.pod} ${e.ip}:${e.port} on ${e.node || '-'}  ${l4}`,
    );
  }
  return out;
}

/** The lines `waymesh x explain` prints: steps, backends with shares and endpoints, outcome. */
export function renderExplanation(x: Explanation): string[] {
  const r = x.request;
  const out = [`${r.method} ${r.url}${r.grpc === undefined ? '' : ` (gRPC ${r.grpc})`} from ${r.from}`, ''];
  x.steps.forEach((s, i) => {
    const n = `${i + 1}.`.padEnd(4);
    out.push(`${n}${s.step.padEnd(11)}${s.object === undefined ? '' : `${s.object}: `}${s.text}`);
  });
  out.push('');
  if (x.waypoint !== undefined) out.push(`waypoint: ${x.waypoint}`);
  if (x.route !== undefined)
    out.push(`route:    ${x.route.object}`, `rule:     ${x.route.rule} (${x.route.entry})`);
  if (x.backends.length > 0) {
    out.push('backends:');
    for (const b of x.backends) out.push(...backendLines(b));
  }
  const o = x.outcome;
  const status =
    o.status === undefined
      ? ''
      : ` ${o.status}${o.grpcStatus === undefined ? '' : ` (grpc-status ${o.grpcStatus})`}`;
  out.push(`result:   ${o.result.toUpperCase()}${status}: ${o.reason}`);
  return out;
}
