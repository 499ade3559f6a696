/**
 * The HTTP/1.1 and HTTP/2 servers behind every echo HTTP port. They never listen themselves:
 * the cleartext sniffer and the TLS listener hand them sockets that are already classified.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { createEchoHandler } from './http-handler.ts';
import type { EchoHandlerOptions } from './http-handler.ts';

/** Which server a socket goes to. */
export type HttpProtocol = 'http1' | 'h2';

/** Accepts classified sockets; created once per echo instance by startEcho. */
export interface HttpStack {
  /**
   * Hands `socket` to the HTTP/1.1 or HTTP/2 server. Bytes already read from it must have been
   * `unshift`ed back; both servers read them before anything new from the wire.
   */
  dispatch(socket: net.Socket, protocol: HttpProtocol): void;
}

/** Creates the two servers sharing one echo handler. */
export function createHttpStack(options: EchoHandlerOptions): HttpStack {
  const { tracker, logger } = options;
  const handler = createEchoHandler(options);
  const h1 = http.createServer(handler);
  const h2 = http2.createServer(handler);
  h2.on('session', (session) => {
    tracker.addSession(session);
    session.on('error', (err: Error) => logger.debug('http2 session error', { err: err.message }));
  });
  return {
    dispatch(socket, protocol) {
      tracker.add(socket, protocol);
      if (protocol === 'h2') {
        // The session feeds itself whatever is buffered on the socket (nodejs/node#35475).
        h2.emit('connection', socket);
        return;
      }
      h1.emit('connection', socket);
      // The sniffer paused the socket; the HTTP/1.1 parser reads the unshifted bytes once it flows.
      socket.resume();
    },
  };
}
