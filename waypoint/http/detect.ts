/**
 * Protocol detection for tunnels whose port declares no `appProtocol`: the HTTP/2 connection
 * preface (RFC 9113 §3.4) means h2c with prior knowledge, anything else HTTP/1.1. The peeked
 * bytes are put back so the chosen server reads the stream from its first byte.
 */
import type { Duplex } from 'node:stream';

import { MeshError } from '../../common/errors.ts';
import { EngineErrorCode } from './status.ts';

/** The client connection preface of HTTP/2. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** `h2` / `h1` once the prefix decides, undefined while it is still a prefix of the preface. */
export function classifyPrefix(head: Buffer): 'h1' | 'h2' | undefined {
  const n = Math.min(head.length, H2_PREFACE.length);
  if (head.compare(H2_PREFACE, 0, n, 0, n) !== 0) return 'h1';
  return n === H2_PREFACE.length ? 'h2' : undefined;
}

/** Peeks at `stream` until its protocol is known, then unshifts what it read. */
export function detectProtocol(stream: Duplex, timeoutMs: number): Promise<'h1' | 'h2'> {
  return new Promise((resolve, reject) => {
    let head: Buffer = Buffer.alloc(0);
    const cleanup = (): void => {
      clearTimeout(timer);
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const kind = classifyPrefix(head);
        if (kind !== undefined) {
          cleanup();
          stream.unshift(head);
          resolve(kind);
          return;
        }
      }
    };
    const onEnd = (): void => {
      cleanup();
      reject(new MeshError(EngineErrorCode.BAD_REQUEST, 'the tunnel closed before its first request'));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new MeshError(
          EngineErrorCode.BAD_REQUEST,
          `no request bytes within ${timeoutMs} ms of opening the tunnel`,
        ),
      );
    }, timeoutMs);
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
  });
}
