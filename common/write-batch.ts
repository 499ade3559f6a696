/**
 * Small writes to a socket leave at the end of the event loop's turn, together: the first one
 * corks the socket and every socket corked this way is uncorked in one `setImmediate` (the check
 * phase, right after the turn's I/O callbacks). A turn that answers twenty requests then sends
 * them as a burst, one `writev` per socket, instead of one write between each request's work.
 *
 * Why: each write to a peer that sleeps in `epoll_wait` wakes it, and on a virtual machine a
 * cross-CPU wake-up is costly (an IPI through the hypervisor). Spread over a turn, every response
 * found its reader asleep again; in a burst, the reader wakes once and finds several. Node's
 * HTTP/2 already sends a session's frames this way (one write per session per turn), so the
 * HBONE streams are batched below us and are left alone here: only `net.Socket`s are held. Used
 * by the waypoint's HTTP/1.1 server and client and by the tunnel pipe (hbone/pipe.ts);
 * docs/benchmarks.md has the numbers.
 *
 * The HTTP/1.1 writers send a large write at once, with what the socket held before it
 * ({@link writeBatched}); the tunnel pipe holds every chunk with {@link holdWrites}, so one turn's
 * reads of a bulk flow leave in one `writev`. Whoever ends a socket calls {@link releaseWrites} first
 * (`end()` would uncork by itself, but the socket would stay in the turn's set); whoever
 * destroys one calls {@link releaseAndDestroy} (`destroy()` alone drops the held bytes).
 */
import net from 'node:net';
import type { Writable } from 'node:stream';

/**
 * Writes of at least this many bytes go out at once through {@link writeBatched}, with what the
 * socket held: a body relayed by the waypoint's HTTP/1.1 server or client does not wait a turn
 * per chunk. Heads and small responses are smaller.
 */
export const BATCH_MAX_BYTES = 4096;

const holding = new Set<Writable>();
let scheduled = false;

function releaseAll(): void {
  scheduled = false;
  // A socket corked while this runs is visited too, then cleared with the rest.
  for (const s of holding) s.uncork();
  holding.clear();
}

/** Holds `stream`'s writes until the end of this turn, when it is a socket (see above). */
export function holdWrites(stream: Writable): void {
  if (holding.has(stream) || !(stream instanceof net.Socket)) return;
  stream.cork();
  holding.add(stream);
  if (!scheduled) {
    scheduled = true;
    setImmediate(releaseAll);
  }
}

/** Sends what `stream` holds now: before a large write, an end or a destroy. */
export function releaseWrites(stream: Writable): void {
  if (holding.delete(stream)) stream.uncork();
}

/** Sends what `stream` holds, then destroys it. */
export function releaseAndDestroy(stream: Writable): void {
  releaseWrites(stream);
  if (!stream.destroyed) stream.destroy();
}

/**
 * Writes `data` (a string as latin1): held with the turn's others when smaller than
 * {@link BATCH_MAX_BYTES}, else written at once together with what the socket held (one `writev`).
 */
export function writeBatched(stream: Writable, data: string | Buffer, cb?: () => void): boolean {
  const small = data.length < BATCH_MAX_BYTES;
  if (small) holdWrites(stream);
  const ok = typeof data === 'string' ? stream.write(data, 'latin1', cb) : stream.write(data, cb);
  if (!small) releaseWrites(stream);
  return ok;
}

/**
 * Writes `parts` (strings as latin1) as one `writev`, `cb` after the last: held with the turn's
 * others when together smaller than {@link BATCH_MAX_BYTES}, else at once after what was held.
 */
export function writePartsBatched(
  stream: Writable,
  parts: readonly (string | Buffer)[],
  cb?: () => void,
): boolean {
  let total = 0;
  for (const p of parts) total += p.length;
  if (total < BATCH_MAX_BYTES) holdWrites(stream);
  else releaseWrites(stream);
  stream.cork();
  const last = parts.length - 1;
  let ok = true;
  for (let i = 0; i <= last; i++) {
    const p = parts[i] as string | Buffer;
    const done = i === last ? cb : undefined;
    ok = typeof p === 'string' ? stream.write(p, 'latin1', done) : stream.write(p, done);
  }
  stream.uncork();
  return ok;
}
