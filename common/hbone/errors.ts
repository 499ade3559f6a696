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
