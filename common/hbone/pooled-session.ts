/**
 * One pooled client HTTP/2 session: its stream slots (reserved before a CONNECT is sent, freed
 * when the stream closes), the idle release timer, and removal from the pool on GOAWAY, close or
 * error. Also the CONNECT request itself, turning the answer into a stream or a coded MeshError.
 */
import {
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type OutgoingHttpHeaders,
  type Settings,
} from 'node:http2';
import { MeshError } from '../errors.ts';
import { isTlsError } from './connect.ts';
import { HBONE_ERROR_HEADER } from './constants.ts';
import { HboneRefusedError } from './errors.ts';

const MAX_REASON_BODY = 1024;

/** A session in the client pool. */
export class PooledSession {
  /** Streams reserved or open on this session. */
  active = 0;
  private limit: number;
  private open = true;
  private idleTimer: NodeJS.Timeout | undefined;
  /** The error that ended the session, if any (used to explain failed streams). */
  lastError: Error | undefined;
  private readonly onStreamClose = (): void => this.release();

  constructor(
    readonly session: ClientHttp2Session,
    readonly peerId: string,
    maxStreams: number,
    private readonly idleTimeoutMs: number,
    private readonly onGone: (s: PooledSession) => void,
  ) {
    this.limit = Math.min(maxStreams, session.remoteSettings.maxConcurrentStreams ?? maxStreams);
    session.on('remoteSettings', (settings: Settings) => {
      this.limit = Math.min(maxStreams, settings.maxConcurrentStreams ?? maxStreams);
    });
    session.on('goaway', (errorCode: number) => {
      if (errorCode === constants.NGHTTP2_INADEQUATE_SECURITY) {
        this.lastError = new MeshError('HBONE_PEER_REJECTED', 'the HBONE server rejected our identity', {
          hint: 'does the server accept this workload identity (trust domain, namespace)?',
        });
      }
      this.retire();
    });
    session.on('close', () => this.retire());
    session.on('error', (err: Error) => {
      this.lastError = err;
      this.retire();
    });
    this.armIdle();
  }

  /** False once the session left the pool (GOAWAY, close, error, idle release). */
  get usable(): boolean {
    return this.open;
  }

  /** Takes a stream slot if the session is usable and below its cap. */
  tryReserve(): boolean {
    if (!this.open || this.active >= this.limit || this.session.closed || this.session.destroyed)
      return false;
    this.active += 1;
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    return true;
  }

  /** Ties a reserved slot to a stream: the slot is freed when the stream closes. */
  bind(stream: ClientHttp2Stream): void {
    stream.once('close', this.onStreamClose);
  }

  /** Frees a slot; an idle session starts its release timer. */
  release(): void {
    this.active -= 1;
    if (this.active === 0) this.armIdle();
  }

  /** GOAWAY now; reset whatever is still open after `deadlineMs`. */
  async shutdown(deadlineMs: number): Promise<void> {
    this.retire();
    if (this.session.destroyed) return;
    const closed = new Promise<void>((resolve) => this.session.once('close', resolve));
    if (deadlineMs <= 0) this.session.destroy();
    else {
      this.session.close();
      const timer = setTimeout(() => this.session.destroy(), deadlineMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
      return;
    }
    await closed;
  }

  /** Destroys the session at once. */
  destroy(): void {
    this.retire();
    this.session.destroy();
  }

  private armIdle(): void {
    if (!this.open || this.idleTimeoutMs <= 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.active === 0) {
        this.retire();
        this.session.close();
      }
    }, this.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private retire(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (!this.open) return;
    this.open = false;
    this.onGone(this);
  }
}

/** Sends the CONNECT on a reserved slot; resolves on 200, rejects with HBONE_REFUSED and others. */
export function requestTunnel(
  pooled: PooledSession,
  headers: OutgoingHttpHeaders,
  timeoutMs: number,
): Promise<ClientHttp2Stream> {
  const authority = String(headers[':authority']);
  let stream: ClientHttp2Stream;
  try {
    stream = pooled.session.request(headers, { endStream: false });
  } catch (err) {
    pooled.release();
    return Promise.reject(streamFailure(pooled, authority, err));
  }
  pooled.bind(stream);
  return new Promise<ClientHttp2Stream>((resolve, reject) => {
    let settled = false;
    const finish = (err: MeshError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off('close', onClose);
      if (err === undefined) resolve(stream);
      else {
        if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
        reject(err);
      }
    };
    // Failures are judged one turn later: a GOAWAY that explains them (e.g. our identity was
    // refused) is delivered just after the streams it cancels.
    const failLater = (err: unknown): void => {
      setImmediate(() => finish(streamFailure(pooled, authority, err, stream.rstCode)));
    };
    const onClose = (): void => failLater(undefined);
    const timer = setTimeout(() => {
      finish(
        new MeshError(
          'HBONE_CONNECT_TIMEOUT',
          `HBONE CONNECT to ${authority} got no answer in ${timeoutMs} ms`,
          {
            hint: 'the tunnel endpoint is overloaded or cannot reach the target',
          },
        ),
      );
    }, timeoutMs);
    timer.unref();
    stream.on('error', failLater);
    stream.once('close', onClose);
    stream.once('response', (res) => {
      const status = Number(res[':status']);
      if (status === 200) {
        finish(undefined);
        return;
      }
      stream.off('close', onClose);
      readReason(stream, res[HBONE_ERROR_HEADER], (reason) => {
        finish(new HboneRefusedError(status, reason, authority));
      });
    });
  });
}

function readReason(stream: ClientHttp2Stream, header: unknown, done: (reason: string) => void): void {
  if (typeof header === 'string' && header.length > 0) {
    done(header);
    return;
  }
  // No header: the reason is the (short) body; read at most MAX_REASON_BODY bytes of it.
  let body = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (body.length < MAX_REASON_BODY) body += chunk.slice(0, MAX_REASON_BODY - body.length);
  });
  stream.once('end', () => done(body.trim() || 'no reason given'));
  stream.once('close', () => done(body.trim() || 'no reason given'));
}

function streamFailure(pooled: PooledSession, authority: string, err: unknown, rstCode?: number): MeshError {
  const cause = err ?? pooled.lastError;
  if (pooled.lastError instanceof MeshError && pooled.lastError.code === 'HBONE_PEER_REJECTED')
    return pooled.lastError;
  if (isTlsError(cause) || isTlsError(pooled.lastError)) {
    return new MeshError('HBONE_PEER_REJECTED', `HBONE peer refused our identity for ${authority}`, {
      hint: 'does the peer trust our mesh root, and is our certificate current?',
      cause,
    });
  }
  const detail = cause instanceof Error ? cause.message : `stream reset (code ${rstCode ?? 'unknown'})`;
  return new MeshError('HBONE_STREAM_FAILED', `HBONE CONNECT to ${authority} failed: ${detail}`, { cause });
}
