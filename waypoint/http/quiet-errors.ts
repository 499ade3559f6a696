/**
 * Streams whose errors reach their readers by other ways, given an 'error' listener for their
 * whole life. An upstream body is destroyed with an error by whichever side gives up first (the
 * pool on a broken response or an abort, the relay when the client leaves, a timeout), at
 * moments when its reader has already let go or not yet started listening; an 'error' event
 * without a listener ends the process. Readers that care still get the error on their own
 * listeners.
 */
import type { EventEmitter } from 'node:events';

function ignore(): void {}

/** Adds the lifelong listener to `stream` and returns it. */
export function quietErrors<T extends EventEmitter>(stream: T): T {
  stream.on('error', ignore);
  return stream;
}
