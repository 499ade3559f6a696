/**
 * Relays an upstream response downstream: end-to-end headers plus the rule's response header
 * edits, the body pumped with back-pressure (or, when the upstream read it whole, written with
 * the head in one go), trailers passed through (gRPC's `grpc-status`).
 * Resolves when the downstream response finished; rejects when either side broke mid-way.
 */
import type { HeaderEdits } from '../../common/ir/routes.ts';
import type { CancelSignal } from './cancel.ts';
import type { Exchange } from './exchange.ts';
import { addHeaders, applyHeaderEdits, endToEndHeaders, joinRepeated } from './headers.ts';
import type { HeaderRecord } from './headers.ts';
import { parseGrpcStatus } from './status.ts';
import type { UpstreamResponse } from './upstream-types.ts';

/** Streams `response` to the client of `ex`; `signal` aborts the relay (timeouts, client gone). */
export function relayResponse(
  ex: Exchange,
  response: UpstreamResponse,
  edits: readonly HeaderEdits[],
  signal: CancelSignal,
): Promise<void> {
  const headers = applyHeaderEdits(endToEndHeaders(response.headers), edits);
  addHeaders(headers, ex.extraHeaders);
  const trailersOnly = ex.parsed.grpc ? takeGrpcStatus(headers) : undefined;
  const res = ex.res;
  try {
    // Throws for a head the client's protocol cannot carry (for an h2c client, a field HTTP/2
    // allows once that the backend repeated): nothing was sent; the upstream is freed and the
    // attempt fails as the backend's (502).
    res.writeHead(response.status, headers);
  } catch (err) {
    response.body.destroy();
    return Promise.reject(asError(err));
  }
  ex.status = response.status;
  if (trailersOnly !== undefined) ex.grpcStatus = parseGrpcStatus(trailersOnly['grpc-status']);
  const whole = response.whole;
  return new Promise<void>((resolve, reject) => {
    // Settled once: by the final write's callback, the client leaving, a broken upstream body
    // or the signal; the close and abort listeners stay until then.
    let settled = false;
    // Set once the body streams: stops reading it and frees the upstream.
    let dropBody: (() => void) | undefined = undefined;
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const finish = (last: Buffer | undefined): void => {
      const trailers = response.trailers() ?? trailersOnly;
      if (trailers !== undefined) {
        if (ex.parsed.grpc) ex.grpcStatus = parseGrpcStatus(trailers['grpc-status']) ?? ex.grpcStatus;
        try {
          res.addTrailers(joinRepeated(endToEndHeaders(trailers)));
        } catch (err) {
          // As for the head: a trailer the client cannot be sent (this runs in an 'end'
          // listener, where a throw would take the process down). See onError for the cut.
          settle(asError(err));
          return;
        }
      }
      if (last === undefined) res.end(() => settle());
      else res.end(last, () => settle());
    };
    const onClose = (): void => {
      // The client went away before the end: stop reading upstream, which frees it.
      dropBody?.();
      settle(signal.aborted ? asError(signal.reason) : new Error('the client closed the response early'));
    };
    const onAbort = (): void => {
      // A timeout, or the client gone: the edge cuts the response as for onError, recording
      // the timeout as such.
      dropBody?.();
      settle(asError(signal.reason));
    };
    res.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    if (whole !== undefined) {
      // The body came whole with the head (the common small response): one write, and none of
      // the pump's listeners.
      finish(whole.length === 0 ? undefined : whole);
      return;
    }
    const body = response.body;
    // A trailers-only HTTP/2 answer may have ended (and emitted 'end') before we got here.
    if (body.readableEnded) {
      finish(undefined);
      return;
    }
    // Or the body broke before we got here (a malformed body in the head's read, a reset): its
    // 'error' has been emitted already and no 'end' will come.
    if (body.destroyed) {
      settle(asError(body.errored ?? new Error('the backend response broke before its body was read')));
      return;
    }
    const stopBody = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      res.off('drain', onDrain);
    };
    let waiting = false;
    const onDrain = (): void => {
      waiting = false;
      body.resume();
    };
    // A pump rather than pipe(): the same back-pressure, without pipe's listeners on both sides.
    const onData = (chunk: Buffer): void => {
      if (!res.write(chunk) && !waiting) {
        waiting = true;
        body.pause();
        res.once('drain', onDrain);
      }
    };
    const onEnd = (): void => {
      stopBody();
      finish(undefined);
    };
    const onError = (err: Error): void => {
      // The backend broke the body. The response is cut by the edge (a reply after the head
      // went out destroys it), which records the backend's error; destroying it here would
      // close it first and record the exchange as the client's doing (499).
      stopBody();
      settle(err);
    };
    dropBody = (): void => {
      stopBody();
      body.destroy();
    };
    body.once('end', onEnd);
    body.once('error', onError);
    body.on('data', onData);
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
