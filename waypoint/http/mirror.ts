/**
 * Request mirroring (Gateway API `RequestMirror`): a fire-and-forget copy of the request to
 * another backend. It never delays or changes the main response; its answer is read and
 * dropped, failures are only counted. A body is mirrored only when it was buffered (small).
 */
import type { MirrorTarget } from '../routing/types.ts';
import type { EndpointPicker } from './endpoints.ts';
import { applyHeaderEdits, endToEndHeaders } from './headers.ts';
import type { ParsedRequest } from './request.ts';
import type { EngineConfig } from './types.ts';
import { upstreamProtocol } from './upstreams.ts';
import type { Upstreams } from './upstreams.ts';

/** How long a mirrored request may take before it is abandoned. */
export const MIRROR_TIMEOUT_MS = 10_000;

/** Counters of mirrored requests. */
export interface MirrorStats {
  sent: number;
  failed: number;
  /** Skipped because the request body was too large to copy. */
  skipped: number;
}

/** Sends mirrors for one engine. */
export class Mirrors {
  readonly stats: MirrorStats = { sent: 0, failed: 0, skipped: 0 };

  constructor(
    private readonly picker: EndpointPicker,
    private readonly upstreams: Upstreams,
  ) {}

  /** Starts a mirror of `parsed` (body: a buffered body, undefined for none, null when too large). */
  send(
    config: EngineConfig,
    target: MirrorTarget,
    parsed: ParsedRequest,
    body: Buffer | undefined | null,
  ): void {
    if (body === null) {
      this.stats.skipped++;
      return;
    }
    const { service, port } = target.backend;
    const endpoint = this.picker.pick(config.services, service, port);
    if (endpoint === undefined) {
      this.stats.failed++;
      return;
    }
    this.stats.sent++;
    const headers = applyHeaderEdits(endToEndHeaders(parsed.headers), target.request.headerEdits);
    const pool = this.upstreams.pool(endpoint, upstreamProtocol(config.services, service, port, parsed.grpc));
    pool
      .send(
        {
          method: parsed.method,
          pathAndQuery: target.request.pathAndQuery,
          authority: target.request.authority,
          headers,
          body,
        },
        AbortSignal.timeout(MIRROR_TIMEOUT_MS),
      )
      .then(
        (response) => {
          response.body.on('error', () => undefined);
          response.body.on('close', () => this.picker.release(endpoint));
          response.body.resume();
        },
        () => {
          this.stats.failed++;
          this.picker.release(endpoint);
        },
      );
  }
}
