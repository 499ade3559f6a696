/**
 * The HBONE client with its session pool. Sessions are pooled per (client identity, 15008
 * endpoint); a session carries up to `maxStreamsPerSession` tunnels, concurrent opens for one key
 * share a single pending connect, sessions leave the pool on GOAWAY/close/error and are released
 * after `idleTimeoutMs` without tunnels. The tunnel is the raw HTTP/2 stream (no extra buffering).
 */
import type { ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import { MeshError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { formatAuthority } from './authority.ts';
import { connectSession, type HboneClientTls } from './connect.ts';
import {
  DEFAULT_CONNECTION_WINDOW_BYTES,
  DEFAULT_MAX_STREAMS_PER_SESSION,
  DEFAULT_STREAM_WINDOW_BYTES,
} from './constants.ts';
import { PooledSession, requestTunnel } from './pooled-session.ts';
import type { PeerVerifier } from './server.ts';

export type { HboneClientTls } from './connect.ts';

/** Options for {@link HboneClient}. */
export interface HboneClientOptions {
  readonly maxStreamsPerSession?: number;
  readonly idleTimeoutMs?: number;
  /** Default for `open({connectTimeoutMs})`; covers TCP, TLS, HTTP/2 and the CONNECT answer. */
  readonly connectTimeoutMs?: number;
  readonly streamWindowBytes?: number;
  readonly connectionWindowBytes?: number;
  readonly logger?: Logger;
}

/** One tunnel request. */
export interface HboneOpenOptions {
  /** The HBONE endpoint (a pod's or waypoint's :15008). */
  readonly via: { readonly host: string; readonly port: number };
  /** The CONNECT target, `ip:port` or `[ipv6]:port`. */
  readonly authority: string;
  readonly tls: HboneClientTls;
  /** Checks the server's identity; returns its SPIFFE id, throws to reject. */
  readonly verifyServer: PeerVerifier;
  /** `forwarded`, `traceparent`, `tracestate`, `baggage`, … */
  readonly headers?: Readonly<Record<string, string>>;
  readonly connectTimeoutMs?: number;
  /** Raw socket factory (e.g. the native addon's connectInNetns with a mark). */
  readonly connect?: () => Socket | Promise<Socket>;
}

/** An open tunnel. */
export interface HboneTunnelStream {
  readonly stream: ClientHttp2Stream;
  readonly peerId: string;
  readonly status: 200;
}

/** Pool statistics per key (`identityKey|host:port`). */
export interface HboneClientStats {
  readonly sessions: number;
  readonly activeStreams: number;
  readonly byKey: ReadonlyArray<{
    readonly key: string;
    readonly sessions: number;
    readonly activeStreams: number;
  }>;
}

interface PoolEntry {
  readonly sessions: PooledSession[];
  pending: Promise<PooledSession> | undefined;
}

/** HBONE client: opens CONNECT tunnels over pooled mTLS HTTP/2 sessions. */
export class HboneClient {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly maxStreams: number;
  private readonly idleTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly streamWindowBytes: number;
  private readonly connectionWindowBytes: number;
  private readonly log: Logger;
  private closed = false;

  constructor(opts: HboneClientOptions = {}) {
    this.maxStreams = opts.maxStreamsPerSession ?? DEFAULT_MAX_STREAMS_PER_SESSION;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.streamWindowBytes = opts.streamWindowBytes ?? DEFAULT_STREAM_WINDOW_BYTES;
    this.connectionWindowBytes = opts.connectionWindowBytes ?? DEFAULT_CONNECTION_WINDOW_BYTES;
    this.log = (opts.logger ?? silentLogger).child({ component: 'hbone-client' });
  }

  /** Opens a tunnel to `authority` through `via`; rejects with a coded MeshError. */
  async open(opts: HboneOpenOptions): Promise<HboneTunnelStream> {
    if (this.closed) throw new MeshError('HBONE_CLIENT_CLOSED', 'the HBONE client is closed');
    const timeoutMs = opts.connectTimeoutMs ?? this.connectTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const pooled = await this.acquire(opts, timeoutMs);
    const headers: OutgoingHttpHeaders = {
      ...opts.headers,
      ':method': 'CONNECT',
      ':authority': opts.authority,
    };
    const stream = await requestTunnel(pooled, headers, Math.max(1, deadline - Date.now()));
    return { stream, peerId: pooled.peerId, status: 200 };
  }

  /** Session and stream counts, per pool key. */
  stats(): HboneClientStats {
    const byKey: { key: string; sessions: number; activeStreams: number }[] = [];
    let sessions = 0;
    let activeStreams = 0;
    for (const [key, entry] of this.pools) {
      const active = entry.sessions.reduce((n, s) => n + s.active, 0);
      byKey.push({ key, sessions: entry.sessions.length, activeStreams: active });
      sessions += entry.sessions.length;
      activeStreams += active;
    }
    byKey.sort((x, y) => x.key.localeCompare(y.key));
    return { sessions, activeStreams, byKey };
  }

  /** Closes every session (GOAWAY); tunnels still open after `deadlineMs` (default 0) are reset. */
  async close(opts: { deadlineMs?: number } = {}): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()].flatMap((e) => e.sessions);
    this.pools.clear();
    await Promise.all(all.map((s) => s.shutdown(opts.deadlineMs ?? 0)));
  }

  /** A session of this key with a free stream slot (reserved), connecting one if needed. */
  private async acquire(opts: HboneOpenOptions, timeoutMs: number): Promise<PooledSession> {
    const key = `${opts.tls.identityKey}|${formatAuthority(opts.via.host, opts.via.port)}`;
    for (;;) {
      // Looked up on every pass: the entry may have been dropped while we waited.
      let entry = this.pools.get(key);
      if (entry === undefined) {
        entry = { sessions: [], pending: undefined };
        this.pools.set(key, entry);
      }
      for (const s of entry.sessions) if (s.tryReserve()) return s;
      if (entry.pending === undefined) entry.pending = this.connect(key, entry, opts, timeoutMs);
      // Everyone waiting on the same connect tries the new session first; when it is already
      // full the search starts over (and connects another).
      const fresh = await entry.pending;
      if (this.closed) throw new MeshError('HBONE_CLIENT_CLOSED', 'the HBONE client is closed');
      if (fresh.tryReserve()) return fresh;
      if (!fresh.usable) {
        // Gone before carrying a stream: retrying would loop against a peer that hangs up.
        throw (
          fresh.lastError ??
          new MeshError('HBONE_CONNECT_FAILED', `HBONE peer ${key} closed the session as soon as it opened`, {
            hint: 'is the server draining or refusing this client identity?',
          })
        );
      }
    }
  }

  private async connect(
    key: string,
    entry: PoolEntry,
    opts: HboneOpenOptions,
    timeoutMs: number,
  ): Promise<PooledSession> {
    try {
      const { session, peerId } = await connectSession({
        via: opts.via,
        tls: opts.tls,
        verifyServer: opts.verifyServer,
        connect: opts.connect,
        timeoutMs,
        streamWindowBytes: this.streamWindowBytes,
        connectionWindowBytes: this.connectionWindowBytes,
      });
      const pooled = new PooledSession(session, peerId, this.maxStreams, this.idleTimeoutMs, (gone) =>
        this.remove(key, gone),
      );
      if (this.closed) pooled.destroy();
      else entry.sessions.push(pooled);
      this.log.debug('HBONE session opened', { key, peer: peerId });
      return pooled;
    } finally {
      entry.pending = undefined;
    }
  }

  private remove(key: string, gone: PooledSession): void {
    const entry = this.pools.get(key);
    if (entry === undefined) return;
    const i = entry.sessions.indexOf(gone);
    if (i >= 0) entry.sessions.splice(i, 1);
    if (entry.sessions.length === 0 && entry.pending === undefined) this.pools.delete(key);
  }
}
