/**
 * The facts echo reports about an HTTP request: who served it, what arrived and from whom.
 * `requestFacts` reads them off a Node request (HTTP/1.1 or the HTTP/2 compat API); the rest
 * are pure helpers.
 */
import type http from 'node:http';
import type http2 from 'node:http2';
import type { PeerCertificate } from 'node:tls';

/** An HTTP/1.1 or HTTP/2 request as Node's servers hand it over. */
export type EchoHttpRequest = http.IncomingMessage | http2.Http2ServerRequest;

/** The JSON body echo answers with. */
export interface EchoFacts {
  readonly pod: string;
  readonly namespace: string;
  /** Host header (HTTP/1.1) or :authority (HTTP/2). */
  readonly host: string;
  /** Raw request target, query included. */
  readonly path: string;
  readonly method: string;
  readonly proto: string;
  /** Lower-case name → values in arrival order; HTTP/2 pseudo-headers left out. */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  /** Client address as ip:port (IPv6 in brackets). */
  readonly remoteAddr: string;
  /** Local port the request was served on. */
  readonly port: number;
  /** Request body as text, at most {@link MAX_BODY_BYTES}. */
  readonly body: string;
  /** The client certificate's `spiffe://` URI SAN when echo serves TLS and the cert verifies. */
  readonly peerSpiffeId: string | null;
  /** TLS details, or null on cleartext ports. */
  readonly tls: { readonly alpnProtocol: string | null; readonly peerAuthorized: boolean } | null;
}

/** Who this echo is. */
export interface EchoIdentity {
  readonly pod: string;
  readonly namespace: string;
}

/** Request bodies longer than this are truncated in the `body` fact. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Folds Node's flat `rawHeaders` into lower-case name → values, dropping pseudo-headers. */
export function headerValues(rawHeaders: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    if (name.startsWith(':')) continue;
    (out[name] ??= []).push(rawHeaders[i + 1] ?? '');
  }
  return out;
}

/**
 * The first `spiffe://` URI in a certificate's `subjectaltname` string, e.g.
 * `DNS:a, URI:spiffe://td/ns/x/sa/y`. Node quotes values containing separators as JSON strings.
 */
export function spiffeIdFromSan(san: string | undefined): string | null {
  if (san === undefined) return null;
  for (const match of san.matchAll(/URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    let uri = match[1] ?? '';
    if (uri.startsWith('"')) {
      try {
        uri = String(JSON.parse(uri));
      } catch {
        continue;
      }
    }
    if (uri.startsWith('spiffe://')) return uri;
  }
  return null;
}

/** `ip:port`, with IPv6 addresses in brackets as in a URL authority and IPv4-mapped ones unmapped. */
export function formatAddress(ip: string | undefined, port: number | undefined): string {
  // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; report the address they used.
  const plain = ip?.startsWith('::ffff:') === true && ip.includes('.') ? ip.slice('::ffff:'.length) : ip;
  const host = plain === undefined ? '' : plain.includes(':') ? `[${plain}]` : plain;
  return `${host}:${port ?? 0}`;
}

/**
 * Serialises `facts`, adding a `padding` field when needed so the result is at least `minSize`
 * bytes. The padding is ASCII, so its length in bytes equals its length in characters.
 */
export function renderFacts(facts: object, minSize: number): string {
  const plain = JSON.stringify(facts) + '\n';
  const length = Buffer.byteLength(plain);
  if (length >= minSize) return plain;
  const overhead = ',"padding":""'.length;
  const padding = 'x'.repeat(Math.max(0, minSize - length - overhead));
  return JSON.stringify({ ...facts, padding }) + '\n';
}

interface MaybeTlsSocket {
  readonly encrypted?: boolean;
  readonly authorized?: boolean;
  readonly alpnProtocol?: string | false | null;
  getPeerCertificate?(detailed?: boolean): PeerCertificate | Record<string, never>;
}

function tlsFacts(socket: MaybeTlsSocket): Pick<EchoFacts, 'peerSpiffeId' | 'tls'> {
  if (socket.encrypted !== true || typeof socket.getPeerCertificate !== 'function') {
    return { peerSpiffeId: null, tls: null };
  }
  const authorized = socket.authorized === true;
  const cert = socket.getPeerCertificate();
  const san = 'subjectaltname' in cert ? cert.subjectaltname : undefined;
  return {
    // An unverified certificate proves nothing, so only a verified one names the peer.
    peerSpiffeId: authorized ? spiffeIdFromSan(san) : null,
    tls: {
      alpnProtocol: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
      peerAuthorized: authorized,
    },
  };
}

/** Collects the facts of `req`, whose body has already been read into `body`. */
export function requestFacts(req: EchoHttpRequest, body: string, identity: EchoIdentity): EchoFacts {
  // For HTTP/2 the compat API's `socket` is a proxy onto the session's socket; reads are fine.
  const socket = req.socket;
  const authority = req.headers[':authority'];
  return {
    pod: identity.pod,
    namespace: identity.namespace,
    host: typeof authority === 'string' ? authority : (req.headers.host ?? ''),
    path: req.url ?? '',
    method: req.method ?? '',
    proto: `HTTP/${req.httpVersion}`,
    headers: headerValues(req.rawHeaders),
    remoteAddr: formatAddress(socket.remoteAddress, socket.remotePort),
    port: socket.localPort ?? 0,
    body,
    ...tlsFacts(socket as MaybeTlsSocket),
  };
}
