/**
 * The waypoint's upstream connector: every connection to an endpoint is an HBONE tunnel to the
 * endpoint's node agent (`<pod ip>:15008`, authority `<pod ip>:<target port>`) over a shared,
 * pooled {@link HboneClient}, presenting the waypoint's current certificate and accepting only
 * the endpoint workload's own SPIFFE id.
 */
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

import { verifyTlsPeer, type TrustBundle } from '../certs/index.ts';
import { MeshError } from '../common/errors.ts';
import {
  formatAuthority,
  HBONE_PORT,
  type HboneClient,
  type HboneClientTls,
  type PeerVerifier,
} from '../common/hbone/index.ts';
import { formatSpiffeId } from '../common/spiffe.ts';
import type { UpstreamConnector, UpstreamEndpoint } from './http/index.ts';

/** What the connector reads per connection (the live identity and configuration). */
export interface HboneUpstreamOptions {
  readonly client: HboneClient;
  /** The waypoint's current client TLS material and trust bundle. */
  readonly tls: () => { readonly material: HboneClientTls; readonly bundle: TrustBundle };
  /** The SPIFFE id the endpoint's HBONE server must present; undefined when unknown. */
  readonly identityOf: (endpoint: UpstreamEndpoint) => string | undefined;
  /** The HBONE port on endpoints; default 15008 (tests use others). */
  readonly hbonePort?: number;
  readonly connectTimeoutMs?: number;
}

/** Builds the verifier that accepts exactly `expected`, chained to `bundle`. */
export function expectPeer(bundle: TrustBundle, expected: string): PeerVerifier {
  return (socket: TLSSocket) => {
    const got = formatSpiffeId(verifyTlsPeer(socket, bundle, 'server'));
    if (got !== expected) {
      throw new MeshError('UPSTREAM_WRONG_IDENTITY', `the endpoint presented ${got}, expected ${expected}`, {
        hint: 'the pod behind this IP is not the workload the snapshot lists; is the snapshot stale?',
      });
    }
    return got;
  };
}

/** Opens HBONE tunnels to endpoints for the HTTP engine and for L4 passthrough. */
export class HboneUpstream implements UpstreamConnector {
  private readonly port: number;

  constructor(private readonly opts: HboneUpstreamOptions) {
    this.port = opts.hbonePort ?? HBONE_PORT;
  }

  /** Resolves with the tunnel's byte stream; rejects with a MeshError (or on `signal`). */
  async connect(endpoint: UpstreamEndpoint, signal: AbortSignal): Promise<Duplex> {
    signal.throwIfAborted();
    const expected = this.opts.identityOf(endpoint);
    if (expected === undefined) {
      throw new MeshError(
        'UPSTREAM_IDENTITY_UNKNOWN',
        `endpoint ${endpoint.ip} of ${endpoint.service} has no workload identity in the snapshot`,
        { hint: 'only mesh workloads (captured pods) can be reached through a waypoint' },
      );
    }
    const { material, bundle } = this.opts.tls();
    const opening = this.opts.client.open({
      via: { host: endpoint.ip, port: this.port },
      authority: formatAuthority(endpoint.ip, endpoint.port),
      tls: material,
      verifyServer: expectPeer(bundle, expected),
      ...(this.opts.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: this.opts.connectTimeoutMs }),
    });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const tunnel = await Promise.race([opening, aborted]);
      return tunnel.stream;
    } catch (err) {
      // A tunnel that opens after the abort is closed at once.
      opening.then((t) => t.stream.destroy()).catch(() => undefined);
      throw err;
    } finally {
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    }
  }
}
