/**
 * Relays an upstream response downstream: end-to-end headers plus the rule's response header
 * edits, the body piped with back-pressure, trailers passed through (gRPC's `grpc-status`).
 * Resolves when the downstream response finished; rejects when either side broke mid-way.
 */
import type { HeaderEdits } from '../../common/ir/routes.ts';
import type { Exchange } from './exchange.ts';
import { addHeaders, applyHeaderEdits, endToEndHeaders } from './headers.ts';
import type { HeaderRecord } from './headers.ts';
import { parseGrpcStatus } from './status.ts';
import type { UpstreamResponse } from './upstream-types.ts';

/** Streams `response` to the client of `ex`; `signal` aborts the relay (timeouts, client gone). */
export function relayResponse(
  ex: Exchange,
  response: UpstreamResponse,
  edits: readonly HeaderEdits[],
  signal: AbortSignal,
): Promise<void> {
  const headers = applyHeaderEdits(endToEndHeaders(response.headers), edits);
  addHeaders(headers, ex.extraHeaders);
  ex.status = response.status;
  const trailersOnly = ex.parsed.grpc ? takeGrpcStatus(headers) : undefined;
  if (trailersOnly !== undefined) ex.grpcStatus = parseGrpcStatus(trailersOnly['grpc-status']);
  const res = ex.res;
  const body = response.body;
  res.writeHead(response.status, headers);
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      body.off('end', onEnd);
      body.off('error', onError);
      res.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onEnd = (): void => {
      const trailers = response.trailers() ?? trailersOnly;
      if (trailers !== undefined) {
        if (ex.parsed.grpc) ex.grpcStatus = parseGrpcStatus(trailers['grpc-status']) ?? ex.grpcStatus;
        res.addTrailers(endToEndHeaders(trailers));
      }
      cleanup();
      res.end(resolve);
    };
    const onError = (err: Error): void => {
      cleanup();
      res.destroy();
      reject(err);
    };
    const onClose = (): void => {
      // The client went away before the end: stop reading upstream, which frees it.
      cleanup();
      body.destroy();
      reject(signal.aborted ? asError(signal.reason) : new Error('the client closed the response early'));
    };
    const onAbort = (): void => {
      cleanup();
      body.destroy();
      res.destroy();
      reject(asError(signal.reason));
    };
    res.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    // A trailers-only HTTP/2 answer may have ended (and emitted 'end') before we got here.
    if (body.readableEnded) {
      onEnd();
      return;
    }
    body.once('end', onEnd);
    body.once('error', onError);
    body.pipe(res, { end: false });
  });
}

const GRPC_STATUS_HEADERS = ['grpc-status', 'grpc-message', 'grpc-status-details-bin'];

/**
 * Moves the status of a gRPC trailers-only response out of `headers`. Node's compat API cannot
 * send a HEADERS frame with END_STREAM, so the status goes downstream as trailers instead — a
 * HEADERS frame carrying `grpc-status` without END_STREAM is not a valid gRPC answer.
 */
function takeGrpcStatus(headers: HeaderRecord): HeaderRecord | undefined {
  if (headers['grpc-status'] === undefined) return undefined;
  const out: HeaderRecord = {};
  for (const name of GRPC_STATUS_HEADERS) {
    const value = headers[name];
    if (value !== undefined) out[name] = value;
    delete headers[name];
  }
  return out;
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
