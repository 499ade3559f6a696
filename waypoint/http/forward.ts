/**
 * Carries out a `forward` (or `passthrough`) decision: header edits and rewrites, endpoint
 * choice (least outstanding requests), attempts with per-attempt and overall timeouts, retries
 * with backoff when the body can be replayed, mirrors, and the response relayed with
 * back-pressure and trailers. Every failure becomes a MeshError for the edge to answer.
 *
 * Failover: when the tunnel to the chosen endpoint cannot be opened (see `connectFailover`),
 * nothing reached the backend, so the request goes at once to another endpoint it has not tried,
 * up to `MAX_FAILOVERS` (endpoints.ts) times, whatever the route's retry policy says (as Envoy retries
 * connect failures by default); these tries do not use up the policy's retries. An unreachable
 * endpoint is also skipped by later picks for a while (`EndpointPicker.failover`).
 */
import type { HeaderEdits, RetryPolicy, Timeouts } from '../../common/ir/routes.ts';
import type { ServiceKey } from '../../common/ir/source.ts';
import type { MirrorTarget, UpstreamRequest } from '../routing/types.ts';
import { readReplayable } from './body.ts';
import { Cancel } from './cancel.ts';
import type { RequestBody } from './body.ts';
import type { Exchange } from './exchange.ts';
import type { EndpointPicker } from './endpoints.ts';
import { applyHeaderEdits, endToEndHeaders } from './headers.ts';
import type { HeaderRecord } from './headers.ts';
import {
  attemptError,
  connectFailover,
  noEndpoints,
  retryableStatus,
  sleep,
  timeoutError,
} from './attempt.ts';
import type { Mirrors } from './mirror.ts';
import { relayResponse } from './relay.ts';
import { ParsedRequest } from './request.ts';
import { EngineErrorCode, edgeStatus, httpEquivalentOfGrpc, parseGrpcStatus } from './status.ts';
import type { AttemptInfo, EngineHooks, EngineLimits, UpstreamEndpoint } from './types.ts';
import { upstreamProtocol } from './upstreams.ts';
import type { Upstreams } from './upstreams.ts';

/** A backend to send to and how (from a `forward` decision, or built for `passthrough`). */
export interface ForwardPlan {
  readonly service: ServiceKey;
  readonly port: number;
  readonly request: UpstreamRequest;
  readonly responseEdits: readonly HeaderEdits[];
  readonly mirrors: readonly MirrorTarget[];
  readonly timeouts: Timeouts;
  readonly retry: RetryPolicy | undefined;
}

/** What the forwarder needs from its engine. */
export interface ForwardDeps {
  readonly picker: EndpointPicker;
  readonly upstreams: Upstreams;
  readonly mirrors: Mirrors;
  readonly hooks: EngineHooks;
  readonly limits: EngineLimits;
}

/** Forwards `ex` per `plan`; resolves when the response is relayed, rejects with a MeshError. */
export async function forward(deps: ForwardDeps, ex: Exchange, plan: ForwardPlan): Promise<void> {
  ex.backend = plan.service;
  const overall = plan.timeouts.requestMs;
  let deadlineHit = false;
  let current: Cancel | undefined;
  const deadline =
    overall === undefined
      ? undefined
      : setTimeout(() => {
          deadlineHit = true;
          current?.abort(timeoutError('request', overall, plan.service));
        }, overall);
  try {
    const wantsReplay = (plan.retry !== undefined && plan.retry.attempts > 0) || plan.mirrors.length > 0;
    let body: RequestBody | undefined;
    const stream = ParsedRequest.bodyless(ex.req) ? undefined : ParsedRequest.bodyOf(ex.req);
    if (stream === undefined) body = undefined;
    else if (wantsReplay) {
      // The request deadline also covers a slow upload being buffered for replay.
      current = new Cancel();
      body = await readReplayable(stream, deps.limits.replayBodyBytes, current);
    } else body = stream;
    const replayable = body === undefined || Buffer.isBuffer(body);
    for (const mirror of plan.mirrors) {
      deps.mirrors.send(ex.config, mirror, ex.parsed, replayable ? (body as Buffer | undefined) : null);
    }
    // `retry.attempts` counts retries, as the Gateway API defines it: one try plus that many more.
    let maxAttempts = replayable && plan.retry !== undefined ? 1 + Math.max(0, plan.retry.attempts) : 1;
    const protocol = upstreamProtocol(ex.config.services, plan.service, plan.port, ex.parsed.grpc);
    const base = applyHeaderEdits(endToEndHeaders(ex.req.headers), plan.request.headerEdits);
    // Failover state: the endpoints whose tunnel failed, and the one picked to try next.
    let unreachable: Set<string> | undefined;
    let next: UpstreamEndpoint | undefined;
    for (let attempt = 1; ; attempt++) {
      if (deadlineHit) {
        if (next !== undefined) deps.picker.release(next);
        throw timeoutError('request', overall ?? 0, plan.service);
      }
      const endpoint = next ?? deps.picker.pick(ex.config.services, plan.service, plan.port);
      next = undefined;
      if (endpoint === undefined) throw noEndpoints(plan.service, plan.port);
      ex.attempts = attempt;
      ex.endpoint = endpoint;
      const info: AttemptInfo = { attempt, backend: plan.service, endpoint };
      // Each attempt gets its own copy (tracing adds per-attempt headers); a single try uses base.
      const headers: HeaderRecord = maxAttempts === 1 ? base : { ...base };
      const traced = deps.hooks.onAttempt?.(ex.parsed, info);
      if (traced !== undefined) Object.assign(headers, traced);
      const perTry = plan.timeouts.backendRequestMs;
      // The common case (one try, no timeouts) aborts on the exchange's own signal: no
      // controller, listener or closure per attempt. A timeout or a retry needs a signal of
      // the attempt's own, which can fire without the client having gone.
      const ctl =
        perTry === undefined && overall === undefined && maxAttempts === 1 ? undefined : new Cancel();
      current = ctl;
      const signal = ctl ?? ex.clientGone;
      const onClientGone = ctl === undefined ? undefined : (): void => ctl.abort(ex.clientGone.reason);
      if (onClientGone !== undefined) ex.clientGone.addEventListener('abort', onClientGone);
      const timer =
        perTry === undefined || ctl === undefined
          ? undefined
          : setTimeout(() => ctl.abort(timeoutError('backendRequest', perTry, plan.service)), perTry);
      let released = false;
      const finish = (): void => {
        if (released) return;
        released = true;
        if (timer !== undefined) clearTimeout(timer);
        if (onClientGone !== undefined) ex.clientGone.removeEventListener('abort', onClientGone);
        deps.picker.release(endpoint);
      };
      try {
        if (ctl !== undefined && ex.clientGone.aborted) ctl.abort(ex.clientGone.reason);
        const response = await deps.upstreams.pool(endpoint, protocol).send(
          {
            method: ex.parsed.method,
            pathAndQuery: plan.request.pathAndQuery,
            authority: plan.request.authority,
            headers,
            body,
          },
          signal,
        );
        deps.picker.succeeded(endpoint);
        const grpc = ex.parsed.grpc ? parseGrpcStatus(response.headers['grpc-status']) : undefined;
        const effective =
          grpc === undefined || response.status !== 200 ? response.status : httpEquivalentOfGrpc(grpc);
        deps.hooks.onAttemptEnd?.(ex.parsed, info, response.status, undefined);
        if (attempt < maxAttempts && plan.retry !== undefined && retryableStatus(plan.retry, effective)) {
          // Drop the refused answer; the connection may be cut, which is cheaper than reading it.
          response.body.destroy();
          finish();
          await sleep(plan.retry.backoffMs, ex.clientGone);
          continue;
        }
        await relayResponse(ex, response, plan.responseEdits, signal);
        finish();
        return;
      } catch (err) {
        finish();
        const mapped = attemptError(err, signal, plan.service, endpoint);
        deps.hooks.onAttemptEnd?.(ex.parsed, info, 0, mapped.code);
        const failover = connectFailover(mapped);
        if (failover !== undefined) {
          unreachable ??= new Set();
          next = deps.picker.failover(
            ex.config.services,
            plan.service,
            plan.port,
            endpoint,
            failover,
            unreachable,
            deadlineHit || ex.clientGone.aborted,
          );
          if (next !== undefined) {
            maxAttempts++;
            continue;
          }
        }
        const retry =
          attempt < maxAttempts &&
          plan.retry !== undefined &&
          !ex.res.headersSent &&
          !deadlineHit &&
          !ex.clientGone.aborted &&
          (mapped.code === EngineErrorCode.CONNECT_FAILED ||
            retryableStatus(plan.retry, edgeStatus(mapped).http));
        if (!retry) throw mapped;
        await sleep(plan.retry?.backoffMs ?? 0, ex.clientGone);
      }
    }
  } finally {
    if (deadline !== undefined) clearTimeout(deadline);
  }
}
