/**
 * Bidirectional piping between two duplex streams (an HBONE stream and a TCP socket, or two
 * HBONE streams), used by both tunnel ends. A clean end of one side ends only the other's
 * writable side (half-close: the reverse direction keeps flowing); an error or an abort on either
 * side destroys both.
 *
 * Each direction is a {@link Direction} rather than `readable.pipe(writable)`, for two costs
 * measured in bulk transfers (one 200 MiB download through a pair of tunnel ends):
 * - Back-pressure. `pipe()` pauses the source whenever the destination is above its 16 KiB
 *   high-water mark, which a 64 KiB socket read always leaves it: the source's reads were
 *   stopped and restarted once per chunk (four `epoll_ctl` and one more loop turn per 64 KiB).
 *   Here the source is paused only above {@link PAUSE_ABOVE_BYTES} unsent, still a bound.
 * - Writes to the socket. Node hands an HTTP/2 stream its data per TLS record, and a 16 KiB DATA
 *   frame with its 9-byte header never fits one record, so the receiving end got a 16 KiB chunk
 *   and a 9–36 byte tail for nearly every record: written as they came, 25,700 writes per
 *   200 MiB, each waking the app. Every chunk for a socket is held until the end of the event
 *   loop's turn (../write-batch.ts) and the turn's chunks leave in one `writev`: one socket read
 *   of the tunnel (up to 64 KiB, several per turn) becomes one write of ~180 KiB, ~1,100 writes
 *   per 200 MiB. A turn's requests and responses leave as a burst that wakes the app once.
 *
 * Sockets handed in should be created with `allowHalfOpen: true`, otherwise Node closes their
 * writable side as soon as their peer half-closes.
 */
import type { Duplex } from 'node:stream';

import { holdWrites, releaseAndDestroy, releaseWrites } from '../write-batch.ts';

/** Outcome of one piped tunnel, reported exactly once. */
export interface PipeStats {
  readonly bytesAtoB: number;
  readonly bytesBtoA: number;
  /** The first error seen on either side, or an abort (one side closed before ending). */
  readonly error?: Error;
}

/** Bytes a destination may hold unsent before its source is paused. */
export const PAUSE_ABOVE_BYTES = 256 * 1024;

/** One direction of a tunnel: `src` → `dest`; `src`'s end ends `dest`. */
class Direction {
  bytes = 0;
  #paused = false;

  constructor(
    private readonly src: Duplex,
    private readonly dest: Duplex,
  ) {
    src.on('data', (chunk: Buffer) => this.#data(chunk));
    src.once('end', () => {
      releaseWrites(dest);
      if (!dest.destroyed) dest.end();
    });
  }

  #data(chunk: Buffer): void {
    this.bytes += chunk.length;
    const dest = this.dest;
    holdWrites(dest);
    dest.write(chunk);
    if (!this.#paused && dest.writableLength > PAUSE_ABOVE_BYTES) {
      this.#paused = true;
      this.src.pause();
      dest.once('drain', this.#resume);
    }
  }

  readonly #resume = (): void => {
    this.#paused = false;
    this.src.resume();
  };
}

class TunnelPipe {
  error: Error | undefined;
  closed = 0;
  done = false;
  readonly #aToB: Direction;
  readonly #bToA: Direction;

  constructor(
    a: Duplex,
    b: Duplex,
    private readonly onDone: (stats: PipeStats) => void,
  ) {
    this.#aToB = new Direction(a, b);
    this.#bToA = new Direction(b, a);
    a.on('error', (err: Error) => this.fail(err, b));
    b.on('error', (err: Error) => this.fail(err, a));
    a.on('close', () => this.closedSide(a, b, 'A'));
    b.on('close', () => this.closedSide(b, a, 'B'));
    // A side that had already closed before we attached never emits 'close' again.
    if (a.closed) this.closedSide(a, b, 'A');
    if (b.closed) this.closedSide(b, a, 'B');
  }

  private fail(err: Error, other: Duplex): void {
    this.error ??= err;
    releaseAndDestroy(other);
  }

  private closedSide(side: Duplex, other: Duplex, name: string): void {
    // A side that closes before both its directions completed was aborted (reset, destroy).
    if (!(side.readableEnded && side.writableFinished) && !other.destroyed) {
      this.error ??= new Error(`tunnel side ${name} closed before the stream completed`);
      releaseAndDestroy(other);
    }
    this.closed += 1;
    if (this.closed === 2 && !this.done) {
      this.done = true;
      const counts = { bytesAtoB: this.#aToB.bytes, bytesBtoA: this.#bToA.bytes };
      const stats: PipeStats = this.error === undefined ? counts : { ...counts, error: this.error };
      this.onDone(stats);
    }
  }
}

/**
 * Pipes `a` ⇄ `b` until both are closed, then calls `onDone` once with the byte counts and the
 * first error, if any.
 */
export function pipeTunnel(a: Duplex, b: Duplex, onDone: (stats: PipeStats) => void): void {
  new TunnelPipe(a, b, onDone);
}
