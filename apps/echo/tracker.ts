/**
 * Connection bookkeeping for graceful stop. Every accepted socket is registered with a kind that
 * says how to drain it: idle HTTP/1.1 sockets close at once and busy ones after their response,
 * HTTP/2 sessions get GOAWAY and finish their streams, raw TCP streams run until the deadline.
 */
import type net from 'node:net';
import type http2 from 'node:http2';

/** How a socket is drained. */
export type SocketKind = 'pending' | 'http1' | 'h2' | 'stream';

interface SocketState {
  kind: SocketKind;
  busy: number;
}

/** Tracks sockets and HTTP/2 sessions of one echo instance; created by startEcho. */
export class ConnectionTracker {
  readonly #sockets = new Map<net.Socket, SocketState>();
  readonly #sessions = new Set<http2.Http2Session>();
  #draining = false;
  #onEmpty: (() => void) | undefined;

  /** True once drain() has been called; handlers then ask clients to close. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Number of open sockets (for tests and logs). */
  get size(): number {
    return this.#sockets.size;
  }

  /** Registers `socket` (or changes its kind); it is forgotten when it closes. */
  add(socket: net.Socket, kind: SocketKind): void {
    const known = this.#sockets.get(socket);
    if (known !== undefined) {
      known.kind = kind;
    } else {
      this.#sockets.set(socket, { kind, busy: 0 });
      socket.once('close', () => {
        this.#sockets.delete(socket);
        if (this.#sockets.size === 0) this.#onEmpty?.();
      });
    }
    if (this.#draining && (kind === 'pending' || kind === 'http1')) socket.destroy();
  }

  /** Registers an HTTP/2 session so drain() can send it GOAWAY. */
  addSession(session: http2.Http2Session): void {
    this.#sessions.add(session);
    session.once('close', () => this.#sessions.delete(session));
    if (this.#draining) session.close();
  }

  /** An HTTP/1.1 request started on `socket`. */
  requestStarted(socket: net.Socket): void {
    const state = this.#sockets.get(socket);
    if (state !== undefined) state.busy += 1;
  }

  /** An HTTP/1.1 request on `socket` is done; while draining an idle socket is closed. */
  requestFinished(socket: net.Socket): void {
    const state = this.#sockets.get(socket);
    if (state === undefined) return;
    state.busy = Math.max(0, state.busy - 1);
    if (this.#draining && state.busy === 0) socket.end();
  }

  /**
   * Closes idle connections now, lets busy ones finish, and destroys whatever is still open
   * after `deadlineMs`. Resolves when no socket is left.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.#draining = true;
    for (const [socket, state] of this.#sockets) {
      if (state.kind === 'pending' || (state.kind === 'http1' && state.busy === 0)) socket.destroy();
    }
    for (const session of this.#sessions) session.close();
    if (this.#sockets.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const session of this.#sessions) session.destroy();
        for (const socket of this.#sockets.keys()) socket.destroy();
        resolve();
      }, deadlineMs);
      this.#onEmpty = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
