/**
 * Bidirectional piping between two duplex streams (an HBONE stream and a TCP socket, or two
 * HBONE streams), used by both tunnel ends. Each direction is a `readable.pipe(writable)`, so
 * back-pressure is Node's own and nothing is buffered beyond the streams' high-water marks. A
 * clean end of one side ends only the other's writable side (half-close: the reverse direction
 * keeps flowing); an error or an abort on either side destroys both.
 *
 * Sockets handed in should be created with `allowHalfOpen: true`, otherwise Node closes their
 * writable side as soon as their peer half-closes.
 */
import type { Duplex } from 'node:stream';

/** Outcome of one piped tunnel, reported exactly once. */
export interface PipeStats {
  readonly bytesAtoB: number;
  readonly bytesBtoA: number;
  /** The first error seen on either side, or an abort (one side closed before ending). */
  readonly error?: Error;
}

class TunnelPipe {
  bytesAtoB = 0;
  bytesBtoA = 0;
  error: Error | undefined;
  closed = 0;
  done = false;

  constructor(
    private readonly a: Duplex,
    private readonly b: Duplex,
    private readonly onDone: (stats: PipeStats) => void,
  ) {}

  start(): void {
    const { a, b } = this;
    a.on('data', (chunk: Buffer) => {
      this.bytesAtoB += chunk.length;
    });
    b.on('data', (chunk: Buffer) => {
      this.bytesBtoA += chunk.length;
    });
    a.on('error', (err: Error) => this.fail(err, b));
    b.on('error', (err: Error) => this.fail(err, a));
    a.on('close', () => this.closedSide(a, b, 'A'));
    b.on('close', () => this.closedSide(b, a, 'B'));
    a.pipe(b);
    b.pipe(a);
    // A side that had already closed before we attached never emits 'close' again.
    if (a.closed) this.closedSide(a, b, 'A');
    if (b.closed) this.closedSide(b, a, 'B');
  }

  private fail(err: Error, other: Duplex): void {
    this.error ??= err;
    if (!other.destroyed) other.destroy();
  }

  private closedSide(side: Duplex, other: Duplex, name: string): void {
    // A side that closes before both its directions completed was aborted (reset, destroy).
    if (!(side.readableEnded && side.writableFinished) && !other.destroyed) {
      this.error ??= new Error(`tunnel side ${name} closed before the stream completed`);
      other.destroy();
    }
    this.closed += 1;
    if (this.closed === 2 && !this.done) {
      this.done = true;
      const stats: PipeStats =
        this.error === undefined
          ? { bytesAtoB: this.bytesAtoB, bytesBtoA: this.bytesBtoA }
          : { bytesAtoB: this.bytesAtoB, bytesBtoA: this.bytesBtoA, error: this.error };
      this.onDone(stats);
    }
  }
}

/**
 * Pipes `a` ⇄ `b` until both are closed, then calls `onDone` once with the byte counts and the
 * first error, if any.
 */
export function pipeTunnel(a: Duplex, b: Duplex, onDone: (stats: PipeStats) => void): void {
  new TunnelPipe(a, b, onDone).start();
}
