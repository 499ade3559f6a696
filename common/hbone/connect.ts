/**
 * Establishing one client HBONE session: TCP (or a caller-made socket, e.g. from inside a pod's
 * network namespace with a mark), TLS 1.3 with ALPN `h2` and the caller's client identity, the
 * caller's server check, then HTTP/2 with large windows. Every failure becomes a MeshError.
 */
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import * as tls from 'node:tls';
import { errorMessage, MeshError } from '../errors.ts';
import { formatAuthority } from './authority.ts';
import type { PeerVerifier } from './server.ts';

/** Client TLS material plus the opaque key that names this identity in the pool. */
export interface HboneClientTls {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
  /** e.g. SPIFFE id + certificate serial: a new value never reuses an old identity's sessions. */
  readonly identityKey: string;
}

/** What {@link connectSession} needs. */
export interface SessionTarget {
  readonly via: { readonly host: string; readonly port: number };
  readonly tls: HboneClientTls;
  readonly verifyServer: PeerVerifier;
  readonly connect?: () => Socket | Promise<Socket>;
  readonly timeoutMs: number;
  readonly streamWindowBytes: number;
  readonly connectionWindowBytes: number;
}

/** A connected, verified client session. */
export interface ConnectedSession {
  readonly session: http2.ClientHttp2Session;
  readonly peerId: string;
}

/** True for errors raised by TLS (alerts, certificate checks) rather than by TCP. */
export function isTlsError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return (
    code.startsWith('ERR_SSL') ||
    code.startsWith('ERR_TLS') ||
    code.includes('CERT') ||
    code.includes('SIGNATURE') ||
    code.includes('ISSUER') ||
    ('library' in err && err.library === 'SSL routines')
  );
}

/** Maps a socket/session error while connecting to HBONE_PEER_REJECTED (TLS) or HBONE_CONNECT_FAILED. */
export function classifyConnectError(err: unknown, where: string): MeshError {
  if (err instanceof MeshError) return err;
  const message = errorMessage(err);
  return isTlsError(err)
    ? new MeshError('HBONE_PEER_REJECTED', `TLS with HBONE peer ${where} failed: ${message}`, {
        hint: 'do both sides trust the same mesh root, and are both certificates current?',
        cause: err,
      })
    : new MeshError('HBONE_CONNECT_FAILED', `HBONE connect to ${where} failed: ${message}`, {
        hint: 'is the destination pod running and its node agent listening on 15008?',
        cause: err,
      });
}

function noServerNameCheck(): undefined {
  // Mesh certificates carry only a SPIFFE URI SAN; verifyServer does the identity check.
  return undefined;
}

function timeoutError(where: string, timeoutMs: number): MeshError {
  return new MeshError('HBONE_CONNECT_TIMEOUT', `HBONE connect to ${where} timed out after ${timeoutMs} ms`, {
    hint: 'is port 15008 reachable, or blocked by a NetworkPolicy or firewall?',
  });
}

/** Runs the caller's raw socket factory within the connect timeout. */
async function rawSocket(target: SessionTarget, where: string): Promise<Socket | undefined> {
  const factory = target.connect;
  if (factory === undefined) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const made = Promise.resolve().then(factory);
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError(where, target.timeoutMs)), target.timeoutMs);
  });
  try {
    return await Promise.race([made, expired]);
  } catch (err) {
    // A socket that arrives after we gave up must not leak.
    made.then((late) => late.destroy()).catch(() => undefined);
    throw classifyConnectError(err, where);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens TCP+TLS+h2 to `target.via`, verifies the server, resolves once HTTP/2 is up. */
export async function connectSession(target: SessionTarget): Promise<ConnectedSession> {
  const where = formatAuthority(target.via.host, target.via.port);
  const started = Date.now();
  const raw = await rawSocket(target, where);
  const remainingMs = Math.max(1, target.timeoutMs - (Date.now() - started));
  return new Promise<ConnectedSession>((resolve, reject) => {
    let settled = false;
    const base: tls.ConnectionOptions = {
      key: target.tls.key,
      cert: target.tls.cert,
      ca: target.tls.ca,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
      rejectUnauthorized: true,
      checkServerIdentity: noServerNameCheck,
    };
    let socket: tls.TLSSocket;
    try {
      socket =
        raw === undefined
          ? tls.connect({ ...base, host: target.via.host, port: target.via.port })
          : tls.connect({ ...base, socket: raw });
    } catch (err) {
      reject(classifyConnectError(err, where));
      return;
    }
    const fail = (err: MeshError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(timeoutError(where, target.timeoutMs)), remainingMs);
    timer.unref();
    socket.once('error', (err) => fail(classifyConnectError(err, where)));
    socket.once('secureConnect', () => {
      if (socket.alpnProtocol !== 'h2') {
        fail(new MeshError('HBONE_PEER_REJECTED', `HBONE peer ${where} did not negotiate ALPN h2`));
        return;
      }
      let peerId: string;
      try {
        peerId = target.verifyServer(socket);
      } catch (err) {
        fail(
          new MeshError('HBONE_PEER_REJECTED', `HBONE peer ${where} rejected: ${errorMessage(err)}`, {
            hint: 'the server certificate does not carry the expected mesh identity',
            cause: err,
          }),
        );
        return;
      }
      const session = http2.connect(`https://${where}`, {
        createConnection: () => socket,
        settings: { initialWindowSize: target.streamWindowBytes, enablePush: false },
      });
      session.once('error', (err) => fail(classifyConnectError(err, where)));
      session.once('connect', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        session.setLocalWindowSize(target.connectionWindowBytes);
        resolve({ session, peerId });
      });
    });
  });
}
