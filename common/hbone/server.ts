/**
 * The HBONE server: HTTP/2 `CONNECT` over mutual TLS 1.3 (ALPN `h2`) on port 15008, used by the
 * node agent (inside each pod's network namespace, listening on an fd from the native addon) and
 * by the waypoint. The caller supplies PEM material and a verification callback (certs'
 * `verifyTlsPeer`); each session is verified once, before any of its streams is looked at, and
 * each valid CONNECT stream is handed to `onTunnel`.
 */
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { errorMessage, MeshError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { parseAuthority } from './authority.ts';
import {
  DEFAULT_CONNECTION_WINDOW_BYTES,
  DEFAULT_MAX_STREAMS_PER_SESSION,
  DEFAULT_STREAM_WINDOW_BYTES,
  HboneStatus,
} from './constants.ts';
import { SessionKeeper, type ServerCounters } from './session-keeper.ts';
import { HboneTunnel, respondError } from './tunnel.ts';

/** PEM material for the serving identity (leaf + intermediates in `cert`, trust roots in `ca`). */
export interface HboneTlsMaterial {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
}

/** Verifies the peer of an established TLS socket; returns its SPIFFE id, throws to reject. */
export type PeerVerifier = (socket: TLSSocket) => string;

/** Options for {@link createHboneServer}. */
export interface HboneServerOptions {
  readonly tls: HboneTlsMaterial;
  readonly verifyPeer: PeerVerifier;
  /** Called once per valid CONNECT stream; must accept() or refuse() it (a throw answers 500). */
  readonly onTunnel: (tunnel: HboneTunnel) => void | Promise<void>;
  readonly logger?: Logger;
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to clients; default 100. */
  readonly maxConcurrentStreams?: number;
  /** Cap on streams the server would open towards a client (it opens none); default 100. */
  readonly peerMaxConcurrentStreams?: number;
  readonly streamWindowBytes?: number;
  readonly connectionWindowBytes?: number;
  /** Silence after which a session is pinged (idle sessions are closed); default 60 s. */
  readonly sessionIdleTimeoutMs?: number;
}

/** Where to listen: an address, or an already bound listening socket fd (native addon). */
export type HboneListenTarget = { readonly host: string; readonly port: number } | { readonly fd: number };

/** A running HBONE server. */
export interface HboneServer {
  /** Starts accepting; resolves with the bound port (0 for an fd without a TCP address). */
  listen(target: HboneListenTarget): Promise<number>;
  /** Swaps the serving certificate/trust roots for new handshakes; open sessions are untouched. */
  setTls(material: HboneTlsMaterial): void;
  /** Stops accepting, lets open tunnels finish until the deadline, then destroys what is left. */
  close(opts?: { deadlineMs?: number }): Promise<void>;
  /** Current counters (sessions, streams, rejections by reason). */
  stats(): ServerCounters;
}

const CONNECT = 'CONNECT';

function tlsOptions(material: HboneTlsMaterial): {
  key: string;
  cert: string;
  ca: string;
  minVersion: 'TLSv1.3';
} {
  // setSecureContext resets every option it is not given, so the version floor goes in every time.
  return { key: material.key, cert: material.cert, ca: material.ca, minVersion: 'TLSv1.3' };
}

/** Creates an HBONE server (not yet listening). */
export function createHboneServer(opts: HboneServerOptions): HboneServer {
  const log = (opts.logger ?? silentLogger).child({ component: 'hbone-server' });
  const maxStreams = opts.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS_PER_SESSION;
  const server = http2.createSecureServer({
    ...tlsOptions(opts.tls),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
    allowHTTP1: false,
    // A peer that never finishes its handshake (garbage that looks like the start of a TLS record,
    // a stalled client) is dropped after this, instead of Node's default of 120 s.
    handshakeTimeout: 10_000,
    // Accepted sockets default to Nagle on (the client side sets TCP_NODELAY itself): a small
    // frame (a 1 KiB response, a WINDOW_UPDATE) would then wait for the ACK of the previous one.
    noDelay: true,
    peerMaxConcurrentStreams: opts.peerMaxConcurrentStreams ?? DEFAULT_MAX_STREAMS_PER_SESSION,
    settings: {
      maxConcurrentStreams: maxStreams,
      initialWindowSize: opts.streamWindowBytes ?? DEFAULT_STREAM_WINDOW_BYTES,
      enablePush: false,
    },
  });
  const keeper = new SessionKeeper({
    verifyPeer: opts.verifyPeer,
    log,
    connectionWindowBytes: opts.connectionWindowBytes ?? DEFAULT_CONNECTION_WINDOW_BYTES,
    idleTimeoutMs: opts.sessionIdleTimeoutMs ?? 60_000,
  });

  // Every accepted TCP connection until it closes, handshake or not: close() cuts what the
  // drain did not (a handshake in progress is no session yet, and would hold server.close()
  // until the handshake timeout).
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session) => keeper.adopt(session));
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    keeper.reject('tls');
    log.debug('TLS handshake failed', { error: err.message, remote: socket.remoteAddress });
  });
  // A TLS client that did not negotiate h2 (allowHTTP1 is off): drop it now, not after 10 s.
  server.on('unknownProtocol', (socket: TLSSocket) => {
    keeper.reject('alpn');
    socket.destroy();
  });
  server.on('sessionError', (err) => log.debug('session error', { error: err.message }));
  server.on('stream', (stream, headers) => {
    const state = keeper.stateOf(stream.session);
    if (state === undefined) {
      // The session failed verification and is being torn down.
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    keeper.streamOpened(stream);
    if (headers[':method'] !== CONNECT) {
      respondError(stream, HboneStatus.notConnect, 'only CONNECT is served on the HBONE port', {
        allow: CONNECT,
      });
      return;
    }
    const target = parseAuthority(headers[':authority']);
    if (target === undefined) {
      respondError(stream, HboneStatus.badAuthority, 'the CONNECT authority must be ip:port or [ipv6]:port');
      return;
    }
    const tunnel = new HboneTunnel(stream, state.peerId, target, headers);
    try {
      const pending = opts.onTunnel(tunnel);
      if (pending !== undefined) pending.catch((err: unknown) => tunnelFailed(tunnel, stream, err));
    } catch (err) {
      tunnelFailed(tunnel, stream, err);
    }
  });

  function tunnelFailed(tunnel: HboneTunnel, stream: http2.ServerHttp2Stream, err: unknown): void {
    log.error('tunnel handler failed', { error: errorMessage(err), peer: tunnel.peerId });
    if (!tunnel.settled) respondError(stream, HboneStatus.internal, 'internal error in the tunnel handler');
    else if (!stream.destroyed) stream.destroy();
  }

  return {
    listen(target) {
      return new Promise<number>((resolve, reject) => {
        const onError = (err: Error): void => {
          reject(
            new MeshError('HBONE_LISTEN_FAILED', `HBONE server could not listen: ${err.message}`, {
              hint: 'is another process bound to port 15008 in this network namespace?',
              cause: err,
            }),
          );
        };
        server.once('error', onError);
        const done = (): void => {
          server.off('error', onError);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr !== null ? addr.port : 0);
        };
        if ('fd' in target) server.listen({ fd: target.fd }, done);
        else server.listen(target.port, target.host, done);
      });
    },
    setTls(material) {
      server.setSecureContext(tlsOptions(material));
      log.info('serving certificate replaced');
    },
    async close(closeOpts = {}) {
      const closed = new Promise<void>((resolve) => {
        if (!server.listening) resolve();
        else server.close(() => resolve());
      });
      await keeper.drain(closeOpts.deadlineMs ?? 5_000);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    stats: () => keeper.counters(),
  };
}
