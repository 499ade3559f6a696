/**
 * HTTP edge helpers: JSON answers, Kubernetes `Status` error bodies, `Warning` headers and
 * bounded request-body reading (decoding is in decode.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './types.ts';

/** Largest request body accepted (kube-apiserver's default is 3 MiB for objects). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Writes a JSON answer. */
export function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  contentType = 'application/json',
  warnings: string[] = [],
): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | string[]> = {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-cache, private',
  };
  if (warnings.length > 0) headers['warning'] = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(code, headers);
  res.end(text);
}

/** Converts any thrown value into an ApiError (unknown ones become 500 InternalError). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new ApiError(500, 'InternalError', `Internal error occurred: ${msg}`);
}

/** Writes the Status body of `err`. */
export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.code, err.toStatus());
}

/**
 * Reads the whole body. Above the limit it answers 413 (the error handler writes the Status)
 * while reading on and discarding what the client still sends, so that the client can read
 * the answer before the connection ends: destroying the socket at once would reset it. A
 * client that keeps sending past twice the limit has its connection closed.
 */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (over) {
        if (size > 2 * MAX_BODY_BYTES) req.destroy();
      } else if (size <= MAX_BODY_BYTES) {
        chunks.push(c);
      } else {
        over = true;
        chunks.length = 0;
        reject(
          new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${MAX_BODY_BYTES}`),
        );
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
