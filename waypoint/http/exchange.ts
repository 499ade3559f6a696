/**
 * One downstream request in flight: its parsed head, the config it read at its start, what the
 * engine decided and answered (for the {@link RequestDone} record), the abort wiring that frees
 * the upstream when the client disappears, and local replies in HTTP or gRPC form.
 */
import { MeshError } from '../../common/errors.ts';
import { Cancel } from './cancel.ts';
import type { ServiceKey } from '../../common/ir/source.ts';
import { addHeaders } from './headers.ts';
import type { HeaderRecord } from './headers.ts';
import type { DownstreamRequest, ParsedRequest } from './request.ts';
import { EngineErrorCode, edgeStatus } from './status.ts';
import type { EngineConfig, RequestDone, UpstreamEndpoint } from './types.ts';

/**
 * A downstream response as the engine uses it: what the raw HTTP/1.1 server's `H1Response`,
 * Node's `Http2ServerResponse` (h2c) and Node's `ServerResponse` have in common.
 */
export interface DownstreamResponse {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  readonly writableFinished: boolean;
  writeHead(status: number, headers?: HeaderRecord): unknown;
  /** False when the caller should wait for `drain`. */
  write(chunk: Buffer): boolean;
  end(cb?: () => void): unknown;
  end(chunk: string | Buffer, cb?: () => void): unknown;
  addTrailers(headers: HeaderRecord): void;
  destroy(): unknown;
  once(event: 'close' | 'drain', listener: () => void): unknown;
  off(event: 'close' | 'drain', listener: () => void): unknown;
}

/** Why the client-side of an exchange was aborted. */
export const CLIENT_GONE = new MeshError(EngineErrorCode.CLIENT_GONE, 'the client went away');

/** The state of one request. */
export class Exchange {
  readonly startedAt = performance.now();
  route: string | undefined;
  rule: string | undefined;
  outcome = 'error';
  status = 0;
  grpcStatus: number | undefined;
  attempts = 0;
  backend: ServiceKey | undefined;
  endpoint: UpstreamEndpoint | undefined;
  errorCode: string | undefined;
  policy: string | undefined;
  /** Headers every answer carries (e.g. `ratelimit-*`). */
  extraHeaders: Readonly<Record<string, string>> | undefined;
  /** Aborted when the client goes away before the response is complete. */
  readonly clientGone = new Cancel();

  constructor(
    readonly req: DownstreamRequest,
    readonly res: DownstreamResponse,
    readonly parsed: ParsedRequest,
    readonly config: EngineConfig,
  ) {
    res.once('close', () => {
      if (!res.writableFinished) this.clientGone.abort(CLIENT_GONE);
    });
  }

  /** Answers locally with the HTTP and gRPC status of `err` and its message. */
  replyError(err: unknown): void {
    const status = edgeStatus(err);
    this.errorCode = err instanceof MeshError ? err.code : 'WAYPOINT_INTERNAL';
    const message = err instanceof MeshError ? err.message : 'internal error in the waypoint';
    this.reply(status.http, status.grpc, message);
  }

  /** Answers locally: `http` with a text body, or for gRPC 200 with `grpc-status` (trailers-only). */
  reply(http: number, grpc: number, message: string, headers?: HeaderRecord): void {
    const res = this.res;
    if (res.headersSent || res.destroyed) {
      // Too late for a clean answer: cut the stream so the client sees an error, not a short body.
      this.status = this.status === 0 ? http : this.status;
      res.destroy();
      return;
    }
    const out: HeaderRecord = headers ?? {};
    addHeaders(out, this.extraHeaders);
    if (this.parsed.grpc) {
      this.status = 200;
      this.grpcStatus = grpc;
      out['content-type'] = 'application/grpc';
      res.writeHead(200, out);
      // In trailers, not headers: a HEADERS frame without END_STREAM carrying grpc-status is
      // not a trailers-only response, and grpc-js would report "ended without gRPC status".
      res.addTrailers({ 'grpc-status': String(grpc), 'grpc-message': encodeURIComponent(message) });
      res.end();
      return;
    }
    this.status = http;
    const body = message + '\n';
    out['content-type'] = 'text/plain; charset=utf-8';
    out['content-length'] = String(Buffer.byteLength(body));
    res.writeHead(http, out);
    res.end(body);
  }

  /** The record handed to `onRequestDone` / `onEnd`. */
  done(): RequestDone {
    return {
      route: this.route,
      rule: this.rule,
      outcome: this.outcome,
      status: this.status,
      grpcStatus: this.grpcStatus,
      durationMs: performance.now() - this.startedAt,
      attempts: this.attempts,
      retries: Math.max(0, this.attempts - 1),
      source: this.parsed.sourceIdentity,
      service: this.parsed.target.service,
      backend: this.backend,
      errorCode: this.errorCode,
      policy: this.policy,
      method: this.parsed.method,
      path: this.parsed.path,
      endpoint: this.endpoint,
    };
  }
}
