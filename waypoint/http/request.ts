/**
 * The downstream request, parsed once: {@link ParsedRequest} is both the router's
 * `RouteRequest` and the hooks' `RequestInfo`, so the method, path, query and authority are
 * split out a single time per request whatever reads them, the path normalized (target.ts).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Readable } from 'node:stream';

import type { RouteRequest } from '../routing/types.ts';
import { H1Request } from './h1/server.ts';
import { normalizeTarget, type PathNormalization } from './target.ts';
import type { RequestInfo, TunnelContext } from './types.ts';

/** `method` in uppercase; the same string when it has no lowercase letter (no copy per request). */
function upperMethod(method: string): string {
  for (let i = 0; i < method.length; i++) {
    const c = method.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) return method.toUpperCase();
  }
  return method;
}

/** A downstream request from either server (HTTP/1.1 or h2c; Node's `http` in tests of parts). */
export type DownstreamRequest = H1Request | Http2ServerRequest | IncomingMessage;

/** The request head as the router and the hooks see it. */
export class ParsedRequest implements RouteRequest, RequestInfo {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** The path and query exactly as received (`/a?b=1`). */
  readonly pathAndQuery: string;
  readonly authority: string;
  readonly grpc: boolean;
  readonly sourceIdentity: string | undefined;
  readonly sourceNamespace: string | undefined;
  readonly target: TunnelContext['target'];
  readonly headers: Readonly<IncomingHttpHeaders>;

  /** Why the request target cannot be served (answered 400 before any policy), else undefined. */
  readonly targetError: string | undefined;

  constructor(req: DownstreamRequest, tunnel: TunnelContext, normalization: PathNormalization = 'base') {
    this.method = upperMethod(req.method ?? 'GET');
    // HTTP/2's `:path` is always origin-form (RFC 9113 §8.3.1); HTTP/1.1 may send absolute-form.
    const target = normalizeTarget(req.url ?? '/', this.method, req.httpVersionMajor === 1, normalization);
    this.pathAndQuery = target.pathAndQuery;
    this.path = target.path;
    this.query = target.query;
    this.targetError = target.error;
    this.headers = req.headers;
    const authority = target.authority ?? req.headers[':authority'] ?? req.headers.host;
    this.authority = typeof authority === 'string' ? authority : '';
    const contentType = req.headers['content-type'];
    this.grpc =
      req.httpVersionMajor === 2 && contentType !== undefined && contentType.startsWith('application/grpc');
    this.sourceIdentity = tunnel.sourceIdentity;
    this.sourceNamespace = tunnel.sourceNamespace;
    this.target = tunnel.target;
  }

  /** Header value by lowercase name; several values joined with `, ` (`cookie` with `; `). */
  header(name: string): string | undefined {
    const value = this.headers[name];
    if (value === undefined || typeof value === 'string') return value;
    return value.join(name === 'cookie' ? '; ' : ', ');
  }

  /** True when the request has no body to send (no length, no chunking, or HTTP/2 ended). */
  static bodyless(req: DownstreamRequest): boolean {
    if (req instanceof H1Request) return req.body === undefined;
    if (req.httpVersionMajor === 2)
      return req.readableEnded || (req as Http2ServerRequest).stream.endAfterHeaders;
    const length = req.headers['content-length'];
    return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
  }

  /** The body stream of `req` (the request itself for Node's own request objects). */
  static bodyOf(req: DownstreamRequest): Readable | undefined {
    return req instanceof H1Request ? req.body : req;
  }
}
