/**
 * Echo's TCP port: every byte goes back verbatim. Half-close is respected: when the client ends
 * its side, echo finishes writing what it got and then ends its own.
 */
import net from 'node:net';
import type { Logger } from '../../common/log.ts';
import type { ConnectionTracker } from './tracker.ts';

/** Creates (without listening) the TCP echo server. */
export function createTcpEchoServer(tracker: ConnectionTracker, logger: Logger): net.Server {
  return net.createServer({ allowHalfOpen: true }, (socket) => {
    tracker.add(socket, 'stream');
    socket.on('error', (err) => logger.debug('tcp socket error', { err: err.message }));
    // pipe() ends the writable side when the readable side ends: that is the half-close.
    socket.pipe(socket);
  });
}
