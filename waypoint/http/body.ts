/**
 * Request bodies for retries and mirrors: a body up to the replay limit is buffered so every
 * attempt can resend it; a larger one is streamed once (the buffered head first, then the rest,
 * with back-pressure), which disables retries for that request.
 */
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';

import { MeshError } from '../../common/errors.ts';
import type { CancelSignal } from './cancel.ts';
import { quietErrors } from './quiet-errors.ts';
import { EngineErrorCode } from './status.ts';

/** A body that can be sent again (`Buffer`) or only once (`Readable`). */
export type RequestBody = Buffer | Readable;

/**
 * Reads `req` up to `limit` bytes: the whole body as a Buffer, or a stream when it is longer.
 * `signal` (the request deadline) rejects with its reason while the body is still arriving.
 */
export function readReplayable(req: Readable, limit: number, signal: CancelSignal): Promise<RequestBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= limit) return;
      req.pause();
      cleanup();
      // Fed until the client's body ends, possibly before an upstream reads it: quiet-errors.ts.
      const rest = quietErrors(new PassThrough());
      for (const c of chunks) rest.write(c);
      req.on('error', (err) => rest.destroy(err));
      req.pipe(rest);
      resolve(rest);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(
        new MeshError(EngineErrorCode.BAD_REQUEST, 'the client closed the request before its body ended'),
      );
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
