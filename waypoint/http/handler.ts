/**
 * The per-request flow: parse once, read the config once, authorization and rate limit hooks,
 * the router's decision, then act on it (forward, passthrough, redirect, refuse). Every error is
 * rescued here, at the edge, into an HTTP status and a gRPC status.
 */
import { errorMessage, MeshError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { sourceId } from '../../common/ir/source.ts';
import type { SourceRef } from '../../common/ir/source.ts';
import type { Random } from '../routing/types.ts';
import { Exchange } from './exchange.ts';
import type { DownstreamResponse } from './exchange.ts';
import { forward } from './forward.ts';
import type { ForwardDeps } from './forward.ts';
import { addHeaders, applyHeaderEdits } from './headers.ts';
import { ParsedRequest } from './request.ts';
import type { DownstreamRequest } from './request.ts';
import { EngineErrorCode } from './status.ts';
import type { PathNormalization } from './target.ts';
import type { EngineConfig, TunnelContext } from './types.ts';

const NO_EDITS: readonly never[] = [];

/** Everything a request needs from its engine. */
export interface HandlerDeps extends ForwardDeps {
  readonly getConfig: () => EngineConfig;
  readonly random: Random;
  readonly logger: Logger;
  readonly pathNormalization: PathNormalization;
}

/** Serves one request; never rejects (errors become local replies). */
export async function handleRequest(
  deps: HandlerDeps,
  req: DownstreamRequest,
  res: DownstreamResponse,
  tunnel: TunnelContext,
): Promise<void> {
  const parsed = new ParsedRequest(req, tunnel, deps.pathNormalization);
  const ex = new Exchange(req, res, parsed, deps.getConfig());
  const hooks = deps.hooks;
  hooks.onStart?.(parsed);
  try {
    // Awaited only when serving went asynchronous (forwarding, a rate-limit check).
    const pending = serve(deps, ex);
    if (pending !== undefined) await pending;
  } catch (err) {
    if (!ex.clientGone.aborted) {
      if (!(err instanceof MeshError)) deps.logger.error('request failed', { error: errorMessage(err) });
      ex.replyError(err);
    } else {
      ex.errorCode = EngineErrorCode.CLIENT_GONE;
      ex.status = ex.status === 0 ? 499 : ex.status;
    }
  }
  const done = ex.done();
  hooks.onEnd?.(parsed, done);
  hooks.onRequestDone?.(done);
}

/** Authorization and rate limit, then routing; a promise only while work is pending. */
function serve(deps: HandlerDeps, ex: Exchange): Promise<void> | undefined {
  const { parsed } = ex;
  if (parsed.targetError !== undefined) throw new MeshError(EngineErrorCode.BAD_REQUEST, parsed.targetError);
  const hooks = deps.hooks;
  const authz = hooks.authorize?.(parsed);
  if (authz !== undefined && !authz.allowed) {
    ex.outcome = 'denied';
    ex.policy = authz.policy;
    throw new MeshError(EngineErrorCode.DENIED, `denied by ${authz.policy || 'policy'}: ${authz.reason}`);
  }
  const limiting = hooks.rateLimit?.(parsed);
  if (limiting === undefined) return route(deps, ex);
  return limiting.then((limit) => {
    ex.extraHeaders = limit.headers;
    if (!limit.allowed) {
      ex.outcome = 'rate-limited';
      ex.policy = limit.policy;
      throw new MeshError(EngineErrorCode.RATE_LIMITED, `rate limit of ${limit.policy || 'policy'} exceeded`);
    }
    return route(deps, ex);
  });
}

/** Acts on the router's decision: forwarding returns its promise, the rest answer or throw. */
function route(deps: HandlerDeps, ex: Exchange): Promise<void> | undefined {
  const { parsed, config } = ex;
  // Built field by field: a spread with extra properties takes V8's slow path (~0.5 µs).
  const target = {
    service: parsed.target.service,
    port: parsed.target.port,
    sourceNamespace: parsed.sourceNamespace,
  };
  const decision = config.router.decide(target, parsed, deps.random);
  ex.outcome = decision.kind;
  switch (decision.kind) {
    case 'passthrough':
      return forward(deps, ex, {
        service: decision.service,
        port: decision.port,
        request: { pathAndQuery: parsed.pathAndQuery, authority: parsed.authority, headerEdits: NO_EDITS },
        responseEdits: NO_EDITS,
        mirrors: NO_EDITS,
        timeouts: {},
        retry: undefined,
      });
    case 'no-match':
      throw new MeshError(
        EngineErrorCode.NO_ROUTE,
        `no route rule of ${parsed.target.service} port ${parsed.target.port} matches ${parsed.method} ${parsed.path}`,
      );
    case 'redirect': {
      ex.route = routeId(decision.entry.route);
      ex.rule = decision.entry.rule;
      const headers = applyHeaderEdits({ location: decision.location }, decision.responseEdits);
      addHeaders(headers, ex.extraHeaders);
      ex.status = decision.status;
      ex.res.writeHead(decision.status, headers);
      ex.res.end();
      return;
    }
    case 'invalid-backend':
      ex.route = routeId(decision.entry.route);
      ex.rule = decision.entry.rule;
      throw new MeshError(
        EngineErrorCode.INVALID_BACKEND,
        `route ${ex.route} rule ${ex.rule} chose an invalid backend: ${decision.backend.reason}`,
        { hint: 'see the route status conditions (ResolvedRefs)' },
      );
    case 'forward':
      ex.route = routeId(decision.entry.route);
      ex.rule = decision.entry.rule;
      return forward(deps, ex, {
        service: decision.backend.service,
        port: decision.backend.port,
        request: decision.request,
        responseEdits: decision.responseEdits,
        mirrors: decision.mirrors,
        timeouts: decision.timeouts,
        retry: decision.retry,
      });
  }
}

const ROUTE_IDS = new WeakMap<SourceRef, string>();

/** `sourceId` of a route, made once per route object of the snapshot (the same string each time). */
function routeId(route: SourceRef): string {
  let id = ROUTE_IDS.get(route);
  if (id === undefined) {
    id = sourceId(route);
    ROUTE_IDS.set(route, id);
  }
  return id;
}
