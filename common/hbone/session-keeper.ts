/**
 * Bookkeeping for the HBONE server's sessions: peer verification when a session starts (before
 * any stream), the raised connection window, dead-peer detection (ping after silence, destroy when
 * the ping is not answered), the counters, and draining on shutdown.
 */
import { constants, type Http2Session, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { errorMessage, MeshError } from '../errors.ts';
import type { Logger } from '../log.ts';

/** Why a connection was turned away before carrying any tunnel. */
export type RejectReason = 'tls' | 'alpn' | 'verify';

/** Server counters, as returned by `HboneServer.stats()`. */
export interface ServerCounters {
  /** Sessions currently open (verified). */
  readonly sessions: number;
  readonly sessionsTotal: number;
  /** CONNECT (or other) streams currently open. */
  readonly streamsOpen: number;
  readonly streamsTotal: number;
  /** Connections rejected, by reason. */
  readonly rejected: Readonly<Record<RejectReason, number>>;
}

/** Per-session state kept by the server. */
export interface SessionState {
  readonly peerId: string;
  pingPending: boolean;
}

interface KeeperOptions {
  readonly verifyPeer: (socket: TLSSocket) => string;
  readonly log: Logger;
  readonly connectionWindowBytes: number;
  readonly idleTimeoutMs: number;
}

/** Tracks the server's sessions; one per server. */
export class SessionKeeper {
  private readonly states = new WeakMap<Http2Session, SessionState>();
  private readonly open = new Set<ServerHttp2Session>();
  private sessionsTotal = 0;
  private streamsOpen = 0;
  private streamsTotal = 0;
  private readonly rejected: Record<RejectReason, number> = { tls: 0, alpn: 0, verify: 0 };
  // Bound once: stream close handlers without a per-stream closure.
  private readonly onStreamClose = (): void => {
    this.streamsOpen -= 1;
  };

  constructor(private readonly opts: KeeperOptions) {}

  /** Verifies a new session's peer; a failure destroys the session before any stream is read. */
  adopt(session: ServerHttp2Session): void {
    const socket = session.socket as TLSSocket;
    let peerId: string;
    try {
      peerId = this.opts.verifyPeer(socket);
    } catch (err) {
      this.reject('verify');
      this.opts.log.warn('HBONE peer rejected', { error: errorMessage(err), remote: socket.remoteAddress });
      session.on('error', ignore);
      // GOAWAY INADEQUATE_SECURITY tells the client why, before the socket closes.
      // (An error is passed because destroy() ignores the code without one.)
      session.destroy(
        new MeshError('HBONE_PEER_REJECTED', `HBONE peer rejected: ${errorMessage(err)}`),
        constants.NGHTTP2_INADEQUATE_SECURITY,
      );
      return;
    }
    const state: SessionState = { peerId, pingPending: false };
    this.states.set(session, state);
    this.open.add(session);
    this.sessionsTotal += 1;
    session.on('error', (err: Error) =>
      this.opts.log.debug('session error', { error: err.message, peer: peerId }),
    );
    session.on('close', () => this.open.delete(session));
    session.setTimeout(this.opts.idleTimeoutMs, () => this.onIdle(session, state));
    const raise = (): void => {
      if (!session.destroyed) session.setLocalWindowSize(this.opts.connectionWindowBytes);
    };
    if (session.connecting) session.once('connect', raise);
    else raise();
  }

  /** The state of a verified session, or undefined if it was rejected. */
  stateOf(session: Http2Session | undefined): SessionState | undefined {
    return session === undefined ? undefined : this.states.get(session);
  }

  /** Counts a connection turned away. */
  reject(reason: RejectReason): void {
    this.rejected[reason] += 1;
  }

  /** Counts a stream until it closes; a reset before it is answered must not crash the process. */
  streamOpened(stream: ServerHttp2Stream): void {
    this.streamsOpen += 1;
    this.streamsTotal += 1;
    stream.on('error', ignore);
    stream.once('close', this.onStreamClose);
  }

  /** Snapshot of the counters. */
  counters(): ServerCounters {
    return {
      sessions: this.open.size,
      sessionsTotal: this.sessionsTotal,
      streamsOpen: this.streamsOpen,
      streamsTotal: this.streamsTotal,
      rejected: { ...this.rejected },
    };
  }

  /** GOAWAY to every session, then destroy the ones still open after `deadlineMs`. */
  async drain(deadlineMs: number): Promise<void> {
    const sessions = [...this.open];
    const closes = sessions.map(
      (s) => new Promise<void>((resolve) => (s.closed || s.destroyed ? resolve() : s.once('close', resolve))),
    );
    for (const s of sessions) if (!s.closed && !s.destroyed) s.close();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadlineMs));
    });
    await Promise.race([Promise.all(closes), deadline]);
    clearTimeout(timer);
    for (const s of sessions) if (!s.destroyed) s.destroy();
    await Promise.all(closes);
  }

  private onIdle(session: ServerHttp2Session, state: SessionState): void {
    if (session.destroyed || session.closed || state.pingPending) return;
    // Silence: ask the peer. Node's session timeout fires once per quiet period, so the ping
    // gets its own deadline; a peer that does not answer within it is gone.
    state.pingPending = true;
    const deadline = setTimeout(() => {
      if (!state.pingPending || session.destroyed) return;
      this.opts.log.info('HBONE peer stopped answering pings, closing its session', { peer: state.peerId });
      session.destroy();
    }, this.opts.idleTimeoutMs);
    deadline.unref();
    session.ping(() => {
      clearTimeout(deadline);
      state.pingPending = false;
    });
  }
}

function ignore(): void {
  // Errors of rejected sessions and of streams are reported through 'close'/the pipe; see callers.
}
