/**
 * A plain Duplex in front of an HBONE tunnel stream. Node 20's HTTP/1.1 server, handed an
 * `Http2Stream` as its connection, consumes the stream's native handle directly and the first
 * bytes it writes (the status line) arrive corrupted at the peer; behind this wrapper it only
 * sees an ordinary stream. Chunks are passed by reference with backpressure both ways.
 */
import { Duplex } from 'node:stream';

/** Wraps `inner`; ends, errors and closes propagate both ways. */
export function plainDuplex(inner: Duplex): Duplex {
  const outer = new Duplex({
    allowHalfOpen: true,
    read() {
      inner.resume();
    },
    write(chunk: Buffer, encoding, callback) {
      inner.write(chunk, encoding, callback);
    },
    final(callback) {
      inner.end(callback);
    },
    destroy(err, callback) {
      if (!inner.destroyed) inner.destroy(err ?? undefined);
      callback(err);
    },
  });
  inner.on('data', (chunk: Buffer) => {
    if (!outer.push(chunk)) inner.pause();
  });
  let ended = false;
  inner.once('end', () => {
    ended = true;
    outer.push(null);
  });
  inner.once('error', (err) => outer.destroy(err));
  // An abrupt close (reset) ends the wrapper too; after a clean end it closes on its own.
  inner.once('close', () => {
    if (!ended && !outer.destroyed) outer.destroy();
  });
  return outer;
}
