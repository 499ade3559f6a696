/**
 * The server side of one HBONE `CONNECT` stream, handed to `onTunnel`: who is asking (the verified
 * SPIFFE id), for which target, with which headers, and the two ways to answer — `accept()` (200,
 * the stream becomes the byte pipe) or `refuse(status, reason)`.
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { MeshError } from '../errors.ts';
import type { HostPort } from './authority.ts';
import { HBONE_ERROR_HEADER, HboneStatus } from './constants.ts';

const UNSAFE_HEADER_CHARS = /[^\x20-\x7e]/g;
const MAX_REASON_LENGTH = 200;

/** Makes a reason safe for a header value and a short text body (printable ASCII, bounded). */
export function sanitizeReason(reason: string): string {
  return reason.replace(UNSAFE_HEADER_CHARS, '?').slice(0, MAX_REASON_LENGTH);
}

/** Extra response headers a caller may add to the 200 or a refusal. */
export type TunnelResponseHeaders = Readonly<Record<string, string | number>>;

/** One inbound CONNECT request, answered exactly once with accept() or refuse(). */
export class HboneTunnel {
  private answered = false;
  /** Address of the TCP peer of the session (the sending node agent or waypoint). */
  readonly remoteAddress: string | undefined;
  /** Port of the TCP peer of the session. */
  readonly remotePort: number | undefined;

  /**
   * @param stream the HTTP/2 stream carrying the CONNECT
   * @param peerId SPIFFE id of the session's verified client certificate
   * @param authority the parsed `:authority` target
   * @param headers the request headers (`forwarded`, `traceparent`, `tracestate`, `baggage`, …)
   */
  constructor(
    private readonly stream: ServerHttp2Stream,
    readonly peerId: string,
    readonly authority: HostPort,
    readonly headers: IncomingHttpHeaders,
  ) {
    // Read now: once the stream closes it no longer points at its session.
    const socket = stream.session?.socket;
    this.remoteAddress = socket?.remoteAddress;
    this.remotePort = socket?.remotePort;
  }

  /** True once accept() or refuse() was called, or the stream went away. */
  get settled(): boolean {
    return this.answered || this.stream.destroyed || this.stream.closed;
  }

  /** Answers 200 and returns the stream as a duplex byte pipe (END_STREAM = half-close). */
  accept(extraHeaders: TunnelResponseHeaders = {}): Duplex {
    this.claim();
    this.stream.respond({ ...extraHeaders, ':status': HboneStatus.ok });
    return this.stream;
  }

  /** Answers `status` (4xx/5xx) with the reason in the `waymesh-error` header and the body. */
  refuse(status: number, reason: string, extraHeaders: TunnelResponseHeaders = {}): void {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new MeshError('HBONE_BAD_STATUS', `an HBONE refusal must be a 4xx/5xx status, got ${status}`);
    }
    this.claim();
    respondError(this.stream, status, reason, extraHeaders);
  }

  private claim(): void {
    if (this.answered) {
      throw new MeshError('HBONE_ALREADY_ANSWERED', 'this HBONE tunnel was already accepted or refused', {
        hint: 'call accept() or refuse() exactly once per tunnel',
      });
    }
    if (this.stream.destroyed || this.stream.closed) {
      throw new MeshError('HBONE_STREAM_GONE', 'the client reset this HBONE stream before it was answered');
    }
    this.answered = true;
  }
}

/** Writes an error response with a text body on a stream not yet answered (no-op if it is gone). */
export function respondError(
  stream: ServerHttp2Stream,
  status: number,
  reason: string,
  extraHeaders: TunnelResponseHeaders = {},
): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  const text = sanitizeReason(reason);
  stream.respond({
    ...extraHeaders,
    ':status': status,
    'content-type': 'text/plain; charset=utf-8',
    [HBONE_ERROR_HEADER]: text,
  });
  stream.end(text + '\n');
}
