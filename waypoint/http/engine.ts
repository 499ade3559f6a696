/**
 * The waypoint's HTTP engine: serves HTTP/1.1, h2c and gRPC inside HBONE tunnels. A tunnel is
 * any Duplex plus its {@link TunnelContext}; the engine picks the protocol (the port's
 * `appProtocol`, else detection) and hands the stream to one of its two in-process servers.
 */
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';

import { errorMessage, MeshError } from '../../common/errors.ts';
import { silentLogger } from '../../common/log.ts';
import { detectProtocol } from './detect.ts';
import { EndpointPicker } from './endpoints.ts';
import { H1Server } from './h1/server.ts';
import { handleRequest } from './handler.ts';
import type { HandlerDeps } from './handler.ts';
import { Mirrors } from './mirror.ts';
import type { MirrorStats } from './mirror.ts';
import { createH2Server } from './servers.ts';
import type { BadInputStats } from './servers.ts';
import { EngineErrorCode } from './status.ts';
import type { EngineLimits, HttpEngineOptions, TunnelContext } from './types.ts';
import { Upstreams } from './upstreams.ts';

/** The limits used where options leave them out. */
export const DEFAULT_LIMITS: EngineLimits = Object.freeze({
  maxHeaderSize: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 60_000,
  maxHeadersCount: 100,
  maxConcurrentStreams: 100,
  maxHeaderListSize: 16 * 1024,
  replayBodyBytes: 64 * 1024,
  detectTimeoutMs: 10_000,
});

/** Engine counters for tests, metrics and the admin dump. */
export interface EngineStats {
  readonly tunnels: number;
  readonly badInput: BadInputStats;
  readonly mirrors: MirrorStats;
  /** Outstanding upstream requests by endpoint `ip:port`. */
  readonly outstanding: Readonly<Record<string, number>>;
  readonly pools: number;
}

/** A running HTTP engine. */
export interface HttpEngine {
  /** Serves HTTP inside `stream` until it closes; throws a MeshError for `tcp` tunnels or after stop. */
  serveTunnel(stream: Duplex, ctx: TunnelContext): void;
  stats(): EngineStats;
  /** Refuses new tunnels, lets open ones finish up to `deadlineMs`, then cuts them and the pools. */
  stop(options: { deadlineMs: number }): Promise<void>;
}

/** Creates an engine; it holds no sockets of its own until tunnels are handed to it. */
export function createHttpEngine(options: HttpEngineOptions): HttpEngine {
  const limits: EngineLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const logger = (options.logger ?? silentLogger).child({ component: 'waypoint-http' });
  const random = options.random ?? Math.random;
  const picker = options.picker ?? new EndpointPicker(random);
  const upstreams = new Upstreams(options.connector);
  const deps: HandlerDeps = {
    getConfig: options.getConfig,
    random,
    logger,
    picker,
    upstreams,
    mirrors: new Mirrors(picker, upstreams),
    hooks: options.hooks ?? {},
    limits,
    pathNormalization: options.pathNormalization ?? 'base',
  };
  const badInput: BadInputStats = { byStatus: {}, h2SessionErrors: 0 };
  const contexts = new WeakMap<object, TunnelContext>();
  const tunnels = new Set<Duplex>();
  let pendingH2: TunnelContext | undefined;
  let stopping = false;

  const failed = (err: unknown): void => logger.error('request hook failed', { error: errorMessage(err) });
  const h1 = new H1Server<TunnelContext>(
    {
      maxHeadBytes: limits.maxHeaderSize,
      maxFields: limits.maxHeadersCount,
      headersTimeoutMs: limits.headersTimeoutMs,
      requestTimeoutMs: limits.requestTimeoutMs,
      keepAliveTimeoutMs: limits.keepAliveTimeoutMs,
    },
    (req, res, ctx) => {
      handleRequest(deps, req, res, ctx).catch(failed);
    },
    (status) => {
      badInput.byStatus[status] = (badInput.byStatus[status] ?? 0) + 1;
    },
  );
  const serveH2 = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
    const ctx = contexts.get(req.stream.session ?? req);
    if (ctx === undefined) {
      res.destroy();
      return;
    }
    handleRequest(deps, req, res, ctx).catch(failed);
  };
  const h2 = createH2Server(limits, badInput, serveH2);
  h2.on('session', (session: ServerHttp2Session) => {
    if (pendingH2 !== undefined) contexts.set(session, pendingH2);
  });

  const hand = (stream: Duplex, ctx: TunnelContext, kind: 'h1' | 'h2'): void => {
    if (stream.destroyed) return;
    if (kind === 'h2') {
      // The server creates the session synchronously inside emit('connection').
      pendingH2 = ctx;
      h2.emit('connection', stream);
      pendingH2 = undefined;
    } else h1.serve(stream, ctx);
  };

  return {
    serveTunnel(stream, ctx) {
      if (stopping) {
        throw new MeshError(EngineErrorCode.STOPPING, 'the waypoint is stopping and accepts no new tunnels', {
          hint: 'the node agent retries on another waypoint replica',
        });
      }
      if (ctx.protocol === 'tcp') {
        throw new MeshError(
          EngineErrorCode.UNSUPPORTED_PROTOCOL,
          `service ${ctx.target.service} port ${ctx.target.port} declares appProtocol tcp; the HTTP engine cannot serve it`,
          { hint: 'TCP service ports must be passed through at L4 by the HBONE server' },
        );
      }
      tunnels.add(stream);
      stream.once('close', () => tunnels.delete(stream));
      stream.on('error', (err) => logger.debug('tunnel error', { error: errorMessage(err) }));
      if (ctx.protocol === 'http') hand(stream, ctx, 'h1');
      else if (ctx.protocol === 'http2' || ctx.protocol === 'grpc') hand(stream, ctx, 'h2');
      else {
        detectProtocol(stream, limits.detectTimeoutMs)
          .then(
            (kind) => hand(stream, ctx, kind),
            (err: unknown) => {
              logger.debug('protocol detection failed', { error: errorMessage(err) });
              stream.destroy();
            },
          )
          .catch((err: unknown) => {
            // A throw from a server's connection handling must end this tunnel, not the process.
            logger.error('serving a tunnel failed', { error: errorMessage(err) });
            stream.destroy();
          });
      }
    },
    stats() {
      return {
        tunnels: tunnels.size,
        badInput,
        mirrors: deps.mirrors.stats,
        outstanding: picker.snapshot(),
        pools: upstreams.size,
      };
    },
    async stop({ deadlineMs }) {
      stopping = true;
      h1.closeIdle();
      const until = Date.now() + deadlineMs;
      while (tunnels.size > 0 && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        h1.closeIdle();
      }
      for (const t of tunnels) t.destroy();
      h1.close();
      h2.close();
      await upstreams.close();
    },
  };
}
