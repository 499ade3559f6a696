/**
 * One cleartext port for HTTP/1.1 and h2c: read the first bytes, compare them with the HTTP/2
 * connection preface (RFC 9113 §3.4), and give the socket, bytes put back, to the right server.
 */
import net from 'node:net';
import type { Logger } from '../../common/log.ts';
import type { HttpProtocol, HttpStack } from './http-stack.ts';
import type { ConnectionTracker } from './tracker.ts';

/** The client connection preface of HTTP/2 with prior knowledge. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Classifies the first bytes of a connection: `h2` once the whole preface matched, `http1` as
 * soon as a byte differs, undefined while the bytes so far are a prefix of the preface.
 */
export function classifyPreface(head: Buffer): HttpProtocol | undefined {
  const n = Math.min(head.length, H2_PREFACE.length);
  if (!head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return 'http1';
  return head.length >= H2_PREFACE.length ? 'h2' : undefined;
}

/** Creates the listening side of an HTTP port; `listen()` is left to the caller. */
export function createSniffingServer(
  stack: HttpStack,
  tracker: ConnectionTracker,
  logger: Logger,
): net.Server {
  return net.createServer((socket) => {
    tracker.add(socket, 'pending');
    let head = Buffer.alloc(0);
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
    };
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const protocol = classifyPreface(head);
      if (protocol === undefined) return;
      cleanup();
      socket.pause();
      socket.unshift(head);
      stack.dispatch(socket, protocol);
    };
    const onEnd = (): void => {
      cleanup();
      socket.destroy();
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.on('error', (err) => logger.debug('http socket error', { err: err.message }));
  });
}
