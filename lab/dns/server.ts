/**
 * The cluster DNS server: UDP and TCP (RFC 1035 §4.2; TCP messages are length-prefixed and a
 * connection may carry several queries, RFC 7766) on one address, answering from whatever zone
 * `zone()` returns at the time of each query. A thin shell around {@link handleQuery}.
 */
import dgram from 'node:dgram';
import net from 'node:net';

import { errorMessage, MeshError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import { handleQuery, type Transport } from './query.ts';
import type { Zone } from './zone.ts';

/** A TCP connection idle this long is closed (RFC 7766 §6.2.3 suggests seconds, not minutes). */
const TCP_IDLE_MS = 10_000;

/** Options of {@link startDnsServer}. */
export interface DnsServerOptions {
  readonly host: string;
  /** 0 picks a free port (the same for UDP and TCP). */
  readonly port: number;
  /** The current zone, or `undefined` before the first sync (answers SERVFAIL). */
  readonly zone: () => Zone | undefined;
  readonly logger?: Logger;
}

/** A running DNS server. */
export interface DnsServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts serving; resolves once both the UDP socket and the TCP listener are bound. */
export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const log = (opts.logger ?? silentLogger).child({ component: 'dns' });
  const serve = (request: Uint8Array, transport: Transport, peer: string): Uint8Array | undefined => {
    const { response, summary } = handleQuery(opts.zone(), request, transport);
    log.debug('query', { transport, peer, ...summary });
    return response;
  };
  const tcp = net.createServer((socket) => serveTcp(socket, serve, log));
  const connections = new Set<net.Socket>();
  tcp.on('connection', (socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  await listen(tcp, opts.host, opts.port);
  const port = (tcp.address() as net.AddressInfo).port;
  const family = net.isIPv6(opts.host) ? 'udp6' : 'udp4';
  const udp = dgram.createSocket(family);
  udp.on('message', (msg, rinfo) => {
    const peer = `${rinfo.address}:${rinfo.port}`;
    const response = serve(msg, 'udp', peer);
    if (response === undefined) return;
    udp.send(response, rinfo.port, rinfo.address, (err) => {
      if (err) log.warn('cannot send UDP response', { peer, error: err.message });
    });
  });
  udp.on('error', (err) => log.error('UDP socket error', { error: err.message }));
  try {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, opts.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    tcp.close();
    throw new MeshError('DNS_LISTEN', `cannot bind UDP ${opts.host}:${port}: ${errorMessage(err)}`, {
      hint: 'is another DNS server already using this address?',
      cause: err,
    });
  }
  log.info('DNS server listening', { host: opts.host, port });
  return {
    port,
    async stop(): Promise<void> {
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const socket of connections) socket.destroy();
      await Promise.all([closed, new Promise<void>((resolve) => udp.close(() => resolve()))]);
      log.info('DNS server stopped');
    },
  };
}

async function listen(server: net.Server, host: string, port: number): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw new MeshError('DNS_LISTEN', `cannot listen on TCP ${host}:${port}: ${errorMessage(err)}`, {
      hint: 'is the address configured in this network namespace, and the port free?',
      cause: err,
    });
  }
}

function serveTcp(
  socket: net.Socket,
  serve: (request: Uint8Array, transport: Transport, peer: string) => Uint8Array | undefined,
  log: Logger,
): void {
  const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
  let pending: Buffer = Buffer.alloc(0);
  socket.setTimeout(TCP_IDLE_MS, () => socket.end());
  socket.on('error', (err) => log.debug('TCP connection error', { peer, error: err.message }));
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (pending.length < 2 + length) break;
      const request = pending.subarray(2, 2 + length);
      pending = pending.subarray(2 + length);
      const response = serve(request, 'tcp', peer);
      if (response === undefined) {
        // A request not worth answering over UDP is not worth keeping the connection for.
        socket.destroy();
        return;
      }
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(response.length);
      socket.write(Buffer.concat([prefix, response]));
    }
  });
}
