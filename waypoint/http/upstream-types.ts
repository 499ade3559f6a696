/** The shape of one upstream exchange, shared by the HTTP/1.1 and HTTP/2 upstream pools. */
import type { Readable } from 'node:stream';

import type { CancelSignal } from './cancel.ts';
import type { HeaderRecord } from './headers.ts';

/** Loose header map as both HTTP stacks return them. */
export type LooseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** A request ready to send upstream (headers already end-to-end and edited). */
export interface UpstreamRequestSpec {
  readonly method: string;
  readonly pathAndQuery: string;
  readonly authority: string;
  readonly headers: HeaderRecord;
  /** A buffered (replayable) body, a stream (single use), or none. */
  readonly body: Buffer | Readable | undefined;
}

/** An upstream response whose body is still to be read (with back-pressure). */
export interface UpstreamResponse {
  readonly status: number;
  readonly headers: LooseHeaders;
  readonly body: Readable;
  /**
   * The whole body when it had arrived with the head (then `body` is not needed: reading it
   * makes a stream of these bytes); undefined when the body streams.
   */
  readonly whole?: Buffer;
  /** The trailers, once `body` has ended; undefined when there were none. */
  trailers(): LooseHeaders | undefined;
}

/** One HTTP stack's pool towards one endpoint. */
export interface UpstreamPool {
  send(spec: UpstreamRequestSpec, signal: CancelSignal): Promise<UpstreamResponse>;
  close(): Promise<void>;
}
