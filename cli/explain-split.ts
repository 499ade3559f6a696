/**
 * Helpers of the waypoint step of `waymesh x explain`: the failure of one backend share (no
 * ready endpoint, every endpoint refusing the waypoint's tunnel), the outcome of a whole split,
 * and the rate limits that count a request.
 */
import type { RateLimit, RouteEntry, ServiceKey } from '../common/ir/index.ts';
import { sourceId } from '../common/ir/source.ts';
import { EngineErrorCode } from '../waypoint/http/status.ts';
import type { RouteRequest } from '../waypoint/routing/index.ts';
import {
  edgeOutcome,
  objectRef,
  type BackendView,
  type ExplainOutcome,
  type ExplainStep,
} from './explain-model.ts';

/** `backend` with its status set when its requests fail before reaching an endpoint. */
export function withFailure(backend: BackendView): BackendView {
  if (backend.status !== undefined) return backend;
  const ready = backend.endpoints.filter((e) => e.ready);
  if (ready.length === 0)
    return {
      ...backend,
      ...edgeOutcome(EngineErrorCode.NO_ENDPOINTS, false),
      reason: `Service ${backend.service} has no ready endpoint for port ${backend.port}`,
    };
  if (ready.every((e) => e.l4 === 'denied')) {
    const policies = [...new Set(ready.map((e) => e.policy ?? 'mTLS mode'))].join(', ');
    return {
      ...backend,
      ...edgeOutcome(EngineErrorCode.CONNECT_FAILED, false),
      reason: `every ready endpoint's node agent refuses the waypoint's tunnel (${policies})`,
    };
  }
  return backend;
}

const CODE_BY_STATUS: ReadonlyMap<number, (typeof EngineErrorCode)[keyof typeof EngineErrorCode]> = new Map([
  [500, EngineErrorCode.INVALID_BACKEND],
  [502, EngineErrorCode.CONNECT_FAILED],
  [503, EngineErrorCode.NO_ENDPOINTS],
]);

const RESULT_BY_STATUS: ReadonlyMap<number, ExplainOutcome['result']> = new Map([
  [500, 'invalid-backend'],
  [502, 'refused'],
  [503, 'no-endpoints'],
]);

function describe(b: BackendView): string {
  return b.service === '-' ? `${b.share}%` : `${b.service}:${b.port} (${b.share}%)`;
}

/** The outcome of a request split over `backends` (each with its failure set by {@link withFailure}). */
export function summarize(backends: readonly BackendView[], grpc: boolean): ExplainOutcome {
  const failing = backends.filter((b) => b.status !== undefined);
  const ok = backends.filter((b) => b.status === undefined);
  if (failing.length === 0)
    return { result: 'forwarded', reason: `forwarded to ${backends.map(describe).join(', ')}` };
  const why = failing.map((b) => `${describe(b)}: ${b.status ?? ''} ${b.reason ?? ''}`).join('; ');
  if (ok.length > 0) {
    const share = Math.round(failing.reduce((n, b) => n + b.share, 0) * 10) / 10;
    return {
      result: 'forwarded',
      reason: `forwarded to ${ok.map(describe).join(', ')}; ${share}% of requests fail: ${why}`,
    };
  }
  const status = failing[0]?.status ?? 500;
  const code = CODE_BY_STATUS.get(status);
  const edge = code === undefined ? { status } : edgeOutcome(code, grpc);
  const result = RESULT_BY_STATUS.get(status) ?? (status >= 300 && status < 400 ? 'redirected' : 'refused');
  return { result, ...edge, reason: why };
}

const PER: Readonly<Record<RateLimit['key']['type'], string>> = {
  source: 'per caller identity',
  header: 'per header value',
  target: 'shared by every caller',
};

/**
 * Steps for the rate limits that apply to a request at the waypoint: those of the Service and
 * those of the route whose entry matched (as waypoint/program/hooks.ts selects them).
 */
export function waypointLimits(
  limits: readonly RateLimit[],
  service: ServiceKey,
  entry: RouteEntry | undefined,
  identity: string,
  req: RouteRequest,
): ExplainStep[] {
  const route = entry === undefined ? undefined : sourceId(entry.route);
  const out: ExplainStep[] = [];
  for (const l of limits) {
    const applies =
      (l.target.kind === 'service' && l.target.service === service) ||
      (l.target.kind === 'route' && route !== undefined && sourceId(l.target.route) === route);
    if (!applies) continue;
    const budget = `${l.requests} requests per ${l.periodSeconds}s ${PER[l.key.type]}`;
    let text: string;
    if (l.key.type === 'header' && req.header(l.key.name.toLowerCase()) === undefined)
      text = `${l.id}: ${budget} (${l.key.name}); does not apply, the request has no ${l.key.name} header`;
    else
      text =
        `${l.id}: ${budget}${l.key.type === 'header' ? ` (${l.key.name})` : ''}` +
        `${l.key.type === 'source' ? ` (${identity})` : ''}; counts this request, 429 once the budget is spent (budgets live in Redis)`;
    out.push({ step: 'ratelimit', object: objectRef(l.source), text });
  }
  return out;
}
