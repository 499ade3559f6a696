/**
 * HBONE's coded errors. Codes (all MeshError): `HBONE_REFUSED` (the peer answered non-200; this
 * class), `HBONE_PEER_REJECTED` (TLS or identity check failed, either way), `HBONE_CONNECT_TIMEOUT`,
 * `HBONE_CONNECT_FAILED`, `HBONE_STREAM_FAILED` (reset before the answer), `HBONE_CLIENT_CLOSED`,
 * `HBONE_LISTEN_FAILED`.
 */
import { MeshError } from '../errors.ts';

/** The tunnel endpoint answered the CONNECT with a refusal status (401/403/400/503/504/…). */
export class HboneRefusedError extends MeshError {
  constructor(
    readonly status: number,
    readonly reason: string,
    authority: string,
  ) {
    super('HBONE_REFUSED', `HBONE CONNECT to ${authority} refused with ${status}: ${reason}`, {
      hint: refusalHint(status),
    });
  }
}

function refusalHint(status: number): string {
  switch (status) {
    case 401:
      return 'the peer did not accept our identity';
    case 403:
      return 'an AuthorizationPolicy at the destination denied this source';
    case 400:
      return 'the CONNECT target must be ip:port';
    case 503:
      return 'the target refused or is unreachable from the destination';
    case 504:
      return 'the destination timed out connecting to the target';
    default:
      return '';
  }
}

/** What a tunnel that failed to open means for the caller's choice of endpoint. */
export interface TunnelFailover {
  /** The error code, for the retry metric and the log. */
  readonly code: string;
  /** True when the endpoint itself looks down: skip it for a while (EndpointHealth). */
  readonly eject: boolean;
}

/**
 * Whether a tunnel that failed to open may be tried on another endpoint of the same Service:
 * nothing reached the destination's application, so that is safe for any request or connection.
 * A peer that could not be reached (refused, timed out, closed as soon as it opened) is also
 * ejected for a while; one whose agent could not reach its pod (503) or that reset the stream
 * before answering is not. Policy and identity refusals (401, 403), TLS failures and timeouts of
 * the target (504) are final: another endpoint would answer the same. Undefined for any other
 * error.
 */
export function tunnelFailover(err: unknown): TunnelFailover | undefined {
  if (err instanceof HboneRefusedError)
    return err.status === 503 ? { code: 'HBONE_REFUSED_503', eject: false } : undefined;
  if (!(err instanceof MeshError)) return undefined;
  switch (err.code) {
    case 'HBONE_CONNECT_FAILED':
    case 'HBONE_CONNECT_TIMEOUT':
      return { code: err.code, eject: true };
    case 'HBONE_STREAM_FAILED':
      return { code: err.code, eject: false };
    default:
      return undefined;
  }
}
