/**
 * HTTP/2 upstream (h2c prior knowledge inside the tunnel) for backends whose `appProtocol` is
 * `http2`/`grpc`: one multiplexed `node:http2` session per endpoint over a stream from the
 * {@link UpstreamConnector}. Node's client is used rather than undici's because undici 7 drops
 * HTTP/2 response trailers, which gRPC needs (`grpc-status`).
 */
import http2 from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';

import { MeshError } from '../../common/errors.ts';
import { toAbortSignal } from './cancel.ts';
import type { CancelSignal } from './cancel.ts';
import { endpointKey } from './endpoints.ts';
import { quietErrors } from './quiet-errors.ts';
import { EngineErrorCode } from './status.ts';
import type { UpstreamConnector, UpstreamEndpoint } from './types.ts';
import { CONNECT_TIMEOUT_MS, openUpstream } from './upstream-h1.ts';
import type { LooseHeaders, UpstreamPool, UpstreamRequestSpec, UpstreamResponse } from './upstream-types.ts';

const IDLE_MS = 30_000;

/** One HTTP/2 session (opened on first use, reopened after it closes) to one endpoint. */
export class H2Pool implements UpstreamPool {
  #session: Promise<ClientHttp2Session> | undefined;
  #closed = false;

  constructor(
    private readonly connector: UpstreamConnector,
    private readonly endpoint: UpstreamEndpoint,
  ) {}

  async send(spec: UpstreamRequestSpec, cancel: CancelSignal): Promise<UpstreamResponse> {
    const signal = toAbortSignal(cancel);
    const session = await this.#open();
    signal.throwIfAborted();
    const headers: http2.OutgoingHttpHeaders = {
      ...spec.headers,
      ':method': spec.method,
      ':path': spec.pathAndQuery,
      ':authority': spec.authority,
      ':scheme': 'http',
    };
    // Reset by the backend or aborted here, maybe after the relay let go of it: see quiet-errors.ts.
    const stream = quietErrors(session.request(headers, { endStream: spec.body === undefined, signal }));
    if (Buffer.isBuffer(spec.body)) stream.end(spec.body);
    else if (spec.body !== undefined) spec.body.pipe(stream);
    // Listen for trailers before awaiting the head: both may arrive in one read.
    const response = new H2Response(stream);
    response.setHead(await responseHead(stream, this.endpoint));
    return response;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pending = this.#session;
    this.#session = undefined;
    if (pending === undefined) return;
    const session = await pending.catch(() => undefined);
    if (session !== undefined && !session.destroyed) {
      await new Promise<void>((resolve) => session.close(resolve));
    }
  }

  #open(): Promise<ClientHttp2Session> {
    if (this.#closed) {
      return Promise.reject(
        new MeshError(
          EngineErrorCode.CONNECT_FAILED,
          `upstream pool to ${endpointKey(this.endpoint)} is closed`,
        ),
      );
    }
    if (this.#session === undefined) {
      const opening = this.#connect();
      this.#session = opening;
      opening.catch(() => {
        if (this.#session === opening) this.#session = undefined;
      });
    }
    return this.#session;
  }

  async #connect(): Promise<ClientHttp2Session> {
    const stream = await openUpstream(this.connector, this.endpoint, AbortSignal.timeout(CONNECT_TIMEOUT_MS));
    const session = http2.connect(`http://${endpointKey(this.endpoint)}`, { createConnection: () => stream });
    // After the await, #session holds the promise this call returned.
    const current = this.#session;
    const forget = (): void => {
      if (this.#session === current) this.#session = undefined;
    };
    session.on('error', forget);
    session.on('goaway', forget);
    session.on('close', forget);
    session.setTimeout(IDLE_MS, () => session.close());
    return session;
  }
}

function responseHead(stream: ClientHttp2Stream, endpoint: UpstreamEndpoint): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const onResponse = (headers: IncomingHttpHeaders): void => {
      stream.off('error', onError);
      stream.off('close', onClose);
      resolve(headers);
    };
    const onError = (err: Error): void => {
      stream.off('response', onResponse);
      stream.off('close', onClose);
      reject(err);
    };
    const onClose = (): void => {
      stream.off('response', onResponse);
      stream.off('error', onError);
      reject(
        new MeshError(
          EngineErrorCode.UPSTREAM_RESET,
          `backend ${endpoint.service} (endpoint ${endpointKey(endpoint)}) reset the stream before answering`,
        ),
      );
    };
    stream.once('response', onResponse);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}

/** A response whose body is the HTTP/2 stream itself. */
class H2Response implements UpstreamResponse {
  status = 0;
  headers: LooseHeaders = {};
  #trailers: LooseHeaders | undefined;

  constructor(readonly body: ClientHttp2Stream) {
    body.once('trailers', (trailers: IncomingHttpHeaders) => {
      this.#trailers = trailers;
    });
  }

  setHead(head: IncomingHttpHeaders): void {
    this.status = Number(head[':status']);
    this.headers = head;
  }

  trailers(): LooseHeaders | undefined {
    return this.#trailers;
  }
}
