/**
 * A TCP listener that pipes each connection to a Unix socket. Unix sockets cross network
 * namespaces and TCP does not, so the lab runs one of these inside a namespace to reach the API
 * server's socket on the host filesystem. Streams are piped (back-pressure holds), a FIN on
 * either side is passed on as a FIN (half-close), and a failing connection is logged and torn
 * down without touching the others.
 */
import net from 'node:net';

import { errorMessage, MeshError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';

/** How long {@link Forwarder.stop} waits for open connections by default. */
export const DEFAULT_STOP_DEADLINE_MS = 5_000;

/** Options of {@link startForwarder}. */
export interface ForwarderOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The Unix socket every connection is piped to. */
  readonly socketPath: string;
  readonly logger?: Logger;
}

/** A running forwarder. */
export interface Forwarder {
  readonly port: number;
  /**
   * Stops accepting, lets open connections finish for up to `deadlineMs` (default
   * {@link DEFAULT_STOP_DEADLINE_MS}), then destroys the rest.
   */
  stop(opts?: { deadlineMs?: number }): Promise<void>;
}

/** Starts listening on `host:port`; resolves once the listener is bound. */
export async function startForwarder(opts: ForwarderOptions): Promise<Forwarder> {
  const log = (opts.logger ?? silentLogger).child({ component: 'forward', to: opts.socketPath });
  const live = new Set<net.Socket>();
  let nextId = 0;
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const id = ++nextId;
    const upstream = net.createConnection({ path: opts.socketPath, allowHalfOpen: true });
    live.add(client);
    live.add(upstream);
    const peer = `${client.remoteAddress ?? '?'}:${client.remotePort ?? 0}`;
    let failed = false;
    const fail = (side: string) => (err: Error) => {
      if (!failed) log.warn('connection failed', { id, peer, side, error: err.message });
      failed = true;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', fail('client'));
    upstream.on('error', fail('upstream'));
    // pipe() ends the destination when the source ends: that is the half-close.
    client.pipe(upstream);
    upstream.pipe(client);
    let closed = 0;
    const onClose = (socket: net.Socket) => () => {
      live.delete(socket);
      // A side that went away without its FIN (reset) takes the other side with it.
      if (!socket.readableEnded) (socket === client ? upstream : client).destroy();
      if (++closed === 2)
        log.debug('connection closed', { id, peer, in: client.bytesRead, out: client.bytesWritten });
    };
    client.once('close', onClose(client));
    upstream.once('close', onClose(upstream));
  });
  server.on('error', (err) => log.error('listener error', { error: err.message }));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.host, port: opts.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw new MeshError(
      'FORWARD_LISTEN',
      `cannot listen on ${opts.host}:${opts.port}: ${errorMessage(err)}`,
      {
        hint: 'is the address configured in this network namespace, and the port free?',
        cause: err,
      },
    );
  }
  const port = (server.address() as net.AddressInfo).port;
  log.info('forwarding', { host: opts.host, port });
  return {
    port,
    async stop(stopOpts = {}): Promise<void> {
      const deadlineMs = stopOpts.deadlineMs ?? DEFAULT_STOP_DEADLINE_MS;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), deadlineMs);
      });
      const outcome = await Promise.race([closed.then(() => 'drained' as const), deadline]);
      clearTimeout(timer);
      if (outcome === 'deadline') {
        log.warn('stop deadline reached; closing open connections', { open: live.size, deadlineMs });
        for (const socket of live) socket.destroy();
        await closed;
      }
      log.info('forwarder stopped');
    },
  };
}
